//! The end-to-end comparison: the same 1 KB jobs sent through the same fake Gmail by the
//! `mailroom` process (gmail transport), by a BullMQ worker (the peer) and by a minimal Rust
//! loop (the floor). Every contender's rate comes from the same clock: the times at which the
//! lean Gmail ([`crate::sink`]) accepted its first and its last message.

use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mailroom_queue::{Queue, QueueConfig};
use redis::AsyncCommands;

use crate::report::{Table, thousands};
use crate::world::{World, job_json};

/// How long one contender may take for one run before the benchmark gives up.
const RUN_LIMIT: Duration = Duration::from_secs(300);
/// Where the BullMQ peer lives, relative to the repository root `make bench` runs in.
const BULLMQ_DIR: &str = "bench/bullmq";

/// One contender's run.
#[derive(Debug, Clone)]
pub struct Run {
    pub seconds: f64,
    pub max_rss_kb: u64,
    pub cpu_ms: u64,
    /// Messages the fake accepted beyond one per job.
    pub duplicates: usize,
}

impl Run {
    /// The run whose messages arrived after the first `skip`, with the contender's peak RSS
    /// and CPU time; empties Redis for the next one.
    async fn finished(world: &World, skip: usize, (max_rss_kb, cpu_ms): (u64, u64)) -> Run {
        let (seconds, duplicates) = world.sink.timed(skip);
        world.flush().await;
        Run {
            seconds,
            max_rss_kb,
            cpu_ms,
            duplicates,
        }
    }
}

/// Waits until the fake has accepted `target` messages in all, failing if `child` exits first.
async fn wait_accepted(world: &World, child: &mut Child, target: u64, what: &str) {
    let deadline = Instant::now() + RUN_LIMIT;
    while world.sink.accepted() < target {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited with {status} before sending everything");
        }
        assert!(
            Instant::now() < deadline,
            "{what} took longer than {RUN_LIMIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A child process (`mailroom run` or a contender), killed if the benchmark fails before stopping it.
pub struct Worker(Option<Child>);

impl Worker {
    fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }

    fn running(&mut self) -> &mut Child {
        self.0.as_mut().expect("a running process")
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

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
    crate::queue::fill(&queue, jobs).await;
    let start = Instant::now();
    let child = spawn_null(world, name);
    wait_empty(&queue).await;
    let seconds = start.elapsed().as_secs_f64();
    let (max_rss_kb, cpu_ms) = mailroom_bench::usage(&child.id().to_string());
    stop(child);
    world.flush().await;
    Some(Run {
        seconds,
        max_rss_kb,
        cpu_ms,
        duplicates: 0,
    })
}

async fn run_mailroom(world: &World, round: usize, jobs: usize, concurrency: usize) -> Run {
    let name = format!("bench-e2e-{round}");
    let queue = Queue::connect(&world.url(), QueueConfig::named(&name))
        .await
        .expect("connect");
    crate::queue::fill(&queue, jobs).await;
    let key = world.dir.path().join("service-account.json");
    // The key's own token endpoint is where a service account asks: the sink's.
    let mut key_json: serde_json::Value =
        serde_json::from_str(&world.account.key_json).expect("a key file");
    key_json["token_uri"] = world.sink.token_url().into();
    std::fs::write(&key, key_json.to_string()).expect("write the key file");
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
        ("MAILROOM__QUOTA__PROJECT_PER_MINUTE", unlimited),
    ];
    let skip = world.sink.arrived();
    let target = world.sink.accepted() + jobs as u64;
    let mut child = mailroom(world, &name, concurrency, &vars);
    wait_accepted(world, child.running(), target, "mailroom").await;
    wait_empty(&queue).await;
    let usage = mailroom_bench::usage(&child.id().to_string());
    stop(child);
    Run::finished(world, skip, usage).await
}

/// What a contender that measures itself prints: one JSON line.
fn self_report(output: &[u8], what: &str) -> (u64, u64) {
    let line = String::from_utf8_lossy(output);
    let json: serde_json::Value = line
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("{what} printed no result line: {line}"));
    (
        json["max_rss_kb"].as_u64().unwrap_or(0),
        json["cpu_ms"].as_u64().unwrap_or(0),
    )
}

/// Runs a contender that exits by itself after `jobs`; times it on the fake's clock.
async fn run_contender(world: &World, mut cmd: Command, jobs: usize, what: &str) -> Run {
    let skip = world.sink.arrived();
    let target = world.sink.accepted() + jobs as u64;
    let mut child = Worker(Some(
        cmd.stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}")),
    ));
    wait_accepted(world, child.running(), target, what).await;
    let output = child
        .0
        .take()
        .expect("running")
        .wait_with_output()
        .expect("contender output");
    assert!(
        output.status.success(),
        "{what} exited with {}",
        output.status
    );
    Run::finished(world, skip, self_report(&output.stdout, what)).await
}

async fn run_floor(world: &World, jobs: usize, concurrency: usize, token: &str) -> Option<Run> {
    let floor = world.binary("mailroom-bench-floor")?;
    let mut conn = world
        .redis
        .client()
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    for start in (0..jobs).step_by(1_000) {
        let chunk: Vec<String> = (start..(start + 1_000).min(jobs))
            .map(|i| job_json(i).to_string())
            .collect();
        let _: () = conn.rpush("floor:jobs", chunk).await.expect("RPUSH");
    }
    let mut cmd = Command::new(floor);
    cmd.args(["--redis", &world.url(), "--list", "floor:jobs"])
        .args(["--base", &world.sink.base_url(), "--token", token])
        .args(["--jobs", &jobs.to_string()])
        .args(["--concurrency", &concurrency.to_string()]);
    Some(run_contender(world, cmd, jobs, "the floor").await)
}

/// Whether the BullMQ peer can run: node and its installed packages.
fn bullmq_ready() -> bool {
    Path::new(BULLMQ_DIR).join("node_modules/bullmq").exists()
        && Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
}

async fn run_bullmq(
    world: &World,
    round: usize,
    jobs: usize,
    concurrency: usize,
    token: &str,
) -> Run {
    let queue = format!("bench-{round}");
    let file = world.dir.path().join("bullmq-jobs.json");
    let all: Vec<serde_json::Value> = (0..jobs).map(job_json).collect();
    let mut out = std::fs::File::create(&file).expect("job file");
    out.write_all(serde_json::to_string(&all).expect("json").as_bytes())
        .expect("write the job file");
    let status = Command::new("node")
        .arg(format!("{BULLMQ_DIR}/enqueue.js"))
        .args(["--redis", &world.url(), "--queue", &queue])
        .args(["--jobs", &jobs.to_string()])
        .arg("--job-file")
        .arg(&file)
        .stdout(Stdio::null())
        .status()
        .expect("node enqueue.js");
    assert!(status.success(), "enqueue.js exited with {status}");
    let mut cmd = Command::new("node");
    cmd.arg(format!("{BULLMQ_DIR}/worker.js"))
        .args(["--redis", &world.url(), "--queue", &queue])
        .args(["--base", &world.sink.base_url(), "--token", token])
        .args(["--jobs", &jobs.to_string()])
        .args(["--concurrency", &concurrency.to_string()]);
    run_contender(world, cmd, jobs, "the BullMQ worker").await
}

/// Prints one run's figures as the benchmark goes.
fn progress(what: &str, jobs: usize, run: &Run) {
    eprintln!(
        "  {what}: {:.0} jobs/s, peak RSS {:.1} MB, {:.3} CPU-ms per email, {} duplicates",
        jobs as f64 / run.seconds,
        run.max_rss_kb as f64 / 1024.0,
        run.cpu_ms as f64 / jobs as f64,
        run.duplicates
    );
}

/// The median run by time, and the lowest and highest rate.
fn summary(mut runs: Vec<Run>, jobs: usize) -> Option<(Run, f64, f64)> {
    if runs.is_empty() {
        return None;
    }
    runs.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let rate = |r: &Run| jobs as f64 / r.seconds;
    let (high, low) = (rate(&runs[0]), rate(&runs[runs.len() - 1]));
    Some((runs.swap_remove(runs.len() / 2), low, high))
}

pub async fn compare(world: &World, jobs: usize, concurrency: usize, rounds: usize) -> Table {
    let token = "sink-token";
    let peer = bullmq_ready();
    let (mut ours, mut bullmq, mut floor) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let run = run_mailroom(world, round, jobs, concurrency).await;
        progress("mailroom", jobs, &run);
        ours.push(run);
        if peer {
            let run = run_bullmq(world, round, jobs, concurrency, token).await;
            progress("BullMQ", jobs, &run);
            bullmq.push(run);
        }
        if let Some(run) = run_floor(world, jobs, concurrency, token).await {
            progress("floor", jobs, &run);
            floor.push(run);
        }
    }
    let mut table = Table::new(&[
        "contender",
        "jobs/s (median)",
        "range",
        "peak RSS MB",
        "CPU-ms per email",
        "duplicates",
    ]);
    let contenders = [
        (
            "mailroom (`mailroom run`, gmail transport via google-gmail1)",
            summary(ours, jobs),
        ),
        (
            "BullMQ peer (node, `undici.request`, keep-alive)",
            summary(bullmq, jobs),
        ),
        (
            "floor (Rust: `redis` LMOVE + hyper keep-alive, no framework)",
            summary(floor, jobs),
        ),
    ];
    for (name, result) in &contenders {
        let Some((run, low, high)) = result else {
            table.row(vec![
                (*name).to_owned(),
                "not run".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
            continue;
        };
        table.row(vec![
            (*name).to_owned(),
            thousands(jobs as f64 / run.seconds),
            format!("{}–{}", thousands(*low), thousands(*high)),
            format!("{:.1}", run.max_rss_kb as f64 / 1024.0),
            format!("{:.3}", run.cpu_ms as f64 / jobs as f64),
            run.duplicates.to_string(),
        ]);
    }
    table.note(format!(
        "{jobs} jobs of about 1 KB each, concurrency {concurrency}, {rounds} rounds; each contender's \
         median round is shown with the range of all rounds. The time runs from the first to the \
         last message the lean Gmail of the harness accepted (it answers like Gmail and records arrivals, nothing else). mailroom renders each message with lettre and \
         sends it with google-gmail1 (media upload), checks Gmail's limits in Redis (set high \
         here) and records the outcome; the peer and the floor build the same message with string \
         formatting and make the same upload call."
    ));
    let rate = |i: usize| {
        contenders[i]
            .1
            .as_ref()
            .map(|(r, _, _)| jobs as f64 / r.seconds)
    };
    if let (Some(m), Some(p)) = (rate(0), rate(1)) {
        table.note(format!(
            "mailroom / BullMQ peer: {:.2}× (target ≥ 2×).",
            m / p
        ));
    }
    if let (Some(m), Some(f)) = (rate(0), rate(2)) {
        table.note(format!(
            "mailroom / floor: {:.0} % (target ≥ 50 %).",
            100.0 * m / f
        ));
    }
    if !peer {
        table.note(format!(
            "The BullMQ peer did not run: node or `{BULLMQ_DIR}/node_modules` is missing \
             (`make bench` installs them with `npm ci`)."
        ));
    }
    table
}
