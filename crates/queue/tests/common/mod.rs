//! Shared fixtures for the queue tests: a Redis (single or cluster), a queue with a unique
//! name, jobs, and an apalis worker whose handler records what it was given; `wait`: waiting
//! on what a test can observe.
#![allow(dead_code, unused_macros)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apalis::prelude::*;
use mailroom_jobs::{EmailJob, JobId};
use mailroom_queue::{Lease, Queue, QueueConfig, RedisBackend};
use mailroom_testkit::{RedisCluster, RedisSentinel, RedisServer};

mod wait;

// Each test file uses some of them.
#[allow(unused_imports)]
pub use wait::{eventually, status_when, wait_for_blocked_read, wait_until_past};

/// A running Redis of either shape; dropping it stops it.
pub enum Redis {
    Single(RedisServer),
    Cluster(RedisCluster),
    /// A primary, its replica and three Sentinels; the queue connects through the Sentinels.
    Sentinel(RedisSentinel),
}

impl Redis {
    /// A single server with an append-only file, so that a restart keeps its data.
    pub fn durable() -> Self {
        Redis::Single(RedisServer::start_with(mailroom_testkit::RedisOptions {
            appendonly: true,
            ..Default::default()
        }))
    }

    pub fn url(&self) -> String {
        match self {
            Self::Single(s) => s.url(),
            Self::Cluster(c) => c.url(),
            Self::Sentinel(s) => s.url(),
        }
    }

    pub fn server_ref(&self) -> &RedisServer {
        match self {
            Self::Single(s) => s,
            _ => panic!("not a single server"),
        }
    }

    pub fn server(&mut self) -> &mut RedisServer {
        match self {
            Self::Single(s) => s,
            _ => panic!("not a single server"),
        }
    }

    /// The fixture behind a Sentinel setup.
    pub fn sentinel(&mut self) -> &mut RedisSentinel {
        match self {
            Self::Sentinel(s) => s,
            _ => panic!("not a sentinel setup"),
        }
    }

    /// The URL of every server: the one, or each cluster node.
    pub fn node_urls(&self) -> Vec<String> {
        match self {
            Self::Single(s) => vec![s.url()],
            Self::Cluster(c) => c.urls(),
            Self::Sentinel(_) => vec![self.url()],
        }
    }
}

static QUEUES: AtomicU32 = AtomicU32::new(0);

/// Test config: short lease, fast ticks; a unique queue name per call.
pub fn config() -> QueueConfig {
    QueueConfig {
        name: format!("t{}", QUEUES.fetch_add(1, Ordering::Relaxed)),
        lease: Duration::from_secs(2),
        block: Duration::from_millis(500),
        ..QueueConfig::default()
    }
}

pub async fn queue(redis: &Redis, config: QueueConfig) -> Queue {
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .try_init();
    Queue::connect(&redis.url(), config).await.expect("connect")
}

/// A valid job to `to`, with optional extra JSON fields merged in.
pub fn job_with(to: &str, extra: serde_json::Value) -> EmailJob {
    let mut v = serde_json::json!({
        "version": "v1",
        "from": "Notifications <noreply@example.com>",
        "to": [to],
        "subject": "Hello",
        "text": "Hello there",
    });
    if let (Some(obj), Some(more)) = (v.as_object_mut(), extra.as_object()) {
        for (k, val) in more {
            obj.insert(k.clone(), val.clone());
        }
    }
    EmailJob::from_json(v.to_string().as_bytes()).expect("valid job")
}

pub fn job(to: &str) -> EmailJob {
    job_with(to, serde_json::json!({}))
}

/// Enqueues `j`, has a worker send it, and checks that it is recorded as sent.
pub async fn send_one(q: &Queue, j: &EmailJob) {
    q.enqueue(j).await.unwrap();
    let w = TestWorker::start(q, "w", Behaviour::Send).await;
    w.seen.wait_for(1, Duration::from_secs(10)).await;
    w.stop().await;
    assert_eq!(
        q.status(j.id()).await.unwrap().unwrap().state,
        mailroom_queue::JobState::Sent
    );
}

/// What the test handler does with a delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Record it as sent.
    Send,
    /// Drop the lease without an outcome, as a crashed worker would.
    Vanish,
    /// Retry once, 1.5 s later, then send.
    RetryOnceThenSend,
    /// Take this many milliseconds, then send.
    Slow(u64),
    /// Hand the lease to the test (`TestWorker::kept`) without an outcome.
    Keep,
    /// Record it as sent with ids shaped like Gmail's (16 hex digits; the thread id is the
    /// message id, as for a new thread).
    SendLikeGmail,
}

/// Leases handed to the test by `Behaviour::Keep`.
#[derive(Clone, Default)]
pub struct Kept(pub Arc<Mutex<Vec<Lease>>>);

/// One delivery a test worker saw: (job id, recipient, attempts, deliveries, when).
pub type Delivery = (JobId, String, u32, u32, std::time::Instant);

/// The deliveries a test worker saw.
#[derive(Clone, Default)]
pub struct Seen(pub Arc<Mutex<Vec<Delivery>>>);

impl Seen {
    pub fn ids(&self) -> Vec<JobId> {
        self.0.lock().unwrap().iter().map(|s| s.0).collect()
    }
    pub fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    pub async fn wait_for(&self, n: usize, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while self.len() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "saw {} deliveries, wanted {n}",
                self.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[derive(Clone)]
struct Ctx {
    seen: Seen,
    kept: Kept,
    behaviour: Behaviour,
}

async fn handle(job: Box<EmailJob>, lease: Lease, ctx: Data<Ctx>) -> Result<(), BoxDynError> {
    let to = job
        .v1()
        .to
        .first()
        .map(ToString::to_string)
        .unwrap_or_default();
    ctx.seen.0.lock().unwrap().push((
        lease.job_id(),
        to,
        lease.attempts(),
        lease.deliveries(),
        std::time::Instant::now(),
    ));
    match ctx.behaviour {
        Behaviour::Send => {
            let id = format!("msg-{}", lease.job_id());
            lease.sent(Some(&id), None).await?;
        }
        Behaviour::SendLikeGmail => {
            let id = format!("{:016x}", lease.job_id().ulid().0 as u64);
            lease.sent(Some(&id), Some(&id)).await?;
        }
        Behaviour::Vanish => drop(lease),
        Behaviour::Keep => ctx.kept.0.lock().unwrap().push(lease),
        Behaviour::RetryOnceThenSend if lease.attempts() == 0 => {
            let at = chrono::Utc::now() + chrono::Duration::milliseconds(1500);
            lease.retry_at(at, "transient: try later", true).await?;
        }
        Behaviour::RetryOnceThenSend => lease.sent(Some("msg"), None).await?,
        Behaviour::Slow(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            lease.sent(Some("msg"), None).await?;
        }
    }
    Ok(())
}

/// A worker running in the background until `stop` is called.
pub struct TestWorker {
    pub seen: Seen,
    pub kept: Kept,
    pub consumer: String,
    /// What the worker holds.
    pub tracker: mailroom_queue::Tracker,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: tokio::task::JoinHandle<()>,
}

impl TestWorker {
    pub async fn start(queue: &Queue, name: &str, behaviour: Behaviour) -> Self {
        Self::start_with(queue, name, behaviour, 16).await
    }

    pub async fn start_with(
        queue: &Queue,
        name: &str,
        behaviour: Behaviour,
        concurrency: usize,
    ) -> Self {
        let backend = RedisBackend::new(queue.clone(), name)
            .await
            .expect("backend");
        Self::start_on(backend, name, behaviour, concurrency)
    }

    /// A worker whose jobs held at once fit in `max_held_bytes`.
    pub async fn start_budgeted(
        queue: &Queue,
        name: &str,
        behaviour: Behaviour,
        max_held_bytes: usize,
    ) -> Self {
        let backend = RedisBackend::new(queue.clone(), name)
            .await
            .expect("backend")
            .max_held_bytes(max_held_bytes);
        Self::start_on(backend, name, behaviour, 16)
    }

    pub fn start_on(
        backend: RedisBackend,
        name: &str,
        behaviour: Behaviour,
        concurrency: usize,
    ) -> Self {
        let seen = Seen::default();
        let kept = Kept::default();
        let consumer = backend.consumer().to_owned();
        let tracker = backend.tracker();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let worker = WorkerBuilder::new(name)
            .backend(backend)
            .concurrency(concurrency)
            .data(Ctx {
                seen: seen.clone(),
                kept: kept.clone(),
                behaviour,
            })
            .build(handle);
        let handle = tokio::spawn(async move {
            worker
                .run_until(async move {
                    let _ = rx.await;
                    Ok::<(), std::io::Error>(())
                })
                .await
                .expect("worker ran");
        });
        Self {
            seen,
            kept,
            consumer,
            tracker,
            stop: Some(tx),
            handle,
        }
    }

    /// Stops cleanly: no new fetches, in-flight jobs finish, held jobs go back.
    pub async fn stop(mut self) -> Seen {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), &mut self.handle)
            .await
            .expect("worker stopped in time")
            .expect("worker task");
        self.seen.clone()
    }

    /// Stops abruptly, like a killed process: nothing is handed back or deregistered.
    pub fn crash(self) {
        self.handle.abort();
    }
}

/// Runs each scenario `async fn NAME(redis: Redis)` twice: `NAME::single` on one redis-server,
/// `NAME::cluster` on a three-node Redis Cluster.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn single() {
                super::$name(super::Redis::Single(super::RedisServer::start())).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn cluster() {
                super::$name(super::Redis::Cluster(super::RedisCluster::start())).await;
            }
        }
    )*};
}

/// How many deliveries of `q`'s ready stream are not acknowledged yet (`XPENDING`'s summary:
/// the count first, then the range and the consumers).
pub async fn pending_count(c: &mut mailroom_queue::Conn, q: &Queue) -> u64 {
    let summary: Vec<redis::Value> = redis::cmd("XPENDING")
        .arg(format!("{{{}}}:v2:ready", q.config().name))
        .arg("workers")
        .query_async(c)
        .await
        .unwrap();
    redis::from_redis_value_ref(&summary[0]).unwrap()
}

/// `enqueue.lua` run exactly as `crates/queue/README.md` tells a service in another language
/// to: the queue's four keys, then `{NAME}`, now, the dedup TTL and six arguments per job, of
/// which `jobs` gives the id and the payload argument (the payload, or `@staged:TOKEN`).
/// Redis's answer: per job its id and 1 for a duplicate, else 0.
pub async fn enqueue_by_hand(
    redis: &Redis,
    q: &Queue,
    jobs: &[(String, Vec<u8>)],
) -> redis::RedisResult<Vec<(String, i64)>> {
    let script = redis::Script::new(include_str!("../../src/lua/enqueue.lua"));
    let mut call = script.prepare_invoke();
    for key in ["v2:ready", "scheduled", "dead", "workers"] {
        call.key(q.key(key));
    }
    call.arg(format!("{{{}}}", q.config().name))
        .arg(chrono::Utc::now().timestamp_millis())
        .arg(86_400);
    for (id, payload) in jobs {
        call.arg(id)
            .arg("")
            .arg(payload)
            .arg(0)
            .arg(0)
            .arg(r#"{"metadata":{},"tags":[]}"#);
    }
    call.invoke_async(&mut redis_conn(redis).await).await
}

/// A plain connection to the test's Redis, for poking at keys directly.
pub async fn redis_conn(redis: &Redis) -> mailroom_queue::Conn {
    let target = mailroom_queue::RedisTarget::parse(&redis.url()).unwrap();
    mailroom_queue::Conn::open(&target, None, Duration::from_secs(5))
        .await
        .unwrap()
}
