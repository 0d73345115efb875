//! Fault injection on a Sentinel setup (a primary, one replica, three Sentinels): the primary
//! killed with SIGKILL while two workers drain the queue and a producer keeps enqueueing;
//! Sentinel promotes the replica and the old primary comes back as a replica. Run with
//! `redis.min_replicas_ack` 1 (nothing acknowledged is lost) and 0 (the loss is counted and
//! printed); and a planned failover (`SENTINEL FAILOVER`) with `redis.min_replicas_ack` 1, on
//! one replica (nothing acknowledged is lost) and on two (the loss is counted and printed).
//! Sizes are reduced unless `MAILROOM_FAULTS=full`; the scenarios are in `faults/failover.rs`
//! and `faults/planned.rs`.

mod common;
#[path = "faults/mod.rs"]
mod scenarios;

use common::{Backing, faults_size};
use mailroom_testkit::RedisSentinel;

fn sentinel() -> Backing {
    Backing::Sentinel(RedisSentinel::start())
}

#[tokio::test(flavor = "multi_thread")]
async fn failover_with_a_replica_ack_loses_no_acknowledged_enqueue() {
    scenarios::primary_killed_and_replica_promoted(sentinel(), faults_size(500, 5_000), 1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn failover_without_a_replica_ack_counts_the_lost_enqueues() {
    scenarios::primary_killed_and_replica_promoted(sentinel(), faults_size(500, 5_000), 0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_planned_failover_with_one_replica_loses_nothing_and_resumes_once_the_old_primary_follows()
 {
    scenarios::planned_failover(sentinel(), faults_size(500, 5_000), true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_planned_failover_with_two_replicas_keeps_sending_and_counts_the_lost_enqueues() {
    let redis = Backing::Sentinel(RedisSentinel::start_with_replicas(2));
    scenarios::planned_failover(redis, faults_size(500, 5_000), false).await;
}
