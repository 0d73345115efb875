//! The fault-injection scenarios of `faults.rs` on a three-node Redis Cluster, at reduced
//! sizes: a worker killed mid-run, undecodable payloads amid valid jobs, records with a
//! malformed field amid valid jobs, SIGTERM with sends in flight, a backlog of jobs all due at once, and the node serving the queue's hash slot killed
//! and restarted (it rejoins from its `nodes.conf` and reloads its append-only file). The
//! scenarios themselves are in `faults/`.

mod common;
#[path = "faults/mod.rs"]
mod scenarios;

use common::Backing;
use mailroom_testkit::{RedisCluster, RedisOptions};

fn cluster() -> Backing {
    Backing::Cluster(RedisCluster::start())
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_mid_run_loses_nothing_and_duplicates_only_jobs_in_flight() {
    scenarios::sigkill_mid_run_then_restart(cluster(), 1_500).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn restart_of_the_queue_s_node_mid_run_loses_no_acknowledged_enqueue() {
    let redis = Backing::Cluster(RedisCluster::start_with(RedisOptions {
        appendonly: true,
        ..RedisOptions::default()
    }));
    scenarios::redis_restart_mid_run(redis, 1_000).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_payloads_are_dead_lettered_and_valid_jobs_sent_once() {
    scenarios::malformed_payloads_amid_valid_jobs(cluster(), 1_000).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_fields_are_dead_lettered_alone_and_valid_jobs_sent_once() {
    scenarios::malformed_fields_amid_valid_jobs(cluster(), 1_000).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn large_jobs_under_a_memory_cap_are_each_sent_once() {
    scenarios::large_jobs_under_a_memory_cap(cluster(), 200).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_with_64_sends_in_flight_exits_0_in_grace_losing_nothing() {
    scenarios::sigterm_with_sends_in_flight(cluster(), 300).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_due_backlog_drains_and_a_job_for_now_is_not_stuck_behind_it() {
    scenarios::due_backlog(cluster(), 5_000).await;
}
