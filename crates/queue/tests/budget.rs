//! A worker's byte budget: it holds at most `max_held_bytes` of jobs (payload, metadata and
//! tags as stored) at once, starts what it deferred in order as leases end, and still takes a
//! job larger than the whole budget, alone. On a single server and on a three-node cluster.

#[macro_use]
mod common;

use std::time::Duration;

use common::{
    Behaviour, Redis, TestWorker, config, eventually, job_with, pending_count, queue, redis_conn,
};
use mailroom_jobs::{EmailJob, JobId};
use mailroom_queue::{JobState, Queue};
use mailroom_testkit::{RedisCluster, RedisServer};

on_both!(a_worker_holds_no_more_than_its_byte_budget);

/// A job whose text is `bytes` long.
fn sized(bytes: usize) -> EmailJob {
    job_with(
        "big@example.com",
        serde_json::json!({ "text": "a".repeat(bytes) }),
    )
}

/// How many of `ids` are in `state`.
async fn count(q: &Queue, ids: &[JobId], state: JobState) -> usize {
    let mut n = 0;
    for id in ids {
        if q.status(*id)
            .await
            .unwrap()
            .is_some_and(|s| s.state == state)
        {
            n += 1;
        }
    }
    n
}

/// Sends whatever the worker holds until every one of `ids` is sent; returns the most it held.
async fn send_all(q: &Queue, w: &TestWorker, ids: &[JobId]) -> usize {
    let mut most = 0;
    eventually(Duration::from_secs(30), "every job sent", async || {
        let held: Vec<_> = std::mem::take(&mut *w.kept.0.lock().unwrap());
        most = most.max(held.len());
        for lease in held {
            lease.sent(Some("msg"), None).await.unwrap();
        }
        (count(q, ids, JobState::Sent).await == ids.len()).then_some(())
    })
    .await;
    most
}

async fn a_worker_holds_no_more_than_its_byte_budget(redis: Redis) {
    let q = queue(&redis, config()).await;
    let mut c = redis_conn(&redis).await;
    // Ten jobs of about 300 KB in a budget of 1 MiB: three fit at once.
    let jobs: Vec<EmailJob> = (0..10).map(|_| sized(300_000)).collect();
    let ids: Vec<JobId> = jobs.iter().map(EmailJob::id).collect();
    q.enqueue_many(&jobs).await.unwrap();
    let w = TestWorker::start_budgeted(&q, "w", Behaviour::Keep, 1 << 20).await;
    // One read takes all ten entries; the start that follows it is one pipelined read of
    // their records: once three are handed to the handler, the seven others were deferred,
    // delivered to the worker (so in flight) but waiting for room.
    eventually(Duration::from_secs(10), "three jobs started", async || {
        let pending = pending_count(&mut c, &q).await;
        let kept = w.kept.0.lock().unwrap().len();
        (pending == 10 && kept >= 3).then_some(())
    })
    .await;
    assert_eq!(w.kept.0.lock().unwrap().len(), 3, "the budget holds three");
    assert_eq!(
        count(&q, &ids, JobState::InFlight).await,
        10,
        "the rest wait, held by the worker"
    );
    assert!(
        send_all(&q, &w, &ids).await <= 3,
        "never more than three held"
    );

    // A job larger than the whole budget is taken once the worker holds nothing.
    let big = sized(1_500_000);
    q.enqueue(&big).await.unwrap();
    assert_eq!(send_all(&q, &w, &[big.id()]).await, 1);
    w.stop().await;
}
