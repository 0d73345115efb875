//! Gmail refusing a send: server errors retried with backoff, a rate limit waited out
//! without spending an attempt, a bad request dead-lettered at once, and an answer lost after
//! delivery retried under the same `Message-ID`.

use std::time::{Duration, SystemTime};

use mail_parser::MessageParser;
use mailroom_queue::JobState;
use mailroom_testkit::google::{FakeGoogle, Fault, FaultRule};

use crate::common::google::{SENDER, gmail_env};
use crate::common::job;
use crate::{enqueue, wait_state};

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_are_retried_with_backoff_until_delivered() {
    let google = FakeGoogle::start();
    google.inject(FaultRule::send(Fault::unavailable()).times(1));
    google.inject(FaultRule::send(Fault::backend_error()).times(1));
    google.inject(FaultRule::send(Fault::BadGateway).times(1));
    let env = gmail_env(&google, "");
    let queue = env.queue().await;
    let id = enqueue(&queue, &job(SENDER, "ann@example.org", "retry")).await;
    let worker = env.worker("w1", &[]);
    wait_state(&queue, id, JobState::Sent, Duration::from_secs(30)).await;
    worker.stop();
    assert_eq!(google.sent().len(), 1);
    let status = queue.status(id).await.unwrap().unwrap();
    assert_eq!(status.attempts, 3, "three failed attempts, then sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limit_waits_for_retry_after_without_spending_an_attempt() {
    let google = FakeGoogle::start();
    google.inject(FaultRule::send(Fault::rate_limited(Duration::from_secs(2))).times(1));
    let env = gmail_env(&google, "");
    let queue = env.queue().await;
    let started = SystemTime::now();
    let id = enqueue(&queue, &job(SENDER, "ann@example.org", "slow down")).await;
    let worker = env.worker("w1", &[]);
    wait_state(&queue, id, JobState::Sent, Duration::from_secs(30)).await;
    worker.stop();
    let sent = google.sent();
    assert_eq!(sent.len(), 1);
    let waited = sent[0].at.duration_since(started).unwrap();
    assert!(waited >= Duration::from_secs(2), "retried after {waited:?}");
    let status = queue.status(id).await.unwrap().unwrap();
    assert_eq!(status.attempts, 0, "a rate limit spends no attempt");
    assert_eq!(status.deliveries, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_request_is_dead_lettered_at_once_with_googles_message() {
    let google = FakeGoogle::start();
    google.inject(FaultRule::send(Fault::bad_request("Invalid To header")));
    let env = gmail_env(&google, "");
    let queue = env.queue().await;
    let id = enqueue(&queue, &job(SENDER, "ann@example.org", "bad")).await;
    let worker = env.worker("w1", &[]);
    wait_state(&queue, id, JobState::Dead, Duration::from_secs(20)).await;
    worker.stop();
    let status = queue.status(id).await.unwrap().unwrap();
    assert_eq!(status.deliveries, 1, "no retry");
    assert!(
        status
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("Invalid To header"),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_lost_after_delivery_is_retried_with_the_same_message_id() {
    let google = FakeGoogle::start();
    google.inject(FaultRule::send(Fault::DropConnection).times(1));
    let env = gmail_env(&google, "");
    let queue = env.queue().await;
    let id = enqueue(&queue, &job(SENDER, "ann@example.org", "ambiguous")).await;
    let worker = env.worker("w1", &[]);
    wait_state(&queue, id, JobState::Sent, Duration::from_secs(30)).await;
    worker.stop();
    let sent = google.sent();
    assert_eq!(sent.len(), 2, "the lost answer made a second send");
    let ids: Vec<String> = sent
        .iter()
        .map(|m| {
            MessageParser::default()
                .parse(&m.raw)
                .and_then(|p| p.message_id().map(str::to_owned))
                .expect("Message-ID")
        })
        .collect();
    assert_eq!(ids[0], ids[1], "the duplicate carries the same Message-ID");
}
