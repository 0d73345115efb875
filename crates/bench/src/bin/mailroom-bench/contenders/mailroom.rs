//! The `mailroom run` contender: the worker process with the `gmail` transport against the lean
//! Gmail, and with the `null` transport for the queue and latency sections.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mailroom_queue::{Queue, QueueConfig};

use super::run::{RUN_LIMIT, Run, Worker, wait_accepted};
use crate::world::{World, fill};

/// Stops a `mailroom run` process with SIGTERM and checks that it exits 0.
pub fn stop(mut worker: Worker) {
    let Some(mut child) = worker.0.take() else {
        return;
    };
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("wait for mailroom");
    assert!(status.success(), "mailroom exited with {status}");
}

/// `mailroom run` with this queue, concurrency and transport settings.
fn mailroom(world: &World, queue: &str, concurrency: usize, vars: &[(&str, String)]) -> Worker {
    let binary = world
        .binary("mailroom")
        .expect("the mailroom binary beside mailroom-bench (make bench builds it)");
    // A profiler may wrap the worker: BENCH_WRAP="perf record -g -o /tmp/perf.data --".
    let wrap = std::env::var("BENCH_WRAP").unwrap_or_default();
    let mut wrap = wrap.split_whitespace();
    let mut command = match wrap.next() {
        Some(profiler) => {
            let mut c = Command::new(profiler);
            c.args(wrap).arg(binary);
            c
        }
        None => Command::new(binary),
    };
    let child = command
        .arg("run")
        .env("MAILROOM__REDIS__URL", world.url())
        .env("MAILROOM__QUEUE__NAME", queue)
        .env("MAILROOM__WORKER__CONCURRENCY", concurrency.to_string())
        .env("MAILROOM__LOG__LEVEL", "warn")
        .env("MAILROOM__HTTP__LISTEN", "127.0.0.1:0")
        .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(Stdio::null())
        .spawn()
        .expect("start mailroom");
    Worker(Some(child))
}

/// `mailroom run` on queue `name` with the `null` transport, concurrency 64.
pub fn spawn_null(world: &World, name: &str) -> Worker {
    mailroom(
        world,
        name,
        64,
        &[("MAILROOM__TRANSPORT__KIND", "null".into())],
    )
}

/// Waits until a queue has nothing left to do.
async fn wait_empty(queue: &Queue) {
    let deadline = Instant::now() + RUN_LIMIT;
    loop {
        let s = queue.stats().await.expect("stats");
        if s.ready + s.in_flight + s.scheduled == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "the queue did not drain");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `mailroom run` with the `null` transport over a backlog of `jobs`; the time runs from the
/// process start to the queue being empty.
pub async fn null_process(world: &World, jobs: usize) -> Option<Run> {
    world.binary("mailroom")?;
    let name = "bench-null-process";
    let queue = Queue::connect(&world.url(), QueueConfig::named(name))
        .await
        .expect("connect");
    fill(&queue, jobs).await;
    let redis_before = world.redis_cpu_ms();
    let start = Instant::now();
    let child = spawn_null(world, name);
    wait_empty(&queue).await;
    let seconds = start.elapsed().as_secs_f64();
    let (max_rss_kb, cpu_ms) = mailroom_bench::usage(&child.id().to_string());
    stop(child);
    let redis_cpu_ms = world.redis_cpu_ms().saturating_sub(redis_before);
    world.flush().await;
    Some(Run {
        seconds,
        max_rss_kb,
        cpu_ms,
        redis_cpu_ms,
        duplicates: 0,
    })
}

/// One end-to-end round of `mailroom run` with the gmail transport over `jobs` jobs.
pub(super) async fn run_mailroom(
    world: &World,
    round: usize,
    jobs: usize,
    concurrency: usize,
) -> Run {
    let name = format!("bench-e2e-{round}");
    let queue = Queue::connect(&world.url(), QueueConfig::named(&name))
        .await
        .expect("connect");
    fill(&queue, jobs).await;
    let key = world.dir.path().join("service-account.json");
    // The key's own token endpoint is where a service account asks: the sink's.
    let mut key_json: serde_json::Value =
        serde_json::from_str(&world.account.key_json).expect("a key file");
    key_json["token_uri"] = world.sink.token_url().into();
    std::fs::write(&key, key_json.to_string()).expect("write the key file");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod 600 the key file");
    let base = world.sink.base_url();
    let unlimited = "100000000".to_owned();
    let vars = [
        ("MAILROOM__TRANSPORT__KIND", "gmail".to_owned()),
        ("MAILROOM__GOOGLE__API_BASE", base),
        ("MAILROOM__GOOGLE__TOKEN_URL", world.sink.token_url()),
        (
            "MAILROOM__CREDENTIALS__SERVICE_ACCOUNT_KEY",
            key.display().to_string(),
        ),
        ("MAILROOM__QUOTA__SENDER_PER_MINUTE", unlimited.clone()),
        ("MAILROOM__QUOTA__SENDER_PER_DAY", unlimited.clone()),
        ("MAILROOM__QUOTA__PROJECT_PER_MINUTE", unlimited.clone()),
        // The sink has no per-user concurrency limit, and the floor no cap: neither paces
        // the run.
        ("MAILROOM__QUOTA__SENDER_CONCURRENCY", unlimited),
        ("MAILROOM__JOBS__ALLOWED_SENDERS", "*".to_owned()),
    ];
    let skip = world.sink.arrived();
    let target = world.sink.accepted() + jobs as u64;
    let redis_before = world.redis_cpu_ms();
    let mut child = mailroom(world, &name, concurrency, &vars);
    wait_accepted(world, child.running(), target, "mailroom").await;
    wait_empty(&queue).await;
    let usage = mailroom_bench::usage(&child.id().to_string());
    stop(child);
    Run::finished(world, skip, usage, redis_before).await
}
