//! What every measurement shares: one redis-server, the lean Gmail, the job every contender
//! sends (and a backlog of it in a queue), and where the binaries are.

use std::path::PathBuf;

use mailroom_jobs::EmailJob;
use mailroom_queue::Queue;
use mailroom_testkit::RedisServer;
use mailroom_testkit::google::{FakeGoogle, GMAIL_SEND_SCOPE, ServiceAccount};

/// The sender every end-to-end job comes from.
pub const SENDER: &str = "noreply@example.com";

pub struct World {
    pub redis: RedisServer,
    /// The redis-server's process id, to read its CPU time from /proc.
    redis_pid: u32,
    /// The fake Google that registered the service account; it must outlive the run.
    _google: FakeGoogle,
    /// The lean Gmail the end-to-end contenders send to.
    pub sink: crate::sink::Sink,
    pub account: ServiceAccount,
    /// Directory of this binary, where `make bench` puts `mailroom` and the floor too.
    pub bin_dir: PathBuf,
    /// A temporary directory for key files and job files.
    pub dir: tempfile::TempDir,
}

impl World {
    pub fn start() -> Self {
        let redis = RedisServer::start();
        let redis_pid = server_pid(&redis);
        // The fake Google issues the service account's key; the sends go to the sink.
        let google = FakeGoogle::start();
        let account = google.service_account("mailer@bench-project.iam.gserviceaccount.com");
        google.grant_delegation(&account.client_id, &[GMAIL_SEND_SCOPE]);
        google.add_domain_user(SENDER);
        let bin_dir = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(PathBuf::from))
            .unwrap_or_default();
        Self {
            redis,
            redis_pid,
            sink: crate::sink::Sink::start(),
            _google: google,
            account,
            bin_dir,
            dir: tempfile::tempdir().expect("temporary directory"),
        }
    }

    pub fn url(&self) -> String {
        self.redis.url()
    }

    /// The redis-server's user plus system CPU time so far, in milliseconds.
    pub fn redis_cpu_ms(&self) -> u64 {
        mailroom_bench::usage(&self.redis_pid.to_string()).1
    }

    /// A binary built beside this one.
    pub fn binary(&self, name: &str) -> Option<PathBuf> {
        let path = self.bin_dir.join(name);
        path.exists().then_some(path)
    }

    /// A connection to the Redis of the run.
    pub async fn conn(&self) -> redis::aio::MultiplexedConnection {
        self.redis
            .client()
            .get_multiplexed_async_connection()
            .await
            .expect("connect to redis")
    }

    /// Deletes every key (freed in the background, waited for), so the next measurement
    /// starts from an empty Redis.
    pub async fn flush(&self) {
        let mut conn = self.conn().await;
        let _: () = redis::cmd("FLUSHALL")
            .arg("ASYNC")
            .query_async(&mut conn)
            .await
            .expect("FLUSHALL");
        // Let the background free finish, so that its CPU time is not charged to the next
        // measurement.
        loop {
            let info: String = redis::cmd("INFO")
                .arg("memory")
                .query_async(&mut conn)
                .await
                .expect("INFO memory");
            let pending = info
                .lines()
                .find_map(|line| line.strip_prefix("lazyfree_pending_objects:"))
                .and_then(|n| n.trim().parse::<u64>().ok())
                .unwrap_or(0);
            if pending == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// The `process_id` the server reports in `INFO server`.
fn server_pid(redis: &RedisServer) -> u32 {
    let mut conn = redis.client().get_connection().expect("connect to redis");
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query(&mut conn)
        .expect("INFO server");
    info.lines()
        .find_map(|line| line.strip_prefix("process_id:"))
        .and_then(|pid| pid.trim().parse().ok())
        .expect("INFO server names the process id")
}

/// Job `i` as JSON: a shipping notification of about 1 KB, text and HTML.
pub fn job_json(i: usize) -> serde_json::Value {
    serde_json::json!({
        "version": "v1",
        "from": format!("Notifications <{SENDER}>"),
        "to": [format!("Customer {i} <customer{i}@example.org>")],
        "subject": format!("Your order #{i} has shipped"),
        "text": "Hello,\n\nyour order is on its way. It left our warehouse this morning and \
                 should reach you within two to three working days. You can follow the parcel \
                 in your account at any time.\n\nThanks for shopping with us,\nThe shop\n",
        "html": "<p>Hello,</p><p>your order is on its way. It left our warehouse this morning \
                 and should reach you within two to three working days. You can follow the \
                 parcel in <a href=\"https://shop.example.com/account\">your account</a> at any \
                 time.</p><p>Thanks for shopping with us,<br>The shop</p>",
        "tags": ["shipping"],
        "metadata": {"order": i.to_string()},
    })
}

pub fn job(i: usize) -> EmailJob {
    EmailJob::from_json(job_json(i).to_string().as_bytes()).expect("a valid job")
}

/// Fills `queue` with `n` jobs due now, in batches.
pub async fn fill(queue: &Queue, n: usize) {
    const BATCH: usize = 1_000;
    for start in (0..n).step_by(BATCH) {
        let jobs: Vec<EmailJob> = (start..(start + BATCH).min(n)).map(job).collect();
        queue.enqueue_many(&jobs).await.expect("enqueue_many");
    }
}
