//! The HTTP API (`mailroom api`) beside `Client::send_many` in the same run: single-job
//! `POST /v1/messages` from 64 concurrent clients over keep-alive connections, and
//! `POST /v1/messages/batch` with 1,000 jobs a request, each as a share of `send_many`'s rate.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mailroom_enqueue::{Client, QueueConfig};

use crate::report::{Table, thousands};
use crate::world::{World, job, job_json};

/// Jobs of the single-job run.
const SINGLE: usize = 20_000;
/// Concurrent HTTP clients of the single-job run.
const CLIENTS: usize = 64;
/// Jobs of each batched run.
const BATCHED: usize = 100_000;
/// Jobs per batch.
const BATCH: usize = 1_000;
/// The queue of this section.
const QUEUE: &str = "bench-api";

/// Jobs per second.
fn rate(jobs: usize, took: Duration) -> f64 {
    jobs as f64 / took.as_secs_f64().max(1e-9)
}

/// A running `mailroom api`, ended when dropped.
struct ApiProcess(Child);

impl Drop for ApiProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `mailroom api` on a free port with one `send` key; returns it, its base URL and the
/// key's secret.
fn start(world: &World) -> (ApiProcess, String, String) {
    let binary = world
        .binary("mailroom")
        .expect("the mailroom binary beside mailroom-bench (make bench builds it)");
    let out = Command::new(&binary)
        .args(["api", "new-key", "bench", "--scopes", "send"])
        .env("MAILROOM__LOG__LEVEL", "warn")
        .output()
        .expect("mailroom api new-key");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .trim()
            .to_owned()
    };
    let keys = world.dir.path().join("api-keys");
    std::fs::write(&keys, field("line:") + "\n").expect("write the key file");
    std::fs::set_permissions(&keys, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod 600");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(&binary)
        .arg("api")
        .env("MAILROOM__REDIS__URL", world.url())
        .env("MAILROOM__QUEUE__NAME", QUEUE)
        .env("MAILROOM__LOG__LEVEL", "warn")
        .env("MAILROOM__HTTP__LISTEN", "off")
        .env("MAILROOM__API__LISTEN", format!("127.0.0.1:{port}"))
        .env("MAILROOM__API__KEYS_FILE", &keys)
        .stdout(Stdio::null())
        .spawn()
        .expect("start mailroom api");
    (
        ApiProcess(child),
        format!("http://127.0.0.1:{port}"),
        field("secret:"),
    )
}

/// Waits until the API answers `/readyz`.
async fn ready(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ok = http.get(format!("{base}/readyz")).send().await;
        if ok.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        assert!(Instant::now() < deadline, "mailroom api did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `send_many` in batches of [`BATCH`]: the baseline of this section.
async fn send_many(world: &World) -> Duration {
    let client = Client::connect_with(&world.url(), QueueConfig::named(QUEUE), Default::default())
        .await
        .expect("connect the enqueue client");
    let batches: Vec<Vec<_>> = (0..BATCHED / BATCH)
        .map(|b| (b * BATCH..(b + 1) * BATCH).map(job).collect())
        .collect();
    let start = Instant::now();
    for batch in batches {
        client.send_many(batch).await.expect("send_many");
    }
    start.elapsed()
}

/// [`SINGLE`] single-job POSTs from [`CLIENTS`] tasks sharing one keep-alive pool.
async fn single(http: &reqwest::Client, base: &str, key: &str) -> Duration {
    let bodies: Vec<Vec<Vec<u8>>> = (0..CLIENTS)
        .map(|c| {
            (0..SINGLE / CLIENTS)
                .map(|i| job_json(c * SINGLE + i).to_string().into_bytes())
                .collect()
        })
        .collect();
    let url = format!("{base}/v1/messages");
    let start = Instant::now();
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|bodies| {
            let (http, url, key) = (http.clone(), url.clone(), key.to_owned());
            tokio::spawn(async move {
                for body in bodies {
                    let answer = http
                        .post(&url)
                        .bearer_auth(&key)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .expect("POST /v1/messages");
                    assert_eq!(answer.status().as_u16(), 202, "POST /v1/messages");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("client task");
    }
    start.elapsed()
}

/// [`BATCHED`] jobs as POSTs of [`BATCH`], one after the other.
async fn batched(http: &reqwest::Client, base: &str, key: &str) -> Duration {
    let bodies: Vec<Vec<u8>> = (0..BATCHED / BATCH)
        .map(|b| {
            let jobs: Vec<_> = (b * BATCH..(b + 1) * BATCH)
                .map(|i| job_json(BATCHED + i))
                .collect();
            serde_json::json!({ "jobs": jobs }).to_string().into_bytes()
        })
        .collect();
    let url = format!("{base}/v1/messages/batch");
    let start = Instant::now();
    for body in bodies {
        let answer = http
            .post(&url)
            .bearer_auth(key)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST /v1/messages/batch");
        assert_eq!(answer.status().as_u16(), 202, "POST /v1/messages/batch");
    }
    start.elapsed()
}

/// The median of `durations` (at least one).
fn median(durations: &[Duration]) -> Duration {
    Duration::from_secs_f64(crate::contenders::median(
        durations.iter().map(Duration::as_secs_f64).collect(),
    ))
}

/// The section's table: each row the median of `rounds` rounds, run interleaved (each round
/// runs `send_many`, then the single POSTs, then the batches), so that a busy stretch of a
/// shared machine weighs on the baseline and the API alike.
pub async fn throughput(world: &World, rounds: usize) -> Table {
    let mut table = Table::new(&["what", "jobs", "seconds", "jobs/s", "of `send_many`"]);
    let (_api, base, key) = start(world);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(CLIENTS)
        .build()
        .expect("an HTTP client");
    ready(&http, &base).await;
    let (mut baselines, mut singles, mut batches) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds.max(1) {
        baselines.push(send_many(world).await);
        world.flush().await;
        singles.push(single(&http, &base, &key).await);
        world.flush().await;
        batches.push(batched(&http, &base, &key).await);
        world.flush().await;
    }
    let baseline = median(&baselines);
    let base_rate = rate(BATCHED, baseline);
    let rows = [
        (
            format!("`Client::send_many`, batches of {BATCH}"),
            BATCHED,
            baseline,
        ),
        (
            format!("`POST /v1/messages`, {CLIENTS} concurrent keep-alive clients"),
            SINGLE,
            median(&singles),
        ),
        (
            format!("`POST /v1/messages/batch` of {BATCH}"),
            BATCHED,
            median(&batches),
        ),
    ];
    for (what, jobs, took) in rows {
        let r = rate(jobs, took);
        table.row(vec![
            what,
            thousands(jobs as f64),
            format!("{:.2}", took.as_secs_f64()),
            thousands(r),
            format!("{:.0} %", 100.0 * r / base_rate),
        ]);
    }
    table.note(format!(
        "Same Redis, same jobs (about 1 KB each), in one run; each row is the median of \
             {} rounds, run interleaved. Over HTTP every job is also authenticated, parsed from \
             JSON and validated by `mailroom api` (a separate process); the bodies are built \
             before the clock starts. Targets: batches at least 60 % of `send_many`, single \
             jobs at least 25 %.",
        rounds.max(1)
    ));
    table
}
