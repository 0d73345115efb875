//! An operator's pause and resume of one sender: the pause holds that sender's jobs (others
//! go on); resume ends it at once and makes the jobs it held due now, leaving alone a job of
//! another sender due at the same moment. On a single server and on a Redis Cluster.

#[macro_use]
mod common;

use std::time::Duration;

use chrono::{TimeZone as _, Utc};
use common::{Behaviour, Redis, TestWorker, config, job, job_with, queue, status_when};
use mailroom_jobs::JobId;
use mailroom_queue::{Admission, Hold, JobState, Resumed, SenderLimits};
use mailroom_testkit::{RedisCluster, RedisServer};

on_both!(resume_ends_a_pause_and_wakes_the_jobs_it_held);

async fn resume_ends_a_pause_and_wakes_the_jobs_it_held(redis: Redis) {
    let q = queue(&redis, config()).await;
    let limits = SenderLimits::GMAIL;
    let until = q
        .pause_sender_for(
            "NoReply@example.com",
            Duration::from_secs(3600),
            "paused by an operator",
        )
        .await
        .unwrap();
    assert!(matches!(
        q.admit("noreply@example.com", JobId::new(), &limits).await.unwrap(),
        Admission::Wait { hold: Hold::Paused(r), until_ms, .. }
            if r == "paused by an operator" && until_ms == until
    ));

    // Two jobs held by the pause as the worker's gate holds them (due at its end): one of
    // the paused sender, one of another sender due at the same millisecond.
    let mine = job("a@example.org");
    let other = job_with(
        "b@example.org",
        serde_json::json!({"from": "other@example.com"}),
    );
    q.enqueue_many(&[mine.clone(), other.clone()])
        .await
        .unwrap();
    let holder = TestWorker::start(&q, "holder", Behaviour::Keep).await;
    holder.seen.wait_for(2, Duration::from_secs(10)).await;
    let leases: Vec<_> = std::mem::take(&mut *holder.kept.0.lock().unwrap());
    let at = Utc.timestamp_millis_opt(until).unwrap();
    for lease in leases {
        lease.retry_at(at, "sender paused", false).await.unwrap();
    }
    holder.stop().await;
    for j in [&mine, &other] {
        let s = q.status(j.id()).await.unwrap().unwrap();
        assert_eq!((s.state, s.due_at), (JobState::Retrying, Some(at)));
    }

    let resumed = q.resume_sender("noreply@example.com").await.unwrap();
    assert_eq!(
        resumed,
        Resumed {
            was_paused: true,
            woken: 1
        }
    );
    let state = q.sender_states().await.unwrap();
    let me = state
        .iter()
        .find(|s| s.sender == "noreply@example.com")
        .unwrap();
    assert_eq!(
        (me.paused_until_ms, me.pause_reason.as_deref()),
        (None, None)
    );
    assert!(matches!(
        q.admit("noreply@example.com", JobId::new(), &limits)
            .await
            .unwrap(),
        Admission::Go { .. }
    ));

    // The held job goes now, an hour early; the other sender's stays until its time.
    let sender = TestWorker::start(&q, "sender", Behaviour::Send).await;
    status_when(&q, mine.id(), Duration::from_secs(10), |s| {
        s.state == JobState::Sent
    })
    .await;
    let left = q.status(other.id()).await.unwrap().unwrap();
    assert_eq!((left.state, left.due_at), (JobState::Retrying, Some(at)));
    sender.stop().await;

    // Resuming a sender that is not paused changes nothing.
    assert_eq!(
        q.resume_sender("noreply@example.com").await.unwrap(),
        Resumed {
            was_paused: false,
            woken: 0
        }
    );
}
