//! Enqueueing, status and stats against a real Redis, each scenario on a single server and on a
//! three-node Redis Cluster. Several scenarios pin down a defect of apalis-redis 1.0.0 that this
//! queue must not have (named in the test's comment).

#[macro_use]
mod common;

use std::time::Duration;

use common::{
    Behaviour, Redis, TestWorker, config, eventually, job, job_with, queue, redis_conn, send_one,
    wait_until_past,
};
use mailroom_queue::{Cancelled, JobState, QueueConfig};
use mailroom_testkit::{RedisCluster, RedisServer};
use redis::AsyncCommands;

on_both!(
    dedup_without_ttl_setting_returns_first_job,
    batch_enqueue_is_delivered_in_full,
    a_batch_queues_only_the_ids_not_taken,
    stats_count_every_state,
    cancel_only_before_sending,
    expired_job_is_not_sent,
    finished_jobs_are_trimmed_after_retention,
);

/// apalis-redis: "a dedup key is ignored unless a TTL is set (three pushes, three jobs)".
async fn dedup_without_ttl_setting_returns_first_job(redis: Redis) {
    let q = queue(&redis, config()).await;
    let keyed = || {
        job_with(
            "a@example.com",
            serde_json::json!({"idempotency_key": "welcome-42"}),
        )
    };
    let first = q.enqueue(&keyed()).await.unwrap();
    let second = q.enqueue(&keyed()).await.unwrap();
    let third = q.enqueue(&keyed()).await.unwrap();
    assert!(!first.duplicate);
    assert!(second.duplicate && third.duplicate);
    assert_eq!((second.id, third.id), (first.id, first.id));
    let s = q.stats().await.unwrap();
    assert_eq!((s.ready, s.enqueued), (1, 1), "duplicates are not counted");

    // The key outlives the job's completion.
    let w = TestWorker::start(&q, "w", Behaviour::Send).await;
    w.seen.wait_for(1, Duration::from_secs(10)).await;
    w.stop().await;
    let again = q.enqueue(&keyed()).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(again.id, first.id);
    assert_eq!(q.stats().await.unwrap().ready, 0);

    // Re-sending the very same job (same id) is a duplicate too.
    let j = job("b@example.com");
    assert!(!q.enqueue(&j).await.unwrap().duplicate);
    assert!(q.enqueue(&j).await.unwrap().duplicate);
}

async fn batch_enqueue_is_delivered_in_full(redis: Redis) {
    let q = queue(&redis, config()).await;
    let jobs: Vec<_> = (0..500)
        .map(|i| job(&format!("u{i}@example.com")))
        .collect();
    let out = q.enqueue_many(&jobs).await.unwrap();
    assert_eq!(out.len(), 500);
    assert!(
        out.iter()
            .zip(&jobs)
            .all(|(e, j)| e.id == j.id() && !e.duplicate)
    );
    assert_eq!(q.stats().await.unwrap().ready, 500);
    let w = TestWorker::start(&q, "w", Behaviour::Send).await;
    w.seen.wait_for(500, Duration::from_secs(30)).await;
    let seen = w.stop().await;
    let mut ids = seen.ids();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 500, "every job exactly once");
    let s = q.status(jobs[7].id()).await.unwrap().unwrap();
    assert_eq!(s.state, JobState::Sent);
    assert_eq!(
        s.transport_id.as_deref(),
        Some(format!("msg-{}", jobs[7].id()).as_str())
    );
}

/// apalis-redis: "its stats calls fail (WRONGTYPE) or return zeros".
/// A batch with a job already sent (only its done record is left) and a new job given twice,
/// then one with a job still queued: only the new jobs are queued, each once.
async fn a_batch_queues_only_the_ids_not_taken(redis: Redis) {
    let q = queue(&redis, config()).await;
    let sent = job("sent@example.com");
    send_one(&q, &sent).await;
    let (twice, new, other) = (
        job("twice@example.com"),
        job("new@example.com"),
        job("other@example.com"),
    );
    let duplicates = async |batch: &[mailroom_jobs::EmailJob]| {
        let out = q.enqueue_many(batch).await.unwrap();
        assert!(out.iter().zip(batch).all(|(e, j)| e.id == j.id()));
        out.iter().map(|e| e.duplicate).collect::<Vec<bool>>()
    };
    let first = [sent.clone(), twice.clone(), twice.clone(), new.clone()];
    assert_eq!(duplicates(&first).await, [true, false, true, false]);
    assert_eq!(
        duplicates(&[twice.clone(), other.clone()]).await,
        [true, false]
    );
    let s = q.stats().await.unwrap();
    assert_eq!((s.ready, s.enqueued), (3, 4), "{s:?}");
    let w = TestWorker::start(&q, "w2", Behaviour::Send).await;
    w.seen.wait_for(3, Duration::from_secs(10)).await;
    let seen = w.stop().await;
    let mut ids = seen.ids();
    ids.sort();
    let mut want = vec![twice.id(), new.id(), other.id()];
    want.sort();
    assert_eq!(ids, want, "each new job sent once, the sent one not again");
}

async fn stats_count_every_state(redis: Redis) {
    let q = queue(&redis, config()).await;
    let empty = q.stats().await.unwrap();
    assert_eq!(
        (empty.ready, empty.scheduled, empty.in_flight, empty.dead),
        (0, 0, 0, 0)
    );
    assert_eq!(empty.oldest_ready_age, None);
    assert_eq!((empty.oldest_ready_at, empty.enqueued), (None, 0));

    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    q.enqueue_many(&[
        job("a@example.com"),
        job("b@example.com"),
        job("c@example.com"),
    ])
    .await
    .unwrap();
    q.enqueue(&job_with(
        "d@example.com",
        serde_json::json!({"send_at": later}),
    ))
    .await
    .unwrap();
    // Not a wait for anything: the time that passes is what the age below measures. The oldest
    // entry was written before this sleep began, so its age is at least the 200 ms slept.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let s = q.stats().await.unwrap();
    assert_eq!((s.ready, s.scheduled, s.in_flight, s.dead), (3, 1, 0, 0));
    let age = s.oldest_ready_age.expect("an oldest ready job");
    assert!(
        age >= Duration::from_millis(200) && age < Duration::from_secs(10),
        "{age:?}"
    );
    let at = s.oldest_ready_at.expect("the oldest ready job's time");
    let since = chrono::Utc::now() - at;
    assert!(
        since >= chrono::Duration::milliseconds(200) && since < chrono::Duration::seconds(10),
        "{at}"
    );
    assert_eq!(s.enqueued, 4, "scheduled jobs count as enqueued");

    // A worker that never finishes holds its deliveries in flight.
    let w = TestWorker::start(&q, "w", Behaviour::Vanish).await;
    w.seen.wait_for(3, Duration::from_secs(10)).await;
    let s = q.stats().await.unwrap();
    assert_eq!((s.ready, s.scheduled, s.in_flight), (0, 1, 3));
    assert_eq!(s.oldest_ready_age, None);
    assert_eq!(s.enqueued, 4);
    w.crash();
}

async fn cancel_only_before_sending(redis: Redis) {
    let q = queue(&redis, config()).await;
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let queued = job("a@example.com");
    let scheduled = job_with("b@example.com", serde_json::json!({"send_at": later}));
    q.enqueue_many(&[queued.clone(), scheduled.clone()])
        .await
        .unwrap();
    assert_eq!(q.cancel(queued.id()).await.unwrap(), Cancelled::Cancelled);
    assert_eq!(
        q.cancel(scheduled.id()).await.unwrap(),
        Cancelled::Cancelled
    );
    assert_eq!(
        q.cancel(mailroom_jobs::JobId::new()).await.unwrap(),
        Cancelled::NotFound
    );
    let sent = job("c@example.com");
    q.enqueue(&sent).await.unwrap();
    let w = TestWorker::start(&q, "w", Behaviour::Send).await;
    w.seen.wait_for(1, Duration::from_secs(10)).await;
    // `sent` came after the cancelled jobs in the stream, so a delivery of either would have
    // been started no later; stopping waits for every delivery started.
    let seen = w.stop().await;
    assert_eq!(
        seen.ids(),
        vec![sent.id()],
        "cancelled jobs are never delivered"
    );
    assert_eq!(
        q.cancel(sent.id()).await.unwrap(),
        Cancelled::TooLate(JobState::Sent)
    );
    assert_eq!(
        q.status(queued.id()).await.unwrap().unwrap().state,
        JobState::Cancelled
    );
    let s = q.stats().await.unwrap();
    assert_eq!((s.ready, s.scheduled), (0, 0));
}

async fn expired_job_is_not_sent(redis: Redis) {
    let q = queue(&redis, config()).await;
    let soon = chrono::Utc::now() + chrono::Duration::milliseconds(300);
    let j = job_with(
        "a@example.com",
        serde_json::json!({"expires_at": soon.to_rfc3339()}),
    );
    q.enqueue(&j).await.unwrap();
    // Past the expiry by the clock the worker hands to Redis when it starts a delivery.
    wait_until_past(soon.timestamp_millis()).await;
    let w = TestWorker::start(&q, "w", Behaviour::Send).await;
    let fresh = job("b@example.com");
    q.enqueue(&fresh).await.unwrap();
    w.seen.wait_for(1, Duration::from_secs(10)).await;
    let seen = w.stop().await;
    assert_eq!(seen.ids(), vec![fresh.id()]);
    assert_eq!(
        q.status(j.id()).await.unwrap().unwrap().state,
        JobState::Expired
    );
    let activity = q.activity();
    assert_eq!(
        (activity.expired, activity.duplicate, activity.redis_errors),
        (1, 0, 0),
        "{activity:?}"
    );
}

/// apalis-redis: "finished job ids are never trimmed".
async fn finished_jobs_are_trimmed_after_retention(redis: Redis) {
    let cfg = QueueConfig {
        retention: Duration::from_secs(2),
        ..config()
    };
    let q = queue(&redis, cfg).await;
    let j = job("a@example.com");
    q.enqueue(&j).await.unwrap();
    let w = TestWorker::start(&q, "w", Behaviour::Send).await;
    w.seen.wait_for(1, Duration::from_secs(10)).await;
    w.stop().await;
    let s = q.status(j.id()).await.unwrap().unwrap();
    assert_eq!(s.state, JobState::Sent);
    assert!(s.finished_at.is_some());
    let mut c = redis_conn(&redis).await;
    // A sent job's record is a field of the done bucket of its id's second, which expires as
    // a whole.
    let record = q.key(&format!("v2:done:{}", j.id().timestamp_ms() / 1000));
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&record)
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(
        (1..=2000).contains(&ttl),
        "expires after the retention: {ttl} ms"
    );
    // Redis expires the record on its own clock, `ttl` ms from now.
    eventually(
        Duration::from_millis(ttl.unsigned_abs() + 600),
        "record trimmed after retention",
        async || q.status(j.id()).await.unwrap().is_none().then_some(()),
    )
    .await;
    let len: u64 = c
        .xlen(format!("{{{}}}:v2:ready", q.config().name))
        .await
        .unwrap();
    assert_eq!(len, 0, "acknowledged entries are deleted from the stream");
}
