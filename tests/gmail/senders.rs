//! One sender held back without holding up the others: a daily limit parks it, refused
//! credentials quarantine it (until they work again), and the per-minute quota is shared by
//! every worker.

use std::time::Duration;

use mailroom_queue::JobState;
use mailroom_testkit::google::{FakeGoogle, Fault, FaultRule, Quota};

use crate::common::google::{OTHER, SENDER, gmail_env, wait_sent};
use crate::common::{eventually, job, states};
use crate::{Hold, enqueue, wait_sender, wait_state};

#[tokio::test(flavor = "multi_thread")]
async fn a_daily_limit_parks_only_that_sender() {
    let google = FakeGoogle::start();
    google.inject(FaultRule::send(Fault::daily_limit()).for_user(SENDER));
    let env = gmail_env(&google, "");
    let queue = env.queue().await;
    let parked = enqueue(&queue, &job(SENDER, "ann@example.org", "parked")).await;
    let worker = env.worker("w1", &[]);
    wait_sender(&queue, SENDER, Hold::Paused).await;
    let other = enqueue(&queue, &job(OTHER, "bob@example.org", "goes")).await;
    wait_state(&queue, other, JobState::Sent, Duration::from_secs(20)).await;
    let status = queue.status(parked).await.unwrap().unwrap();
    assert_eq!(status.state, JobState::Retrying, "{status:?}");
    // Google's daily quotas reset at midnight Pacific time: the sender waits until 08:00 UTC
    // (midnight in winter, 1 a.m. in summer).
    let due = status.due_at.unwrap();
    assert_eq!(
        due.time(),
        chrono::NaiveTime::from_hms_opt(8, 0, 0).unwrap(),
        "{due}"
    );
    assert!(due > chrono::Utc::now() && due <= chrono::Utc::now() + chrono::Duration::days(1));
    worker.stop();
    assert_eq!(google.sent_by(SENDER).len(), 0);
    assert_eq!(google.sent_by(OTHER).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sender_google_refuses_is_quarantined_while_others_keep_sending() {
    let google = FakeGoogle::start();
    let env = gmail_env(&google, "[credentials]\nquarantine_recheck = \"1h\"\n");
    let queue = env.queue().await;
    // Not a user of the Workspace domain: the token endpoint answers invalid_grant.
    let stranger = enqueue(&queue, &job("ghost@example.com", "ann@example.org", "no")).await;
    let worker = env.worker("w1", &[]);
    wait_sender(&queue, "ghost@example.com", Hold::Quarantined).await;
    let fine = enqueue(&queue, &job(SENDER, "bob@example.org", "yes")).await;
    wait_state(&queue, fine, JobState::Sent, Duration::from_secs(20)).await;
    let status = queue.status(stranger).await.unwrap().unwrap();
    assert_eq!(status.state, JobState::Retrying);
    assert_eq!(status.attempts, 0, "quarantine spends no attempt");
    assert!(status.last_error.unwrap().contains("invalid_grant"));
    worker.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn two_workers_share_a_senders_quota_and_another_sender_is_unaffected() {
    let google = FakeGoogle::start();
    // Gmail allows 10 sends a minute for each user here; so does mailroom.
    google.set_quota(Quota {
        units_per_user_per_minute: 1000,
        ..Quota::default()
    });
    let env = gmail_env(&google, "[quota]\nsender_per_minute = 10\n");
    let queue = env.queue().await;
    let mut busy = Vec::new();
    for i in 0..30 {
        busy.push(enqueue(&queue, &job(SENDER, &format!("u{i}@example.org"), "busy")).await);
    }
    let w1 = env.worker("w1", &[]);
    let w2 = env.worker("w2", &[]);
    let mut calm = Vec::new();
    for i in 0..5 {
        calm.push(enqueue(&queue, &job(OTHER, &format!("c{i}@example.org"), "calm")).await);
    }
    for id in &calm {
        wait_state(&queue, *id, JobState::Sent, Duration::from_secs(20)).await;
    }
    wait_sent(&google, 15, Duration::from_secs(20));
    // Every busy job has been through a worker: sent, or held for the next minute's quota.
    // Nothing more can go out within this minute, so the counts below are final.
    eventually(
        Duration::from_secs(20),
        "every busy job sent or held for quota",
        || {
            let (queue, busy) = (queue.clone(), busy.clone());
            async move {
                states(&queue, &busy)
                    .await
                    .iter()
                    .all(|s| matches!(s, Some(JobState::Sent | JobState::Retrying)))
            }
        },
    )
    .await;
    w1.stop();
    w2.stop();
    assert_eq!(
        google.sent_by(SENDER).len(),
        10,
        "exactly the minute's quota"
    );
    assert_eq!(google.sent_by(OTHER).len(), 5);
    assert_eq!(
        google.rate_limited_responses(SENDER),
        0,
        "Gmail never had to refuse"
    );
    let mut waiting = 0;
    for id in busy {
        let status = queue.status(id).await.unwrap().unwrap();
        if status.state == JobState::Retrying {
            waiting += 1;
            assert_eq!(status.attempts, 0, "waiting for quota spends no attempt");
            let due = status.due_at.unwrap();
            assert!(
                due > chrono::Utc::now() + chrono::Duration::seconds(40),
                "{due}"
            );
        }
    }
    assert_eq!(waiting, 20);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quarantined_sender_goes_again_once_its_credentials_work() {
    let google = FakeGoogle::start();
    let env = gmail_env(&google, "[credentials]\nquarantine_recheck = \"1s\"\n");
    let queue = env.queue().await;
    let id = enqueue(&queue, &job("late@example.com", "ann@example.org", "later")).await;
    let worker = env.worker("w1", &[]);
    wait_sender(&queue, "late@example.com", Hold::Quarantined).await;
    // The Workspace admin creates the user: the next look at its credentials succeeds.
    google.add_domain_user("late@example.com");
    wait_state(&queue, id, JobState::Sent, Duration::from_secs(20)).await;
    worker.stop();
    assert_eq!(google.sent_by("late@example.com").len(), 1);
    let states = queue.sender_states().await.unwrap();
    assert!(states.iter().all(|s| s.quarantined.is_none()), "{states:?}");
}
