//! `mailroom-bench-floor`: the floor of mailroom's end-to-end benchmark, a
//! minimal Rust send loop with no job framework.
//!
//! ```text
//! mailroom-bench-floor --redis URL --list KEY --base BASE --token TOKEN --jobs N --concurrency C
//! ```
//!
//! C tokio tasks share one multiplexed Redis connection and one keep-alive
//! HTTP/1.1 client. A task claims one of the N jobs from an atomic counter,
//! takes a job with `LMOVE KEY KEY:processing LEFT RIGHT` (polling every
//! millisecond while the list is empty), builds an RFC 5322 message from it
//! and sends it with Gmail's `users.messages.send` media upload in the form
//! google-gmail1 uses (`POST {BASE}upload/gmail/v1/users/me/messages/send`,
//! `uploadType=multipart`). On a 200 it removes the job from `KEY:processing`
//! with `LREM`. A failed send is retried with exponential backoff (200 ms,
//! doubling, 5 attempts in all, as the BullMQ peer); a job that still fails
//! stays in `KEY:processing`.
//!
//! At the end it prints one JSON line
//! `{"jobs":N,"seconds":S,"max_rss_kb":K,"cpu_ms":C,"retries":R}`: `jobs`
//! counts sent jobs, `seconds` runs from the first LMOVE to the last LREM,
//! `max_rss_kb` is `VmHWM` and `cpu_ms` user plus system time of the process.
//! Exits 1 if a job could not be sent, 2 on a bad command line.
//!
//! The message and upload formatting live in the crate's library
//! (`mailroom_bench`); `bench/bullmq/worker.js` formats them the same way.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, USER_AGENT};
use hyper::{Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mailroom_bench::{Job, UPLOAD_CONTENT_TYPE, message, upload_body, usage};
use redis::aio::MultiplexedConnection;

const USAGE: &str = "usage: mailroom-bench-floor --redis URL --list KEY --base BASE --token TOKEN --jobs N --concurrency C";

/// Attempts per job, the first included.
const ATTEMPTS: u32 = 5;
/// Wait before the first retry; doubled for each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The command line; every option is required.
struct Args {
    redis: String,
    list: String,
    base: String,
    token: String,
    jobs: usize,
    concurrency: usize,
}

impl Args {
    /// Reads `--name value` or `--name=value` pairs.
    fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
        const NAMES: [&str; 6] = [
            "--redis",
            "--list",
            "--base",
            "--token",
            "--jobs",
            "--concurrency",
        ];
        let mut options = HashMap::new();
        while let Some(arg) = argv.next() {
            let (name, value) = match arg.split_once('=') {
                Some((name, value)) => (name.to_owned(), Some(value.to_owned())),
                None => (arg, None),
            };
            if !NAMES.contains(&name.as_str()) {
                return Err(format!("unknown option {name}"));
            }
            let value = value
                .or_else(|| argv.next())
                .ok_or_else(|| format!("{name} needs a value"))?;
            options.insert(name, value);
        }
        let mut take = |name: &str| {
            options
                .remove(name)
                .ok_or_else(|| format!("{name} is required"))
        };
        let count =
            |name: &str, v: String| v.parse().map_err(|_| format!("{name}: not a count: {v}"));
        Ok(Args {
            redis: take("--redis")?,
            list: take("--list")?,
            base: take("--base")?,
            token: take("--token")?,
            jobs: count("--jobs", take("--jobs")?)?,
            concurrency: count("--concurrency", take("--concurrency")?)?.max(1),
        })
    }
}

/// State shared by the tasks.
struct Shared {
    jobs: usize,
    list: String,
    processing: String,
    http: Client<HttpConnector, Full<Bytes>>,
    send_uri: Uri,
    authorization: HeaderValue,
    /// Jobs claimed so far; a task that claims one takes exactly one job.
    claimed: AtomicUsize,
    sent: AtomicUsize,
    failed: AtomicUsize,
    retries: AtomicU64,
    /// Numbers the messages for their Message-IDs and MIME boundaries.
    messages: AtomicU64,
    /// Makes Message-IDs unique across runs: start time and process ID.
    id_suffix: String,
    /// When the first LMOVE was issued.
    started: OnceLock<Instant>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("mailroom-bench-floor: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(args).await {
        Ok(0) => ExitCode::SUCCESS,
        Ok(failed) => {
            eprintln!("mailroom-bench-floor: {failed} jobs could not be sent");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("mailroom-bench-floor: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the tasks, prints the report line and returns the number of jobs
/// that could not be sent.
async fn run(args: Args) -> Result<usize, BoxError> {
    let redis = redis::Client::open(args.redis.as_str())?
        .get_multiplexed_async_connection()
        .await?;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let http = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector);
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH)?;
    let shared = Arc::new(Shared {
        jobs: args.jobs,
        processing: format!("{}:processing", args.list),
        list: args.list,
        http,
        send_uri: format!(
            "{}upload/gmail/v1/users/me/messages/send?alt=json&uploadType=multipart",
            args.base
        )
        .parse()?,
        authorization: HeaderValue::try_from(format!("Bearer {}", args.token))?,
        claimed: AtomicUsize::new(0),
        sent: AtomicUsize::new(0),
        failed: AtomicUsize::new(0),
        retries: AtomicU64::new(0),
        messages: AtomicU64::new(0),
        id_suffix: format!("{:x}.{}", since_epoch.as_micros(), std::process::id()),
        started: OnceLock::new(),
    });
    let tasks: Vec<_> = (0..args.concurrency)
        .map(|_| tokio::spawn(work(Arc::clone(&shared), redis.clone())))
        .collect();
    let mut finished = None;
    for task in tasks {
        finished = finished.max(task.await??);
    }
    let seconds = match (shared.started.get(), finished) {
        (Some(start), Some(end)) => end.duration_since(*start).as_secs_f64(),
        _ => 0.0,
    };
    let (max_rss_kb, cpu_ms) = usage("self");
    println!(
        "{{\"jobs\":{},\"seconds\":{seconds},\"max_rss_kb\":{max_rss_kb},\"cpu_ms\":{cpu_ms},\"retries\":{}}}",
        shared.sent.load(Relaxed),
        shared.retries.load(Relaxed),
    );
    Ok(shared.failed.load(Relaxed))
}

/// One task's loop; returns when its last LREM completed, if it sent any.
async fn work(
    shared: Arc<Shared>,
    mut redis: MultiplexedConnection,
) -> Result<Option<Instant>, BoxError> {
    let mut last = None;
    while shared.claimed.fetch_add(1, Relaxed) < shared.jobs {
        let payload = take(&shared, &mut redis).await?;
        match deliver(&shared, &payload).await {
            Ok(()) => {
                redis::cmd("LREM")
                    .arg(&shared.processing)
                    .arg(1)
                    .arg(&payload)
                    .query_async::<i64>(&mut redis)
                    .await?;
                last = Some(Instant::now());
                shared.sent.fetch_add(1, Relaxed);
            }
            Err(error) => {
                eprintln!("mailroom-bench-floor: job not sent: {error}");
                shared.failed.fetch_add(1, Relaxed);
            }
        }
    }
    Ok(last)
}

/// Moves the next job to `KEY:processing`, waiting while the list is empty.
async fn take(shared: &Shared, redis: &mut MultiplexedConnection) -> Result<Vec<u8>, BoxError> {
    loop {
        shared.started.get_or_init(Instant::now);
        let moved: Option<Vec<u8>> = redis::cmd("LMOVE")
            .arg(&shared.list)
            .arg(&shared.processing)
            .arg("LEFT")
            .arg("RIGHT")
            .query_async(redis)
            .await?;
        match moved {
            Some(payload) => return Ok(payload),
            None => tokio::time::sleep(Duration::from_millis(1)).await,
        }
    }
}

/// Builds the message and sends it, retrying failed attempts.
async fn deliver(shared: &Shared, payload: &[u8]) -> Result<(), String> {
    let job: Job = serde_json::from_slice(payload).map_err(|e| format!("not a job: {e}"))?;
    let n = shared.messages.fetch_add(1, Relaxed);
    let unique = format!("{n}.{}", shared.id_suffix);
    let body = Bytes::from(upload_body(&message(&job, &unique)?));
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match post(shared, body.clone()).await {
            Ok(()) => return Ok(()),
            Err(error) if attempt == ATTEMPTS => return Err(error),
            Err(_) => {
                shared.retries.fetch_add(1, Relaxed);
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                attempt += 1;
            }
        }
    }
}

/// One `users.messages.send` call; `Ok` on a 200 whose JSON has an `id`.
async fn post(shared: &Shared, body: Bytes) -> Result<(), String> {
    let request = Request::post(shared.send_uri.clone())
        .header(AUTHORIZATION, shared.authorization.clone())
        .header(USER_AGENT, "mailroom-bench-floor")
        .header(CONTENT_TYPE, HeaderValue::from_static(UPLOAD_CONTENT_TYPE))
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    let response = shared
        .http
        .request(request)
        .await
        .map_err(|e| format!("{e:?}"))?;
    let status = response.status();
    let answer = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    if status != StatusCode::OK {
        return Err(format!("{status}: {}", String::from_utf8_lossy(&answer)));
    }
    let sent: serde_json::Value = serde_json::from_slice(&answer).map_err(|e| e.to_string())?;
    match sent.get("id").and_then(serde_json::Value::as_str) {
        Some(_) => Ok(()),
        None => Err(format!("200 without a message id: {sent}")),
    }
}
