//! `Lease::sent_in_background`: the handler is done at once, the delivery stays held until its
//! outcome is written, and `Tracker::flushed` (which the backend waits for before it stops)
//! returns only once every such outcome has landed, even when Redis was slow to take them.

#[macro_use]
mod common;

use std::time::Duration;

use common::{
    Behaviour, Redis, TestWorker, config, eventually, job_with, pending_count, queue, redis_conn,
};
use mailroom_jobs::{EmailJob, JobId};
use mailroom_queue::JobState;
use mailroom_testkit::RedisServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flushed_waits_for_the_sends_left_in_the_background() {
    let redis = Redis::Single(RedisServer::start());
    let q = queue(&redis, config()).await;
    let mut c = redis_conn(&redis).await;
    let jobs: Vec<EmailJob> = (0..20)
        .map(|i| {
            job_with(
                &format!("r{i}@example.com"),
                serde_json::json!({ "text": "hi" }),
            )
        })
        .collect();
    let ids: Vec<JobId> = jobs.iter().map(EmailJob::id).collect();
    q.enqueue_many(&jobs).await.unwrap();
    let w = TestWorker::start(&q, "w", Behaviour::Keep).await;
    eventually(Duration::from_secs(10), "every job delivered", async || {
        (w.kept.0.lock().unwrap().len() == ids.len()).then_some(())
    })
    .await;
    // Redis takes no write for a while, so none of the sends can land before it ends.
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(1500)
        .arg("WRITE")
        .query_async(&mut c)
        .await
        .unwrap();
    let leases: Vec<_> = std::mem::take(&mut *w.kept.0.lock().unwrap());
    for lease in leases {
        lease.sent_in_background(Some("msg"), None, None);
    }
    // The handlers are done with them, but the deliveries stay held (renewed, counted in the
    // budget) until their outcomes are written; `flushed` waits for that.
    assert_eq!(w.tracker.len(), ids.len(), "held while being written");
    w.tracker.flushed().await;
    // Read-only commands on a connection of the test's own go through while writes are paused.
    assert_eq!(w.tracker.len(), 0, "nothing held once written");
    assert_eq!(
        pending_count(&mut c, &q).await,
        0,
        "every delivery acknowledged"
    );
    for id in &ids {
        let status = q.status(*id).await.unwrap().expect("a status");
        assert_eq!(status.state, JobState::Sent, "job {id} recorded as sent");
    }
    w.stop().await;
}

/// A send left in the background while Redis is down is retried until Redis is back: it is
/// held meanwhile, and then recorded as sent and acknowledged, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_left_in_the_background_during_an_outage_lands_once_redis_is_back() {
    let mut redis = Redis::durable();
    let q = queue(&redis, config()).await;
    let j = job_with("r@example.com", serde_json::json!({ "text": "hi" }));
    q.enqueue(&j).await.unwrap();
    let w = TestWorker::start(&q, "w", Behaviour::Keep).await;
    eventually(Duration::from_secs(10), "the job delivered", async || {
        (w.kept.0.lock().unwrap().len() == 1).then_some(())
    })
    .await;
    redis.server().kill();
    let lease = w.kept.0.lock().unwrap().pop().expect("a lease");
    lease.sent_in_background(Some("msg"), None, None);
    // The write fails and is retried: the delivery stays held.
    eventually(Duration::from_secs(10), "a failed write", async || {
        (q.activity().redis_errors > 0).then_some(())
    })
    .await;
    assert_eq!(w.tracker.len(), 1, "held while Redis is down");
    redis.server().restart();
    tokio::time::timeout(Duration::from_secs(30), w.tracker.flushed())
        .await
        .expect("written once Redis is back");
    assert_eq!(w.tracker.len(), 0, "nothing held once written");
    let mut c = redis_conn(&redis).await;
    assert_eq!(pending_count(&mut c, &q).await, 0, "acknowledged");
    let status = q.status(j.id()).await.unwrap().expect("a status");
    assert_eq!(status.state, JobState::Sent);
    assert_eq!(status.transport_id.as_deref(), Some("msg"));
    assert_eq!(q.activity().duplicate_sends, 0);
    w.stop().await;
}
