//! Benchmarks on a redis-server of its own: enqueue rates and worker throughput with the `null`
//! transport through the real handler (validation and MIME rendering included). Prints a
//! markdown table.
//!
//! `cargo run --release -p mailroom-worker --example bench` (or `make bench`).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use mailroom_jobs::{EmailJob, JobId};
use mailroom_queue::{Queue, QueueConfig};
use mailroom_testkit::RedisServer;
use mailroom_worker::Config;
use mailroom_worker::config::{RedisUrl, TransportKind};

const SINGLE: usize = 10_000;
const BATCHED: usize = 100_000;
const BATCH: usize = 1_000;
const CONCURRENCY: usize = 64;
const CLIENTS: usize = 16;
const PICKUPS: usize = 200;
const PROCESS_RUNS: usize = 3;

struct Row {
    what: String,
    jobs: usize,
    took: Duration,
}

fn job(i: usize) -> EmailJob {
    let json = serde_json::json!({
        "version": "v1",
        "from": "Notifications <noreply@example.com>",
        "to": [format!("Customer {i} <customer{i}@example.org>")],
        "subject": format!("Your order #{i} has shipped"),
        "text": "Hello,\n\nyour order is on its way. Track it in your account.\n\nThanks,\nThe shop\n",
        "html": "<p>Hello,</p><p>your order is on its way. Track it in your account.</p><p>Thanks,<br>The shop</p>",
        "tags": ["shipping"],
    });
    EmailJob::from_json(json.to_string().as_bytes()).expect("valid job")
}

async fn connect(url: &str, name: &str) -> Queue {
    Queue::connect(url, QueueConfig::named(name))
        .await
        .expect("connect to redis")
}

async fn enqueue_single(url: &str) -> Row {
    let queue = connect(url, "bench-single").await;
    let jobs: Vec<EmailJob> = (0..SINGLE).map(job).collect();
    let start = Instant::now();
    for j in &jobs {
        queue.enqueue(j).await.expect("enqueue");
    }
    Row {
        what: "`Queue::enqueue`, one client, sequential".into(),
        jobs: SINGLE,
        took: start.elapsed(),
    }
}

async fn enqueue_concurrent(url: &str) -> Row {
    let queue = connect(url, "bench-concurrent").await;
    let start = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let queue = queue.clone();
            tokio::spawn(async move {
                for i in 0..SINGLE / CLIENTS {
                    queue.enqueue(&job(c * SINGLE + i)).await.expect("enqueue");
                }
            })
        })
        .collect();
    for client in clients {
        client.await.expect("client task");
    }
    Row {
        what: format!("`Queue::enqueue`, {CLIENTS} concurrent callers on one connection"),
        jobs: SINGLE,
        took: start.elapsed(),
    }
}

async fn enqueue_batched(url: &str) -> (Row, Vec<JobId>) {
    let queue = connect(url, "bench-batch").await;
    let jobs: Vec<EmailJob> = (0..BATCHED).map(job).collect();
    let start = Instant::now();
    let mut ids = Vec::with_capacity(BATCHED);
    for chunk in jobs.chunks(BATCH) {
        ids.extend(
            queue
                .enqueue_many(chunk)
                .await
                .expect("enqueue_many")
                .into_iter()
                .map(|e| e.id),
        );
    }
    let row = Row {
        what: format!("`Queue::enqueue_many`, batches of {BATCH}"),
        jobs: BATCHED,
        took: start.elapsed(),
    };
    (row, ids)
}

fn worker_config(url: &str, queue: &str) -> Config {
    let mut config = Config::default();
    config.redis.url = RedisUrl::new(url);
    config.queue.name = queue.into();
    config.worker.name = "bench".into();
    config.worker.concurrency = CONCURRENCY;
    config.transport.kind = TransportKind::Null;
    // In process, one run after another: no HTTP listener to compete for a port.
    config.http.listen = None;
    config.validate().expect("bench config");
    config
}

/// Runs a worker over the batched queue until it is empty; the time is from the first job's
/// outcome to the last one's, read from the job records.
async fn throughput(url: &str, ids: &[JobId]) -> Row {
    let mut config = Config::default();
    config.redis.url = RedisUrl::new(url);
    config.queue.name = "bench-batch".into();
    config.queue.batch = std::env::var("BATCH")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(32);
    config.worker.name = "bench".into();
    config.worker.concurrency = CONCURRENCY;
    config.transport.kind = TransportKind::Null;
    // In process, one run after another: no HTTP listener to compete for a port.
    config.http.listen = None;
    config.validate().expect("bench config");

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(mailroom_worker::run(config, async move {
        let _ = stopped.await;
    }));
    let queue = connect(url, "bench-batch").await;
    loop {
        let s = queue.stats().await.expect("stats");
        if s.ready + s.in_flight + s.scheduled == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop.send(());
    worker.await.expect("worker task").expect("worker");

    let finished: Vec<DateTime<Utc>> = futures::stream::iter(ids.iter().copied())
        .map(|id| {
            let queue = queue.clone();
            async move {
                let status = queue.status(id).await.expect("status").expect("job record");
                assert_eq!(status.state.as_str(), "sent", "job {id}");
                status.finished_at.expect("finished_at")
            }
        })
        .buffer_unordered(64)
        .collect()
        .await;
    let first = finished.iter().min().copied().unwrap_or_default();
    let last = finished.iter().max().copied().unwrap_or_default();
    let took = (last - first).to_std().unwrap_or_default();
    Row {
        what: format!(
            "worker, `null` transport, concurrency {CONCURRENCY} (validate + render + record)"
        ),
        jobs: ids.len(),
        took,
    }
}

/// Enqueues one job at a time into an idle queue with a worker waiting, and reads back how long
/// each waited from its enqueue to the start of its delivery (ms, from the job records).
async fn idle_pickup(url: &str) -> Vec<i64> {
    let config = worker_config(url, "bench-idle");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(mailroom_worker::run(config, async move {
        let _ = stopped.await;
    }));
    let queue = connect(url, "bench-idle").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut waits = Vec::with_capacity(PICKUPS);
    for i in 0..PICKUPS {
        let id = queue.enqueue(&job(i)).await.expect("enqueue").id;
        let status = loop {
            let s = queue.status(id).await.expect("status").expect("job record");
            if s.state.as_str() == "sent" {
                break s;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        let started = status.started_at.expect("started_at");
        waits.push((started - status.created_at).num_milliseconds());
        // Let the worker settle back into its blocking read.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = stop.send(());
    worker.await.expect("worker task").expect("worker");
    waits.sort_unstable();
    waits
}

/// The same workload through the real `mailroom` binary (built beside this example by `make
/// bench`), for what a deployment pays: peak RSS and CPU time per job, read from /proc.
struct ProcessRun {
    row: Row,
    peak_rss_kb: u64,
    cpu_ms_per_job: f64,
}

async fn worker_process(url: &str, name: &str) -> Option<ProcessRun> {
    let binary = std::env::current_exe()
        .ok()?
        .parent()?
        .parent()?
        .join("mailroom");
    if !binary.exists() {
        eprintln!(
            "{} not built: skipping the process measurement",
            binary.display()
        );
        return None;
    }
    let queue = connect(url, name).await;
    let jobs: Vec<EmailJob> = (0..BATCHED).map(job).collect();
    for chunk in jobs.chunks(BATCH) {
        queue.enqueue_many(chunk).await.expect("enqueue_many");
    }
    let mut child = std::process::Command::new(&binary)
        .arg("run")
        .env("MAILROOM__REDIS__URL", url)
        .env("MAILROOM__QUEUE__NAME", name)
        .env("MAILROOM__WORKER__CONCURRENCY", CONCURRENCY.to_string())
        .env("MAILROOM__TRANSPORT__KIND", "null")
        .env("MAILROOM__LOG__LEVEL", "warn")
        .env("MAILROOM__HTTP__LISTEN", "127.0.0.1:0")
        .spawn()
        .expect("start mailroom");
    let start = Instant::now();
    loop {
        let s = queue.stats().await.expect("stats");
        if s.ready + s.in_flight + s.scheduled == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = start.elapsed();
    let pid = child.id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let peak_rss_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name: utime and stime are the 12th and 13th.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let cpu_ticks = tick(11) + tick(12);
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let exit = child.wait().expect("mailroom exit");
    assert!(exit.success(), "mailroom exited with {exit}");
    // Linux reports CPU time in clock ticks of 10 ms.
    let cpu_ms_per_job = (cpu_ticks * 10) as f64 / BATCHED as f64;
    Some(ProcessRun {
        row: Row {
            what: format!("`mailroom run` process, `null` transport, concurrency {CONCURRENCY}"),
            jobs: BATCHED,
            took,
        },
        peak_rss_kb,
        cpu_ms_per_job,
    })
}

fn percentile(sorted: &[i64], p: f64) -> i64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or_default()
}

fn thousands(n: f64) -> String {
    let s = format!("{n:.0}");
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[tokio::main]
async fn main() {
    let redis = RedisServer::start();
    let url = redis.url();
    let single = enqueue_single(&url).await;
    let concurrent = enqueue_concurrent(&url).await;
    let (batched, ids) = enqueue_batched(&url).await;
    let worker = throughput(&url, &ids).await;
    let waits = idle_pickup(&url).await;
    // The process run is repeated: this machine's speed varies from run to run, so the median
    // is reported with the range.
    let mut runs = Vec::new();
    for r in 0..PROCESS_RUNS {
        runs.extend(worker_process(&url, &format!("bench-process-{r}")).await);
    }
    runs.sort_by_key(|p| p.row.took);
    let spread = (runs.len() > 1).then(|| {
        let rate = |p: &ProcessRun| p.row.jobs as f64 / p.row.took.as_secs_f64();
        (rate(&runs[runs.len() - 1]), rate(&runs[0]))
    });
    let process = (!runs.is_empty()).then(|| runs.swap_remove(runs.len() / 2));

    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    println!("mailroom bench: local redis-server (testkit), {cores} cores, release build\n");
    println!("| measurement | jobs | seconds | jobs/s |");
    println!("| --- | ---: | ---: | ---: |");
    let mut rows = vec![single, concurrent, batched, worker];
    let footprint = process.map(|p| {
        let what = format!("{} (median of {PROCESS_RUNS})", p.row.what);
        rows.push(Row { what, ..p.row });
        let range = spread.map_or(String::new(), |(low, high)| {
            format!(" Process runs ranged from {} to {} jobs/s.", thousands(low), thousands(high))
        });
        format!(
            "\n`mailroom run` process: peak RSS {:.1} MB, {:.3} CPU-ms per job (user + system).{range}",
            p.peak_rss_kb as f64 / 1024.0,
            p.cpu_ms_per_job
        )
    });
    for row in rows {
        let secs = row.took.as_secs_f64();
        let rate = if secs > 0.0 {
            row.jobs as f64 / secs
        } else {
            f64::INFINITY
        };
        println!(
            "| {} | {} | {secs:.2} | {} |",
            row.what,
            thousands(row.jobs as f64),
            thousands(rate)
        );
    }
    println!(
        "\nIdle pickup, enqueue to start of delivery ({PICKUPS} jobs one at a time, ms resolution): \
         p50 {} ms, p99 {} ms, max {} ms",
        percentile(&waits, 0.50),
        percentile(&waits, 0.99),
        waits.last().copied().unwrap_or_default()
    );
    if let Some(footprint) = footprint {
        println!("{footprint}");
    }
}
