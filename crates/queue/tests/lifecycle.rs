//! Leases under long sends, what a stopping worker hands back, and a queue over a unix socket.

mod common;

use std::time::Duration;

use common::{Behaviour, Redis, TestWorker, config, job, queue, send_one, status_when};
use mailroom_jobs::{EmailJob, JobId};
use mailroom_queue::{JobState, Queue, QueueConfig};
use mailroom_testkit::RedisServer;

/// A Redis and a queue whose leases run out after one second.
async fn one_second_lease() -> (Redis, mailroom_queue::Queue) {
    let redis = Redis::Single(RedisServer::start());
    let lease = Duration::from_secs(1);
    let q = queue(&redis, QueueConfig { lease, ..config() }).await;
    (redis, q)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_longer_than_the_lease_is_not_taken_over() {
    // A 2 s lease, renewed every 2/3 s; the send takes 5 s, two and a half leases.
    let redis = Redis::Single(RedisServer::start());
    let q = queue(&redis, config()).await;
    assert_eq!(q.config().lease, Duration::from_secs(2));
    let j = job("slow@example.com");
    q.enqueue(&j).await.unwrap();
    let slow = TestWorker::start(&q, "slow", Behaviour::Slow(5000)).await;
    slow.seen.wait_for(1, Duration::from_secs(10)).await;
    // A second worker watches for expired leases the whole time.
    let other = TestWorker::start(&q, "other", Behaviour::Send).await;
    // Until the slow send's outcome is recorded, two and a half leases after it started.
    let s = status_when(&q, j.id(), Duration::from_secs(10), |s| {
        s.state != JobState::InFlight
    })
    .await;
    assert_eq!(s.state, JobState::Sent);
    let other_seen = other.stop().await;
    let slow_seen = slow.stop().await;
    assert_eq!(
        other_seen.len(),
        0,
        "the live lease was renewed, never taken over"
    );
    assert_eq!(slow_seen.len(), 1);
}

/// Enqueues `n` jobs, lets a worker with one slow slot send at least one, stops it, and checks
/// that it left nothing held and every unsent job back in the queue. Returns the jobs and the
/// ids sent.
async fn stopped_midway(q: &Queue, n: usize) -> (Vec<EmailJob>, Vec<JobId>) {
    let jobs: Vec<_> = (0..n).map(|i| job(&format!("u{i}@example.com"))).collect();
    q.enqueue_many(&jobs).await.unwrap();
    let w = TestWorker::start_with(q, "w", Behaviour::Slow(300), 1).await;
    w.seen.wait_for(1, Duration::from_secs(10)).await;
    let sent = w.stop().await.ids();
    let done = sent.len();
    assert!((1..n).contains(&done), "{done} sent before the stop");
    let s = q.stats().await.unwrap();
    assert_eq!(s.in_flight, 0, "nothing left held by the stopped worker");
    assert_eq!(s.ready as usize, n - done, "the rest is back in the queue");
    (jobs, sent)
}

/// A new worker sends the `left` jobs still queued; returns their ids.
async fn sent_by_a_new_worker(q: &Queue, left: usize) -> Vec<JobId> {
    let w = TestWorker::start(q, "w", Behaviour::Send).await;
    w.seen.wait_for(left, Duration::from_secs(20)).await;
    let sent = w.stop().await.ids();
    assert_eq!(q.stats().await.unwrap().ready, 0);
    sent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_worker_finishes_in_flight_and_hands_back_the_rest() {
    let redis = Redis::Single(RedisServer::start());
    let q = queue(&redis, config()).await;
    // One slot and a fetch batch of 128: most fetched jobs wait in the worker's buffer.
    let (jobs, sent) = stopped_midway(&q, 50).await;
    for j in &jobs {
        let state = q.status(j.id()).await.unwrap().unwrap().state;
        assert!(
            matches!(state, JobState::Sent | JobState::Queued),
            "{state:?}"
        );
    }
    sent_by_a_new_worker(&q, 50 - sent.len()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_worker_hands_back_the_batch_it_read_ahead() {
    let redis = Redis::Single(RedisServer::start());
    // Batches of 5 among 60 jobs: each full batch has the next one read while it starts.
    // Without the hand-back, the batch read ahead would stay pending under the stopped worker
    // until its lease ran out.
    let config = QueueConfig {
        batch: 5,
        ..config()
    };
    let q = queue(&redis, config).await;
    let (_, first) = stopped_midway(&q, 60).await;
    let rest = sent_by_a_new_worker(&q, 60 - first.len()).await;
    let sent: Vec<_> = first.into_iter().chain(rest).collect();
    let once: std::collections::HashSet<_> = sent.iter().collect();
    assert_eq!((sent.len(), once.len()), (60, 60), "every job sent once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_outcome_from_a_worker_that_lost_its_lease_changes_nothing() {
    let (_redis, q) = one_second_lease().await;
    let j = job("a@example.com");
    q.enqueue(&j).await.unwrap();
    // The first worker takes the job, then stalls (no lease renewal) while holding it.
    let stalled = TestWorker::start(&q, "stalled", Behaviour::Keep).await;
    stalled.seen.wait_for(1, Duration::from_secs(10)).await;
    let stale = stalled.kept.0.lock().unwrap().pop().expect("a kept lease");
    stalled.crash();
    // Another worker takes the job over and is busy sending it.
    let heir = TestWorker::start(&q, "heir", Behaviour::Slow(2000)).await;
    heir.seen.wait_for(1, Duration::from_secs(10)).await;
    // The stalled worker wakes up and tries to reschedule and to hand back the job: ignored.
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    stale.retry_at(later, "stale", true).await.unwrap();
    let s = q.stats().await.unwrap();
    assert_eq!((s.scheduled, s.ready, s.in_flight), (0, 0, 1), "{s:?}");
    assert_eq!(
        q.status(j.id()).await.unwrap().unwrap().state,
        JobState::InFlight
    );
    heir.seen.wait_for(1, Duration::from_secs(10)).await;
    let seen = heir.stop().await;
    assert_eq!(seen.len(), 1);
    let status = q.status(j.id()).await.unwrap().unwrap();
    assert_eq!(status.state, JobState::Sent);
    assert_eq!(status.attempts, 0, "the stale retry spent no attempt");
    assert_eq!(q.stats().await.unwrap().scheduled, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_over_a_unix_socket_delivers() {
    let server = RedisServer::start_with(mailroom_testkit::RedisOptions {
        unix_socket: true,
        ..Default::default()
    });
    assert!(
        server.url().starts_with("redis+unix://"),
        "{}",
        server.url()
    );
    let redis = Redis::Single(server);
    let q = queue(&redis, config()).await;
    send_one(&q, &job("a@example.com")).await;
}
