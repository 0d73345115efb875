//! The fault-injection scenarios, each written once against a [`Backing`] so the same code runs
//! on one `redis-server` (`faults.rs`) and on a three-node cluster (`faults_cluster.rs`): a
//! worker killed mid-run (`kill`), Redis killed mid-run (`outage`), undecodable payloads amid
//! valid jobs (`malformed`), records with a malformed field amid valid jobs (`fields`),
//! large jobs under a memory cap (`memory`), SIGTERM with sends in flight (`sigterm`), a due
//! backlog of a million (`backlog`), and, on a Sentinel setup (`faults_sentinel.rs`), the
//! primary killed and its replica promoted (`failover`) and a planned failover (`planned`).
//!
//! Each scenario runs real `mailroom run` processes against the fake Google (the `null`
//! transport for the backlog, which is about the queue), then checks what a user cares about:
//! what Gmail received, counted by `Message-ID` (a job's is the same on every attempt, so
//! duplicates = messages received − distinct ids), and what Redis says afterwards. Counts are
//! asserted exactly; timings are printed, never asserted. Each scenario also writes its
//! figures for the suite's summary table (see `common/report.rs`).
// Each test binary (single, cluster, Sentinel) runs a subset of the scenarios.
#![allow(dead_code, unused_imports)]

mod backlog;
mod failover;
mod fields;
mod kill;
mod malformed;
mod memory;
mod outage;
mod planned;
mod sigterm;
mod switch;

use std::time::{Duration, Instant};

use mailroom_jobs::JobId;
use mailroom_queue::Queue;
use mailroom_testkit::google::{FakeGoogle, FakeGoogleOptions, Quota};
use tokio::sync::RwLock;

use crate::common::google::{SENDER, Tally, gmail_env_on};
use crate::common::{Backing, Env, Worker, all_sent, idle, job, stats};

pub use backlog::due_backlog;
pub use failover::primary_killed_and_replica_promoted;
pub use fields::malformed_fields_amid_valid_jobs;
pub use kill::sigkill_mid_run_then_restart;
pub use malformed::malformed_payloads_amid_valid_jobs;
pub use memory::large_jobs_under_a_memory_cap;
pub use outage::redis_restart_mid_run;
pub use planned::planned_failover;
pub use sigterm::sigterm_with_sends_in_flight;

/// Scenarios share the machine, except the due backlog (a million jobs in Redis at full size):
/// it takes this lock for writing and so runs alone; every other scenario holds it for reading.
static MACHINE: RwLock<()> = RwLock::const_new(());

/// Limits far above anything a scenario sends, so neither Gmail's quota nor the cap on one
/// sender's sends in flight paces a run (every scenario sends as one sender).
const NO_QUOTA: &str = "[quota]\nsender_per_minute = 100000000\nsender_per_day = 100000000\n\
                        project_per_minute = 100000000\nsender_concurrency = 100000\n";

/// A fake Google without usage limits.
fn fake_google() -> FakeGoogle {
    FakeGoogle::start_with(FakeGoogleOptions {
        quota: Quota::unlimited(),
        ..FakeGoogleOptions::default()
    })
}

/// Waits until the fake has accepted at least `n` messages, failing early if a worker exits.
async fn wait_received(
    google: &FakeGoogle,
    workers: &mut [&mut Worker],
    n: usize,
    within: Duration,
) {
    let deadline = Instant::now() + within;
    while google.sent().len() < n {
        for w in workers.iter_mut() {
            w.assert_running();
        }
        assert!(
            Instant::now() < deadline,
            "the fake received {} of {n} messages within {within:?}",
            google.sent().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until every one of `ids` is recorded as sent and nothing is left ready, scheduled or
/// in flight, failing early if a worker exits.
async fn wait_all_sent(
    queue: &Queue,
    ids: &[JobId],
    workers: &mut [&mut Worker],
    within: Duration,
) {
    let deadline = Instant::now() + within;
    loop {
        for w in workers.iter_mut() {
            w.assert_running();
        }
        if idle(queue).await && all_sent(queue, ids).await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not every job was sent within {within:?}: {:?}, {:?}",
            stats(queue).await,
            crate::common::state_counts(queue, ids).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asserts that the queue is empty: nothing ready, scheduled or in flight, and `dead` dead
/// letters.
async fn assert_drained(queue: &Queue, dead: u64) {
    let s = stats(queue).await;
    assert_eq!(
        (s.ready, s.scheduled, s.in_flight, s.dead),
        (0, 0, 0, dead),
        "ready, scheduled, in flight, dead: {s:?}"
    );
}

/// The jobs among `ids` whose message the fake never received.
fn missing(tally: &Tally, ids: &[JobId]) -> Vec<JobId> {
    ids.iter()
        .copied()
        .filter(|id| tally.times(*id) == 0)
        .collect()
}

/// A world on `redis` whose workers send through the fake Google without usage limits, with
/// `extra` TOML (sections other than `[quota]`).
fn gmail_world(redis: Backing, google: &FakeGoogle, extra: &str) -> Env {
    gmail_env_on(redis, google, &format!("{extra}\n\n{NO_QUOTA}"))
}

/// A job from `SENDER` to a recipient of its own.
fn numbered_job(i: usize, subject: &str) -> mailroom_jobs::EmailJob {
    job(SENDER, &format!("user{i}@example.org"), subject)
}
