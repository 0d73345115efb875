//! Gmail's limits shared by every worker through Redis: a sender over its limit gets reserved
//! slots (no refusal, no head-of-line blocking), pauses and quarantines hold only that sender.

#[macro_use]
mod common;

use std::time::Duration;

use common::{Redis, config, queue, redis_conn};
use mailroom_jobs::JobId;
use mailroom_queue::{Admission, Hold, STATE_KEEP, SenderLimits};
use mailroom_testkit::{RedisCluster, RedisServer};
use redis::AsyncCommands as _;

fn limits(per_minute: u32, per_day: u32, project: u32) -> SenderLimits {
    SenderLimits {
        per_minute,
        per_day,
        project_per_minute: project,
        quarantine_recheck: Duration::from_secs(60),
    }
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

async fn over_the_minute_limit_jobs_get_spaced_slots(redis: Redis) {
    let q = queue(&redis, config()).await;
    let l = limits(3, 100, 1000);
    for i in 0..3 {
        match q.admit("A@Example.com", JobId::new(), &l).await.unwrap() {
            Admission::Go { minute_left, .. } => assert_eq!(minute_left, 2 - i),
            other => panic!("send {i}: {other:?}"),
        }
    }
    // The fourth and fifth wait a minute; each keeps its slot.
    let start = now_ms();
    let fourth = JobId::new();
    let Admission::Wait {
        until_ms,
        hold: Hold::Quota,
        minute_left: 0,
        ..
    } = q.admit("a@example.com", fourth, &l).await.unwrap()
    else {
        panic!("fourth send should wait")
    };
    assert!(
        (start + 59_000..=start + 61_000).contains(&until_ms),
        "{until_ms} vs {start}"
    );
    // Asking again before the slot keeps the same slot, and does not take a new one.
    let again = q.admit("a@example.com", fourth, &l).await.unwrap();
    assert!(matches!(again, Admission::Wait { until_ms: u, .. } if u == until_ms));
    // Another sender is not held up by this one.
    assert!(matches!(
        q.admit("b@example.com", JobId::new(), &l).await.unwrap(),
        Admission::Go { .. }
    ));
}

/// One call for five jobs of a sender allowed three a minute: the first three go, the others
/// wait a minute, each with its own slot kept for it; the next call finds the sender full.
async fn a_batch_of_one_senders_jobs_is_admitted_as_if_one_by_one(redis: Redis) {
    let q = queue(&redis, config()).await;
    let l = limits(3, 100, 1000);
    let keys = q.sender_keys("a@example.com");
    let jobs: Vec<JobId> = (0..5).map(|_| JobId::new()).collect();
    let start = now_ms();
    let answers = q.admit_many(&keys, &jobs, &l).await.unwrap();
    assert_eq!(answers.len(), 5);
    assert!(
        answers[..3].iter().all(|a| matches!(
            a,
            // What is left counts the two slots reserved for the others too.
            Admission::Go {
                minute_left: 0,
                day_left: 95
            }
        )),
        "{answers:?}"
    );
    for a in &answers[3..] {
        let Admission::Wait {
            until_ms,
            hold: Hold::Quota,
            ..
        } = a
        else {
            panic!("the fourth and fifth wait: {answers:?}")
        };
        assert!(
            (start + 59_000..=start + 61_000).contains(until_ms),
            "{a:?}"
        );
    }
    // The fifth keeps its slot when it asks again; a new job waits too.
    let again = q.admit_with(&keys, jobs[4], &l).await.unwrap();
    assert_eq!(again, answers[4]);
    assert!(matches!(
        q.admit_with(&keys, JobId::new(), &l).await.unwrap(),
        Admission::Wait {
            hold: Hold::Quota,
            ..
        }
    ));
}

/// What the console and `GET /v1/senders` show as used: the sends admitted in each window;
/// the slots reserved a minute ahead for the jobs that wait are not in the minute yet.
async fn usage_counts_the_sends_admitted_and_not_the_minutes_future_slots(redis: Redis) {
    let q = queue(&redis, config()).await;
    let l = limits(3, 100, 1000);
    let keys = q.sender_keys("a@example.com");
    let jobs: Vec<JobId> = (0..5).map(|_| JobId::new()).collect();
    q.admit_many(&keys, &jobs, &l).await.unwrap();
    let usage = q
        .sender_usage(&["A@example.com".into(), "b@example.com".into()])
        .await
        .unwrap();
    assert_eq!(usage[0].minute, 3, "{usage:?}");
    // The day's 15-minute bucket may also hold the two slots a minute ahead.
    assert!((3..=5).contains(&usage[0].day), "{usage:?}");
    assert_eq!((usage[1].minute, usage[1].day), (0, 0));
}

async fn the_project_limit_holds_every_sender(redis: Redis) {
    let q = queue(&redis, config()).await;
    let l = limits(100, 100, 2);
    for sender in ["a@example.com", "b@example.com"] {
        assert!(matches!(
            q.admit(sender, JobId::new(), &l).await.unwrap(),
            Admission::Go { .. }
        ));
    }
    assert!(matches!(
        q.admit("c@example.com", JobId::new(), &l).await.unwrap(),
        Admission::Wait {
            hold: Hold::Quota,
            ..
        }
    ));
}

async fn the_day_limit_reserves_a_slot_a_day_later(redis: Redis) {
    let q = queue(&redis, config()).await;
    let l = limits(100, 2, 1000);
    for _ in 0..2 {
        assert!(matches!(
            q.admit("a@example.com", JobId::new(), &l).await.unwrap(),
            Admission::Go { .. }
        ));
    }
    let start = now_ms();
    match q.admit("a@example.com", JobId::new(), &l).await.unwrap() {
        Admission::Wait {
            until_ms,
            hold: Hold::Quota,
            day_left: 0,
            ..
        } => assert!(until_ms >= start + 86_399_000, "{until_ms}"),
        other => panic!("{other:?}"),
    }
}

async fn pause_and_quarantine_hold_one_sender_until_lifted(redis: Redis) {
    let q = queue(&redis, config()).await;
    let l = limits(100, 100, 1000);
    let until = now_ms() + 3_600_000;
    q.pause_sender("a@example.com", until, "dailyLimitExceeded")
        .await
        .unwrap();
    // A shorter pause never shortens a longer one.
    q.pause_sender("a@example.com", now_ms() + 1000, "rateLimitExceeded")
        .await
        .unwrap();
    match q.admit("a@example.com", JobId::new(), &l).await.unwrap() {
        Admission::Wait {
            until_ms,
            hold: Hold::Paused(reason),
            ..
        } => {
            assert_eq!(until_ms, until);
            assert_eq!(reason, "dailyLimitExceeded");
        }
        other => panic!("{other:?}"),
    }
    assert!(
        q.quarantine_sender("b@example.com", "invalid_grant")
            .await
            .unwrap()
    );
    assert!(
        !q.quarantine_sender("b@example.com", "invalid_grant")
            .await
            .unwrap()
    );
    assert!(matches!(
        q.admit("b@example.com", JobId::new(), &l).await.unwrap(),
        Admission::Wait { hold: Hold::Quarantined(r), .. } if r == "invalid_grant"
    ));
    assert!(matches!(
        q.admit("c@example.com", JobId::new(), &l).await.unwrap(),
        Admission::Go { .. }
    ));
    let states = q.sender_states().await.unwrap();
    let b = states.iter().find(|s| s.sender == "b@example.com").unwrap();
    assert_eq!(b.quarantined.as_deref(), Some("invalid_grant"));
    let a = states.iter().find(|s| s.sender == "a@example.com").unwrap();
    assert_eq!(a.paused_until_ms, Some(until));
    assert!(q.release_sender("b@example.com").await.unwrap());
    assert!(matches!(
        q.admit("b@example.com", JobId::new(), &l).await.unwrap(),
        Admission::Go { .. }
    ));
}

/// Redis keeps state only for the senders of about the last day, whatever senders jobs name:
/// every key a sender leaves behind expires, and housekeeping then forgets the sender.
async fn an_idle_senders_keys_expire_and_it_is_forgotten(redis: Redis) {
    let q = queue(&redis, config()).await;
    let l = limits(100, 100, 1000);
    let keep = i64::try_from(STATE_KEEP.as_millis()).unwrap();
    let pause_end = now_ms() + 3_600_000;
    assert!(matches!(
        q.admit("a@example.com", JobId::new(), &l).await.unwrap(),
        Admission::Go { .. }
    ));
    q.pause_sender("b@example.com", pause_end, "dailyLimitExceeded")
        .await
        .unwrap();
    q.quarantine_sender("c@example.com", "invalid_grant")
        .await
        .unwrap();
    let mut conn = redis_conn(&redis).await;
    let ttl = async |conn: &mut mailroom_queue::Conn, key: &str| -> i64 {
        conn.pttl(q.key(key)).await.unwrap()
    };
    // A window's counters live as long as their newest bucket counts: the window and at
    // most one bucket more (1 s for the minute, 15 minutes for the day).
    for (key, window, bucket) in [
        ("v2:quota:a@example.com:minute", 60_000, 1000),
        ("v2:quota:a@example.com:day", 86_400_000, 900_000),
    ] {
        let left = ttl(&mut conn, key).await;
        assert!(
            left > window - 10_000 && left <= window + bucket,
            "{key}: {left}"
        );
    }
    // A paused sender's state outlives its pause by STATE_KEEP; a quarantined one's lives
    // STATE_KEEP from now, renewed each time one of its jobs asks to go.
    // The clock is read before the TTL, so the bound holds however long the read takes.
    let before = now_ms();
    let paused = ttl(&mut conn, "sender:b@example.com").await;
    assert!(
        paused > pause_end - now_ms() + keep - 60_000 && paused <= pause_end - before + keep,
        "{paused}"
    );
    let quarantined = ttl(&mut conn, "sender:c@example.com").await;
    assert!(
        quarantined > keep - 60_000 && quarantined <= keep,
        "{quarantined}"
    );
    assert!(matches!(
        q.admit("c@example.com", JobId::new(), &l).await.unwrap(),
        Admission::Wait {
            hold: Hold::Quarantined(_),
            ..
        }
    ));
    assert!(ttl(&mut conn, "sender:c@example.com").await > keep - 60_000);

    // Once a's logs have run out (as they do a day after its last send), housekeeping drops
    // it from the senders Redis keeps; b and c, whose state is alive, stay.
    let _: () = conn
        .del(&[
            q.key("v2:quota:a@example.com:minute"),
            q.key("v2:quota:a@example.com:day"),
        ])
        .await
        .unwrap();
    q.maintain().await.unwrap();
    let left: Vec<String> = q
        .sender_states()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.sender)
        .collect();
    assert_eq!(left, ["b@example.com", "c@example.com"]);
}

on_both!(
    usage_counts_the_sends_admitted_and_not_the_minutes_future_slots,
    a_batch_of_one_senders_jobs_is_admitted_as_if_one_by_one,
    an_idle_senders_keys_expire_and_it_is_forgotten,
    over_the_minute_limit_jobs_get_spaced_slots,
    the_project_limit_holds_every_sender,
    the_day_limit_reserves_a_slot_a_day_later,
    pause_and_quarantine_hold_one_sender_until_lifted,
);
