//! What the Sentinel scenarios (`failover`, `planned`) share once the primary has switched:
//! the jobs a refused enqueue still landed, waiting until every job is settled and the
//! workers counted the switch, and the checks that nothing acknowledged was lost or sent
//! twice beyond the deliveries in flight.

use std::time::{Duration, Instant};

use mailroom_jobs::JobId;
use mailroom_queue::Queue;
use mailroom_testkit::google::FakeGoogle;

use super::outage::wait_until;
use super::{assert_drained, missing};
use crate::common::google::Tally;
use crate::common::http::{get, listen_addr, sample};
use crate::common::{Worker, idle, job_fields, stats};

/// What the workers made of the jobs after a switch.
pub(super) struct AfterSwitch {
    /// Every job that should be delivered: those enqueued with `Ok`, and the refused ones
    /// that reached Redis anyway.
    pub all: Vec<JobId>,
    /// The refused enqueues that reached Redis anyway.
    pub landed: Vec<JobId>,
    /// The jobs whose record is gone (lost with the old primary).
    pub gone: Vec<JobId>,
    /// The workers' logs.
    pub logs: Vec<String>,
    /// What Gmail received.
    pub tally: Tally,
    /// Jobs enqueued with `Ok` that Gmail never received.
    pub lost_ok: Vec<JobId>,
}

/// Waits until every job of `ok` (enqueued with `Ok`) and of `refused` that reached Redis is
/// settled and each worker counted one failover on `/metrics`, then stops the workers.
pub(super) async fn after_switch(
    queue: &Queue,
    google: &FakeGoogle,
    ok: &[JobId],
    refused: &[JobId],
    [mut a, mut b]: [Worker; 2],
) -> AfterSwitch {
    let landed: Vec<JobId> = present(queue, refused).await;
    let all: Vec<JobId> = ok.iter().chain(&landed).copied().collect();
    let gone = wait_settled(queue, &all, &mut [&mut a, &mut b]).await;
    // Each worker's queue connection followed the primary once.
    let addr = listen_addr(&mut a);
    wait_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(10),
        "mailroom_redis_failovers_total 1 on /metrics",
        |_| {
            sample(
                &get(&addr, "/metrics").body,
                "mailroom_redis_failovers_total",
            ) == Some(1.0)
        },
    )
    .await;
    let logs: Vec<String> = [a, b].into_iter().map(Worker::stop).collect();
    let tally = Tally::of(google);
    let lost_ok = missing(&tally, ok);
    AfterSwitch {
        all,
        landed,
        gone,
        logs,
        tally,
        lost_ok,
    }
}

/// Every job enqueued with `Ok` was received, each job once, duplicates at most the
/// `in_flight` deliveries at the switch (`when`: "at the kill", "at the switch"), and the
/// queue is drained.
pub(super) async fn assert_delivered_once(
    queue: &Queue,
    after: &AfterSwitch,
    in_flight: u64,
    when: &str,
) {
    assert_eq!(after.lost_ok, [], "jobs enqueued with Ok never received");
    assert!(
        after.tally.duplicates() as u64 <= in_flight,
        "duplicates {} exceed the {in_flight} deliveries in flight {when}; logs:\n{}",
        after.tally.duplicates(),
        after.logs.join("\n")
    );
    assert_eq!(after.tally.unique(), after.all.len(), "every job received");
    assert_drained(queue, 0).await;
}

/// The jobs among `ids` whose record exists.
async fn present(queue: &Queue, ids: &[JobId]) -> Vec<JobId> {
    ids.iter()
        .zip(job_fields(queue, ids, &["state"]).await)
        .filter_map(|(id, row)| row[0].is_some().then_some(*id))
        .collect()
}

/// Waits until nothing is ready, scheduled or in flight and every job of `ids` whose record
/// exists is sent; returns the jobs whose record is gone (lost with the old primary).
async fn wait_settled(queue: &Queue, ids: &[JobId], workers: &mut [&mut Worker]) -> Vec<JobId> {
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        for w in workers.iter_mut() {
            w.assert_running();
        }
        let rows = job_fields(queue, ids, &["state"]).await;
        let unsent = rows
            .iter()
            .filter(|row| row[0].as_deref().is_some_and(|s| s != "sent"))
            .count();
        if unsent == 0 && idle(queue).await {
            return ids
                .iter()
                .zip(rows)
                .filter_map(|(id, row)| row[0].is_none().then_some(*id))
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "{unsent} jobs not sent within 180 s: {:?}",
            stats(queue).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
