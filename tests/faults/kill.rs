//! A worker killed (SIGKILL) in the middle of a run, then a new worker.

use std::time::Duration;

use mailroom_jobs::JobId;

use super::{
    MACHINE, assert_drained, fake_google, gmail_world, missing, wait_all_sent, wait_received,
};
use crate::common::google::Tally;
use crate::common::report::Report;
use crate::common::{Backing, enqueue_jobs, in_flight, stats};

/// SIGKILL of a worker in the middle of a run, then a new worker: every job is received and
/// recorded as sent, and the only messages received twice are jobs that were in flight at the
/// kill.
pub async fn sigkill_mid_run_then_restart(redis: Backing, jobs: usize) {
    let _shared = MACHINE.read().await;
    let mut report = Report::start("SIGKILL of a worker mid-run", &redis);
    report.set("jobs", jobs);
    let google = fake_google();
    let env = gmail_world(
        redis,
        &google,
        "[worker]\nconcurrency = 64\n\n[queue]\nlease = \"2s\"",
    );
    let queue = env.queue().await;
    let ids = enqueue_jobs(&queue, jobs).await;

    let mut doomed = env.worker("doomed", &[]);
    wait_received(
        &google,
        &mut [&mut doomed],
        jobs / 3,
        Duration::from_secs(120),
    )
    .await;
    doomed.crash();
    let in_flight = in_flight(&queue, &ids).await;
    let pending = stats(&queue).await.in_flight;
    let received_at_kill = google.sent().len();
    assert!(
        received_at_kill < jobs,
        "the worker was killed before it finished"
    );
    assert!(!in_flight.is_empty(), "the kill left deliveries in flight");
    report.set("in_flight_at_kill", in_flight.len());

    let mut rescuer = env.worker("rescuer", &[]);
    wait_all_sent(&queue, &ids, &mut [&mut rescuer], Duration::from_secs(300)).await;
    rescuer.stop();

    let tally = Tally::of(&google);
    report.tally(&tally);
    report.set("dead", stats(&queue).await.dead);
    report.set("notes", format!("killed after {received_at_kill} messages"));
    println!(
        "SIGKILL after {received_at_kill} of {jobs} messages: {} jobs in flight at the kill \
         ({pending} stream entries pending); received {}, unique {}, duplicates {}",
        in_flight.len(),
        tally.received,
        tally.unique(),
        tally.duplicates()
    );
    assert_eq!(missing(&tally, &ids), [], "jobs never received");
    assert_eq!(
        tally.unique(),
        jobs,
        "only the jobs' messages were received"
    );
    let twice: Vec<JobId> = ids
        .iter()
        .copied()
        .filter(|id| tally.times(*id) > 1)
        .collect();
    assert_eq!(
        tally.duplicates(),
        twice.len(),
        "no job was received three times"
    );
    assert!(
        twice.iter().all(|id| in_flight.contains(id)),
        "only jobs in flight at the kill may be sent twice: {twice:?}"
    );
    assert_drained(&queue, 0).await;
}
