//! The end-to-end comparison: the same 1 KB jobs sent through the same fake Gmail by the
//! `mailroom` process (gmail transport), by a BullMQ worker (the peer) and by a minimal Rust
//! loop (the floor). Every contender's rate comes from the same clock: the times at which the
//! lean Gmail ([`crate::sink`]) accepted its first and its last message.
//!
//! * `mod.rs`: the rounds and the comparison table.
//! * `run.rs`: a [`Run`], the child [`Worker`](run::Worker), and running a contender that exits by itself.
//! * `mailroom.rs`: `mailroom run` (gmail transport here, null for the other sections).
//! * `bullmq.rs`: the BullMQ peer.
//! * `floor.rs`: the minimal Rust floor.

mod bullmq;
mod floor;
mod mailroom;
mod run;

use crate::report::{Table, thousands};
use crate::world::World;

use bullmq::{BULLMQ_DIR, bullmq_ready, run_bullmq};
use floor::run_floor;
use mailroom::run_mailroom;
pub use mailroom::{null_process, spawn_null, stop};
pub use run::Run;

/// Prints one run's figures as the benchmark goes.
fn progress(what: &str, jobs: usize, run: &Run) {
    eprintln!(
        "  {what}: {:.0} jobs/s, peak RSS {:.1} MB, {:.3} CPU-ms per email, {:.3} redis CPU-ms per job, {} duplicates",
        jobs as f64 / run.seconds,
        run.max_rss_kb as f64 / 1024.0,
        run.cpu_ms as f64 / jobs as f64,
        run.redis_cpu_ms as f64 / jobs as f64,
        run.duplicates
    );
}

/// The median of some figures (the upper one of an even count); NaN for none.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// A contender's rounds, each figure the median of its rounds.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// Jobs per second, and the lowest and highest round.
    pub rate: f64,
    pub low: f64,
    pub high: f64,
    pub rss_mb: f64,
    /// The contender's CPU time per email.
    pub cpu_ms: f64,
    /// The redis-server's CPU time per job.
    pub redis_ms: f64,
    /// The most duplicates of any round.
    pub duplicates: usize,
}

impl Summary {
    /// The summary of `runs` over `jobs` jobs each; `None` when it did not run.
    pub fn of(runs: &[Run], jobs: usize) -> Option<Self> {
        if runs.is_empty() {
            return None;
        }
        let per = |f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
        let n = jobs as f64;
        let rates: Vec<f64> = runs.iter().map(|r| n / r.seconds).collect();
        Some(Self {
            rate: median(rates.clone()),
            low: rates.iter().copied().fold(f64::INFINITY, f64::min),
            high: rates.iter().copied().fold(0.0, f64::max),
            rss_mb: per(|r| r.max_rss_kb as f64 / 1024.0),
            cpu_ms: per(|r| r.cpu_ms as f64) / n,
            redis_ms: per(|r| r.redis_cpu_ms as f64) / n,
            duplicates: runs.iter().map(|r| r.duplicates).max().unwrap_or(0),
        })
    }
}

/// Runs `rounds` rounds of every contender that can run, each over `jobs` jobs at
/// `concurrency`, and tabulates each one's medians.
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
            Summary::of(&ours, jobs),
        ),
        (
            "BullMQ peer (node, `undici.request`, keep-alive)",
            Summary::of(&bullmq, jobs),
        ),
        (
            "floor (Rust: `redis` LMOVE + hyper keep-alive, no framework)",
            Summary::of(&floor, jobs),
        ),
    ];
    let mut table = table(&contenders);
    notes(&mut table, &contenders, (jobs, concurrency, rounds), peer);
    table
}

/// A contender's name and its summary, if it ran.
type Named = (&'static str, Option<Summary>);

/// One row per contender.
fn table(contenders: &[Named]) -> Table {
    let mut table = Table::new(&[
        "contender",
        "jobs/s (median)",
        "range",
        "peak RSS MB",
        "worker CPU-ms per email",
        "redis-server CPU-ms per job",
        "duplicates",
    ]);
    for (name, result) in contenders {
        let Some(s) = result else {
            let mut row = vec![(*name).to_owned(), "not run".into()];
            row.resize(table.header.len(), String::new());
            table.row(row);
            continue;
        };
        table.row(vec![
            (*name).to_owned(),
            thousands(s.rate),
            format!("{}–{}", thousands(s.low), thousands(s.high)),
            format!("{:.1}", s.rss_mb),
            format!("{:.3}", s.cpu_ms),
            format!("{:.3}", s.redis_ms),
            s.duplicates.to_string(),
        ]);
    }
    table
}

/// What was measured and how, and mailroom's figures against the peer's and the floor's.
fn notes(
    table: &mut Table,
    contenders: &[Named; 3],
    (jobs, concurrency, rounds): (usize, usize, usize),
    peer: bool,
) {
    table.note(format!(
        "{jobs} jobs of about 1 KB each, concurrency {concurrency}, {rounds} rounds; every figure \
         is the median of the rounds, with the range of the rates. The time runs from the first \
         to the last message the lean Gmail of the harness accepted (it answers like Gmail and \
         records arrivals, nothing else). The CPU figures are user plus system time from /proc: \
         the contender's process over its whole life, and the redis-server's from the \
         contender's start to its end (the backlog was enqueued before). mailroom renders each \
         message with lettre and sends it with google-gmail1 (media upload), checks Gmail's \
         limits in Redis (set high here) and records the outcome; the peer and the floor build \
         the same message with string formatting and make the same upload call."
    ));
    let [(_, ours), (_, bullmq), (_, floor)] = contenders;
    if let (Some(m), Some(p)) = (ours, bullmq) {
        table.note(format!(
            "mailroom / BullMQ peer: {:.2}× the rate (target ≥ 2×), {:.2}× the worker CPU per \
             email, {:.2}× the redis-server CPU per job.",
            m.rate / p.rate,
            m.cpu_ms / p.cpu_ms,
            m.redis_ms / p.redis_ms
        ));
    }
    if let (Some(m), Some(f)) = (ours, floor) {
        table.note(format!(
            "mailroom / floor: {:.0} % of the rate (target ≥ 50 %), {:.2}× the worker CPU per \
             email (target ≤ 2×), {:.2}× the redis-server CPU per job (target ≤ 3×).",
            100.0 * m.rate / f.rate,
            m.cpu_ms / f.cpu_ms,
            m.redis_ms / f.redis_ms
        ));
    }
    if !peer {
        table.note(format!(
            "The BullMQ peer did not run: node or `{BULLMQ_DIR}/node_modules` is missing \
             (`make bench` installs them with `npm ci`)."
        ));
    }
}
