//! A sent job's record once its own hash is gone: a field of the done bucket of its id's
//! second. Its status reads back as before (ids, counts, the sending mailbox, suppressions,
//! metadata, later bounces), a second send after a takeover keeps both ids and is counted, the
//! same job id cannot be enqueued again, the job cannot be cancelled, and a stray stream entry
//! of it is dropped without a second send. On a single server and on a three-node Redis Cluster.

#[macro_use]
mod common;

use std::time::Duration;

use chrono::Utc;
use mailroom_jobs::JobId;
use mailroom_queue::{
    Bounce, BounceRecorded, Cancelled, JobState, Lease, Queue, SuppressReason, SuppressScope,
    Suppression,
};
use mailroom_testkit::{RedisCluster, RedisServer};
use redis::AsyncCommands;

use common::{
    Behaviour, Redis, TestWorker, config, eventually, job, job_with, queue, redis_conn,
    status_when, wait_until_past,
};

on_both!(
    a_sent_jobs_status_reads_back_from_its_done_record,
    a_second_send_keeps_both_ids_in_the_done_record,
    an_expired_jobs_done_record_keeps_its_times_and_metadata,
    a_stray_entry_of_a_sent_job_is_dropped
);

/// Waits until `kept` holds a lease of `id`, and takes it.
async fn take(kept: &common::Kept, id: JobId) -> Lease {
    eventually(Duration::from_secs(15), "a kept lease", async || {
        let mut kept = kept.0.lock().unwrap();
        let at = kept.iter().position(|l| l.job_id() == id)?;
        Some(kept.swap_remove(at))
    })
    .await
}

/// Whether the job's own hash and its done record exist.
async fn layout(redis: &Redis, q: &Queue, id: JobId) -> (bool, bool) {
    let mut c = redis_conn(redis).await;
    let hash: bool = redis::cmd("EXISTS")
        .arg(q.key(&format!("job:{id}")))
        .query_async(&mut c)
        .await
        .unwrap();
    let done: bool = redis::cmd("HEXISTS")
        .arg(q.key(&format!("v2:done:{}", id.timestamp_ms() / 1000)))
        .arg(id.to_string())
        .query_async(&mut c)
        .await
        .unwrap();
    (hash, done)
}

async fn a_sent_jobs_status_reads_back_from_its_done_record(redis: Redis) {
    let q = queue(&redis, config()).await;
    let expires = Utc::now() + chrono::Duration::hours(1);
    let j = job_with(
        "a@example.com",
        serde_json::json!({
            "metadata": {"order": "42"},
            "tags": ["welcome"],
            "expires_at": expires.to_rfc3339(),
        }),
    );
    q.enqueue(&j).await.unwrap();
    let before = q.status(j.id()).await.unwrap().expect("a status");
    let w = TestWorker::start(&q, "w", Behaviour::Keep).await;
    // One failed attempt first, so the record has attempts and deliveries to keep.
    take(&w.kept, j.id())
        .await
        .retry_at(Utc::now(), "transient: try later", true)
        .await
        .unwrap();
    let mut lease = take(&w.kept, j.id()).await;
    let dropped = Suppression {
        address: "gone@example.com".into(),
        scope: SuppressScope::Global,
        reason: SuppressReason::Manual,
        at: Utc::now(),
    };
    lease.note_suppressed(serde_json::to_string(&[&dropped]).unwrap());
    lease
        .sent_as(Some("gmail-1"), Some("thread-1"), Some("b@example.com"))
        .await
        .unwrap();

    assert_eq!(
        layout(&redis, &q, j.id()).await,
        (false, true),
        "a done record only"
    );
    let s = q.status(j.id()).await.unwrap().expect("a status");
    assert_eq!(s.state, JobState::Sent);
    assert_eq!(s.transport_id.as_deref(), Some("gmail-1"));
    assert_eq!(s.thread_id.as_deref(), Some("thread-1"));
    assert_eq!(s.sent_as.as_deref(), Some("b@example.com"));
    assert_eq!((s.attempts, s.deliveries), (1, 2));
    assert_eq!(s.suppressed, [dropped]);
    assert_eq!(s.metadata.get("order").map(String::as_str), Some("42"));
    assert_eq!(s.tags, ["welcome"]);
    assert_eq!(s.created_at, before.created_at);
    assert_eq!(
        s.expires_at.map(|t| t.timestamp_millis()),
        Some(expires.timestamp_millis())
    );
    assert!(s.finished_at.is_some() && s.duplicate_ids.is_empty());

    // A bounce read back later joins the done record, which keeps everything else.
    let bounce = Bounce {
        recipient: "a@example.com".into(),
        status: "5.1.1".into(),
        diagnostic: "no such user".into(),
        at: Utc::now(),
    };
    let recorded = q
        .record_bounces("bounce-1", j.id(), std::slice::from_ref(&bounce))
        .await
        .unwrap();
    assert_eq!(recorded, BounceRecorded::Linked);
    let after = q.status(j.id()).await.unwrap().expect("a status");
    assert_eq!(after.bounced, [bounce]);
    assert_eq!(without_bounces(after), without_bounces(s));

    let again = q.enqueue(&j).await.unwrap();
    assert!(again.duplicate, "a sent job's id is taken: {again:?}");
    assert_eq!(
        q.cancel(j.id()).await.unwrap(),
        Cancelled::TooLate(JobState::Sent)
    );
    assert_eq!(q.stats().await.unwrap().ready, 0, "nothing queued again");
    w.stop().await;
}

/// A status with its bounces left out, to compare the rest.
fn without_bounces(mut s: mailroom_queue::JobStatus) -> mailroom_queue::JobStatus {
    s.bounced.clear();
    s
}

/// Worker A holds the job and hangs; worker B takes it over once its lease runs out, and both
/// copies go out: the done record keeps the first send's ids and extras and lists the later
/// send's id, which is counted as a duplicate send.
async fn a_second_send_keeps_both_ids_in_the_done_record(redis: Redis) {
    let q = queue(&redis, config()).await;
    let j = job_with("a@example.com", serde_json::json!({"tags": ["t"]}));
    q.enqueue(&j).await.unwrap();
    let a = TestWorker::start(&q, "a", Behaviour::Keep).await;
    let first = take(&a.kept, j.id()).await;
    a.crash();
    let b = TestWorker::start(&q, "b", Behaviour::Keep).await;
    let second = take(&b.kept, j.id()).await;
    second
        .sent_as(
            Some("gmail-b"),
            Some("thread-b"),
            Some("pool-1@example.com"),
        )
        .await
        .unwrap();
    first
        .sent_as(
            Some("gmail-a"),
            Some("thread-a"),
            Some("pool-2@example.com"),
        )
        .await
        .unwrap();

    let s = q.status(j.id()).await.unwrap().expect("a status");
    assert_eq!(s.state, JobState::Sent);
    assert_eq!(
        s.transport_id.as_deref(),
        Some("gmail-b"),
        "the first send's id stays"
    );
    assert_eq!(s.thread_id.as_deref(), Some("thread-b"));
    assert_eq!(s.sent_as.as_deref(), Some("pool-1@example.com"));
    assert_eq!(
        s.duplicate_ids,
        ["gmail-a"],
        "the later send's id is kept beside it"
    );
    assert_eq!(s.tags, ["t"]);
    assert_eq!(q.activity().duplicate_sends, 1, "{:?}", q.activity());
    assert_eq!(layout(&redis, &q, j.id()).await, (false, true));
    b.stop().await;
}

/// A job past its expiry when delivered is recorded `expired` as a done record (by
/// `finish.lua`, from its job hash): its status keeps its enqueue time, expiry, metadata and
/// tags, names the reason, and the job can be neither cancelled nor enqueued again.
async fn an_expired_jobs_done_record_keeps_its_times_and_metadata(redis: Redis) {
    let q = queue(&redis, config()).await;
    let soon = Utc::now() + chrono::Duration::milliseconds(300);
    let j = job_with(
        "a@example.com",
        serde_json::json!({
            "expires_at": soon.to_rfc3339(),
            "metadata": {"order": "7"},
            "tags": ["late"],
        }),
    );
    q.enqueue(&j).await.unwrap();
    let before = q.status(j.id()).await.unwrap().expect("a status");
    wait_until_past(soon.timestamp_millis()).await;
    let w = TestWorker::start(&q, "w", Behaviour::Send).await;
    let fresh = job("b@example.com");
    q.enqueue(&fresh).await.unwrap();
    w.seen.wait_for(1, Duration::from_secs(10)).await;
    eventually(
        Duration::from_secs(10),
        "the job recorded expired",
        async || {
            let s = q.status(j.id()).await.unwrap()?;
            (s.state == JobState::Expired).then_some(s)
        },
    )
    .await;
    assert_eq!(w.stop().await.ids(), vec![fresh.id()]);

    assert_eq!(
        layout(&redis, &q, j.id()).await,
        (false, true),
        "a done record only"
    );
    let s = q.status(j.id()).await.unwrap().expect("a status");
    assert_eq!(
        s.last_error.as_deref(),
        Some("expired before it could be sent")
    );
    assert_eq!(s.created_at, before.created_at);
    assert_eq!(s.expires_at, before.expires_at);
    assert_eq!((s.metadata, s.tags), (before.metadata, before.tags));
    assert!(s.finished_at.is_some_and(|t| t >= before.created_at));
    assert!(s.transport_id.is_none() && s.thread_id.is_none());
    assert_eq!(
        q.cancel(j.id()).await.unwrap(),
        Cancelled::TooLate(JobState::Expired)
    );
    assert!(q.enqueue(&j).await.unwrap().duplicate);
}

/// An entry of a job already sent (its record now a done record, its hash gone), as a
/// producer's repeated push or a lost acknowledgement leaves one: the job is not run again, the
/// entry is acknowledged, and the jobs around it run.
async fn a_stray_entry_of_a_sent_job_is_dropped(redis: Redis) {
    let q = queue(&redis, config()).await;
    let name = q.config().name.clone();
    let first = job("first@example.com");
    q.enqueue(&first).await.unwrap();
    let w = TestWorker::start(&q, "w", Behaviour::Send).await;
    w.seen.wait_for(1, Duration::from_secs(10)).await;
    status_when(&q, first.id(), Duration::from_secs(10), |s| {
        s.state == JobState::Sent
    })
    .await;
    let mut c = redis_conn(&redis).await;
    let _: String = c
        .xadd(
            format!("{{{name}}}:v2:ready"),
            "*",
            &[
                ("id", first.id().to_string()),
                ("p", first.to_json_string()),
            ],
        )
        .await
        .unwrap();
    let after = job("after@example.com");
    q.enqueue(&after).await.unwrap();
    w.seen.wait_for(2, Duration::from_secs(10)).await;
    eventually(
        Duration::from_secs(10),
        "the stray entry acknowledged",
        async || {
            let stats = q.stats().await.unwrap();
            (stats.ready == 0 && stats.in_flight == 0).then_some(())
        },
    )
    .await;
    let seen = w.seen.ids();
    w.stop().await;
    assert_eq!(seen, [first.id(), after.id()], "the sent job ran once");
    assert_eq!(q.activity().duplicate, 1, "{:?}", q.activity());
}
