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
use run::Run;

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
