//! The end-to-end comparison: the same 1 KB jobs sent through the same fake Gmail by the
//! `mailroom` process (gmail transport), by a BullMQ worker (the peer) and by a minimal Rust
//! loop (the floor). Every contender's rate comes from the same clock: the times at which the
//! lean Gmail ([`crate::sink`]) accepted its first and its last message.

//!
//! * `mod.rs`: a [`Run`], the child [`Worker`], and the comparison table.
//! * `mailroom.rs`: `mailroom run` (gmail transport here, null for the other sections).
//! * `bullmq.rs`: the BullMQ peer.
//! * `floor.rs`: the minimal Rust floor.

mod bullmq;
mod floor;
mod mailroom;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::report::{Table, thousands};
use crate::world::World;

use bullmq::{BULLMQ_DIR, bullmq_ready, run_bullmq};
use floor::run_floor;
use mailroom::run_mailroom;
pub use mailroom::{null_process, spawn_null, stop};

/// How long one contender may take for one run before the benchmark gives up.
const RUN_LIMIT: Duration = Duration::from_secs(300);

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

/// Runs `rounds` rounds of every contender that can run, each over `jobs` jobs at
/// `concurrency`, and tabulates each one's median round.
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
    let mut table = table(&contenders, jobs);
    notes(&mut table, &contenders, (jobs, concurrency, rounds), peer);
    table
}

/// A contender's name and its median run with the lowest and highest rate, if it ran.
type Summary = (&'static str, Option<(Run, f64, f64)>);

/// One row per contender.
fn table(contenders: &[Summary], jobs: usize) -> Table {
    let mut table = Table::new(&[
        "contender",
        "jobs/s (median)",
        "range",
        "peak RSS MB",
        "CPU-ms per email",
        "duplicates",
    ]);
    for (name, result) in contenders {
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
    table
}

/// What was measured and how, and mailroom's rate against the peer's and the floor's.
fn notes(
    table: &mut Table,
    contenders: &[Summary; 3],
    (jobs, concurrency, rounds): (usize, usize, usize),
    peer: bool,
) {
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
}
