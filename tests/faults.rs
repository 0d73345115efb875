//! Fault injection on one `redis-server`: a worker killed mid-run, Redis killed mid-run (and
//! back from its append-only file), undecodable payloads amid valid jobs, records with a
//! malformed field amid valid jobs, SIGTERM with sends in flight, and a backlog of jobs all due at once. Real `mailroom run` processes send through
//! the fake Google; each scenario counts what Gmail received by `Message-ID` and checks what
//! Redis holds afterwards. Sizes are reduced unless `MAILROOM_FAULTS=full` (10,000 jobs for the
//! kill, 1,000,000 due jobs); the scenarios themselves are in `faults/`.

mod common;
#[path = "faults/mod.rs"]
mod scenarios;

use common::{Backing, faults_size};
use mailroom_testkit::{RedisOptions, RedisServer};

fn server() -> Backing {
    Backing::Server(RedisServer::start())
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_mid_run_loses_nothing_and_duplicates_only_jobs_in_flight() {
    scenarios::sigkill_mid_run_then_restart(server(), faults_size(2_000, 10_000)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_restart_mid_run_loses_no_acknowledged_enqueue() {
    scenarios::redis_restart_mid_run(
        Backing::Server(RedisServer::start_with(RedisOptions {
            appendonly: true,
            ..RedisOptions::default()
        })),
        faults_size(1_000, 5_000),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_payloads_are_dead_lettered_and_valid_jobs_sent_once() {
    scenarios::malformed_payloads_amid_valid_jobs(server(), faults_size(1_000, 10_000)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_fields_are_dead_lettered_alone_and_valid_jobs_sent_once() {
    scenarios::malformed_fields_amid_valid_jobs(server(), faults_size(1_000, 10_000)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn large_jobs_under_a_memory_cap_are_each_sent_once() {
    scenarios::large_jobs_under_a_memory_cap(server(), faults_size(200, 1_000)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_with_64_sends_in_flight_exits_0_in_grace_losing_nothing() {
    scenarios::sigterm_with_sends_in_flight(server(), faults_size(300, 1_000)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_due_backlog_drains_and_a_job_for_now_is_not_stuck_behind_it() {
    scenarios::due_backlog(server(), faults_size(10_000, 1_000_000)).await;
}
