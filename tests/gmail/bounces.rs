//! `gmail.read_bounces` end to end: recipients the fake Google marks undeliverable bounce
//! back into the sender's inbox as Gmail's delivery status notifications; the worker's
//! bounce reader finds them through `users.history.list`, links each to its job by the
//! original `Message-ID`, records it in the job's status, and suppresses hard-bounced
//! recipients; a bounce for mail mailroom did not send is ignored; with two replicas each
//! bounce is processed once, by the one holding the reader's lock.

use std::time::Duration;

use mailroom_jobs::JobId;
use mailroom_queue::{JobState, Queue};
use mailroom_testkit::google::{FakeGoogle, GMAIL_SEND_SCOPE, Undeliverable};

use crate::common::google::{SENDER, gmail_env};
use crate::common::http::{get, listen_addr, sample};
use crate::common::{Env, Worker, eventually, job};
use crate::{enqueue, wait_state};

/// The reader on, polling every second, reading `noreply@example.com`'s mailbox.
const READER: &str = "[jobs]\nallowed_senders = [\"noreply@example.com\"]\n\n\
                      [gmail]\nread_bounces = true\nbounce_poll = \"1s\"\n";

/// A world with the reader on, whose place in the sender's mailbox is set before anything
/// was sent, so that it reads every bounce to come.
async fn reader_env(google: &FakeGoogle) -> (Env, Queue) {
    let env = gmail_env(google, READER);
    let queue = env.queue().await;
    queue.set_bounce_cursor(SENDER, 0).await.unwrap();
    (env, queue)
}

/// Waits until job `id`'s status lists `n` bounces.
async fn wait_bounced(queue: &Queue, id: JobId, n: usize) {
    eventually(
        Duration::from_secs(30),
        &format!("job {id} to list {n} bounce(s)"),
        || async { queue.status(id).await.unwrap().unwrap().bounced.len() >= n },
    )
    .await;
}

/// The worker's `mailroom_bounces_total{kind=KIND}`.
fn bounces(worker: &mut Worker, kind: &str) -> f64 {
    let scrape = get(&listen_addr(worker), "/metrics").body;
    sample(
        &scrape,
        &format!("mailroom_bounces_total{{kind=\"{kind}\"}}"),
    )
    .unwrap_or(-1.0)
}

/// What `mailroom suppress check ADDRESS` says.
fn suppressed(env: &Env, address: &str) -> String {
    env.run(&["suppress", "check", address]).stdout()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hard_bounce_suppresses_and_a_soft_one_is_only_recorded() {
    let google = FakeGoogle::start();
    google.undeliverable("gone@example.org", Undeliverable::Hard);
    google.undeliverable("full@example.org", Undeliverable::Soft);
    let (env, queue) = reader_env(&google).await;
    let mut worker = env.worker("w1", &[]);
    let hard = enqueue(&queue, &job(SENDER, "Gone <gone@example.org>", "hello")).await;
    let soft = enqueue(&queue, &job(SENDER, "full@example.org", "hello")).await;
    let fine = enqueue(&queue, &job(SENDER, "ann@example.org", "hello")).await;
    wait_bounced(&queue, hard, 1).await;
    wait_bounced(&queue, soft, 1).await;

    let hard_status = queue.status(hard).await.unwrap().unwrap();
    assert_eq!(hard_status.state, JobState::Sent);
    let [bounce] = hard_status.bounced.as_slice() else {
        panic!("one bounce: {:?}", hard_status.bounced)
    };
    assert_eq!(bounce.recipient, "gone@example.org");
    assert_eq!(bounce.status, "5.1.1");
    assert!(bounce.diagnostic.contains("does not exist"), "{bounce:?}");
    let soft_status = queue.status(soft).await.unwrap().unwrap();
    assert_eq!(soft_status.bounced.len(), 1);
    assert_eq!(soft_status.bounced[0].status, "4.2.2");
    assert!(
        queue
            .status(fine)
            .await
            .unwrap()
            .unwrap()
            .bounced
            .is_empty()
    );

    let check = suppressed(&env, "gone@example.org");
    assert!(
        check.contains("is suppressed (global): hard_bounce"),
        "{check}"
    );
    let check = suppressed(&env, "full@example.org");
    assert!(check.contains("is not suppressed"), "{check}");
    let shown = env.run(&["status", &hard.to_string()]).ok();
    assert!(
        shown.contains("bounced") && shown.contains("5.1.1 (hard"),
        "{shown}"
    );
    assert_eq!(bounces(&mut worker, "hard"), 1.0);
    assert_eq!(bounces(&mut worker, "soft"), 1.0);

    // The next job to the hard-bounced address is not sent.
    let again = enqueue(&queue, &job(SENDER, "gone@example.org", "again")).await;
    wait_state(&queue, again, JobState::Suppressed, Duration::from_secs(30)).await;
    worker.stop();
    assert_eq!(google.sent_by(SENDER).len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bounce_after_the_job_record_expired_still_suppresses() {
    let google = FakeGoogle::start();
    google.undeliverable("gone@example.org", Undeliverable::Hard);
    let env = gmail_env(
        &google,
        "[jobs]\nallowed_senders = [\"noreply@example.com\"]\n",
    );
    let queue = env.queue().await;
    // Sent (and bounced) while no reader runs.
    let sender_only = env.worker("w1", &[]);
    let id = enqueue(&queue, &job(SENDER, "gone@example.org", "hello")).await;
    wait_state(&queue, id, JobState::Sent, Duration::from_secs(30)).await;
    sender_only.stop();
    assert_eq!(google.received_by(SENDER).len(), 1, "the bounce arrived");
    // The record expires (as it does after queue.retention) before the reader runs.
    let _: i64 = redis::cmd("HDEL")
        .arg(queue.key(&format!("v2:done:{}", id.timestamp_ms() / 1000)))
        .arg(id.to_string())
        .query_async(&mut queue.connection())
        .await
        .unwrap();
    assert!(
        queue.status(id).await.unwrap().is_none(),
        "the record is gone"
    );
    queue.set_bounce_cursor(SENDER, 0).await.unwrap();
    let mut reader = env.worker(
        "w2",
        &[
            ("MAILROOM__GMAIL__READ_BOUNCES", "true"),
            ("MAILROOM__GMAIL__BOUNCE_POLL", "1s"),
        ],
    );
    eventually(
        Duration::from_secs(30),
        "the address to be suppressed",
        || async { suppressed(&env, "gone@example.org").contains("hard_bounce") },
    )
    .await;
    assert_eq!(bounces(&mut reader, "hard"), 1.0);
    assert!(
        queue.status(id).await.unwrap().is_none(),
        "no record is made up"
    );
    let log = reader.stop();
    assert!(log.contains("\"record\":\"expired\""), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bounce_for_a_message_mailroom_did_not_send_is_ignored() {
    let google = FakeGoogle::start();
    google.undeliverable("gone@example.org", Undeliverable::Hard);
    let (env, _queue) = reader_env(&google).await;
    // Sent from Gmail's own client: a Message-ID mailroom does not make.
    google.send_directly(
        SENDER,
        b"From: noreply@example.com\r\nTo: gone@example.org\r\nSubject: by hand\r\n\
          Message-ID: <CAF=x1y2z3@mail.gmail.com>\r\n\r\nhello\r\n",
    );
    assert_eq!(google.received_by(SENDER).len(), 1, "the bounce arrived");
    let mut worker = env.worker("w1", &[]);
    eventually(Duration::from_secs(30), "the bounce to be counted", || {
        let n = bounces(&mut worker, "unmatched");
        async move { n == 1.0 }
    })
    .await;
    assert!(suppressed(&env, "gone@example.org").contains("is not suppressed"));
    assert_eq!(bounces(&mut worker, "hard"), 0.0);
    let log = worker.stop();
    assert!(
        log.contains("a bounce for a message mailroom did not send"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_two_replicas_each_bounce_is_processed_once() {
    let google = FakeGoogle::start();
    let (env, queue) = reader_env(&google).await;
    let mut ids = Vec::new();
    for i in 0..8 {
        let to = format!("gone{i}@example.org");
        let kind = if i % 2 == 0 {
            Undeliverable::Hard
        } else {
            Undeliverable::Soft
        };
        google.undeliverable(&to, kind);
        ids.push(enqueue(&queue, &job(SENDER, &to, "hello")).await);
    }
    let mut w1 = env.worker("w1", &[]);
    let mut w2 = env.worker("w2", &[]);
    for &id in &ids {
        wait_bounced(&queue, id, 1).await;
    }
    // Two more rounds after the last bounce was recorded: nothing is recorded again.
    let calls = google.history_calls();
    eventually(
        Duration::from_secs(30),
        "two more reading rounds",
        || async { google.history_calls() >= calls + 2 },
    )
    .await;
    for &id in &ids {
        let status = queue.status(id).await.unwrap().unwrap();
        assert_eq!(status.bounced.len(), 1, "{id}: {:?}", status.bounced);
    }
    let counted: Vec<f64> = [&mut w1, &mut w2]
        .into_iter()
        .map(|w| bounces(w, "hard") + bounces(w, "soft"))
        .collect();
    assert_eq!(counted.iter().sum::<f64>(), 8.0, "{counted:?}");
    assert!(
        counted.contains(&0.0),
        "one reader at a time: the lock's holder read every bounce ({counted:?})"
    );
    for i in (0..8).step_by(2) {
        assert!(suppressed(&env, &format!("gone{i}@example.org")).contains("hard_bounce"));
    }
    w1.stop();
    w2.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_check_verifies_the_readonly_scope_when_bounces_are_read() {
    let google = FakeGoogle::start();
    let env = gmail_env(&google, READER);
    let out = env.run(&["auth", "check", SENDER]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout(), out.stderr());
    let key = std::fs::read_to_string(env.dir.path().join("service-account.json")).unwrap();
    let key: serde_json::Value = serde_json::from_str(&key).unwrap();
    google.grant_delegation(key["client_id"].as_str().unwrap(), &[GMAIL_SEND_SCOPE]);
    let out = env.run(&["auth", "check", SENDER]);
    assert_eq!(out.code(), Some(1), "{}{}", out.stdout(), out.stderr());
}
