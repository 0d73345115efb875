//! `gmail.check_before_resend` end to end: `mailroom auth check` verifies the extra
//! `gmail.metadata` scope when the option is on, and an answer lost after Gmail took the
//! message is found in the sender's SENT instead of being sent again.

use std::time::Duration;

use mailroom_queue::JobState;
use mailroom_testkit::google::{FakeGoogle, Fault, FaultRule, GMAIL_SEND_SCOPE};

use crate::common::google::{SENDER, gmail_env};
use crate::common::job;
use crate::{enqueue, wait_state};

/// The service account's client id, from the key file the world wrote.
fn client_id(env: &crate::common::Env) -> String {
    let key = std::fs::read_to_string(env.dir.path().join("service-account.json")).unwrap();
    let key: serde_json::Value = serde_json::from_str(&key).unwrap();
    key["client_id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_check_verifies_the_metadata_scope_when_the_check_is_on() {
    let google = FakeGoogle::start();
    let env = gmail_env(&google, "[gmail]\ncheck_before_resend = true\n");
    let out = env.run(&["auth", "check", SENDER]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout(), out.stderr());
    assert!(
        out.stdout().contains(&format!("{SENDER}  ok")),
        "{}",
        out.stdout()
    );

    // The delegation grant covers gmail.send only: no token with gmail.metadata.
    google.grant_delegation(&client_id(&env), &[GMAIL_SEND_SCOPE]);
    let out = env.run(&["auth", "check", SENDER]);
    assert_eq!(out.code(), Some(1), "{}{}", out.stdout(), out.stderr());
    assert!(
        out.stdout().contains("unauthorized_client") || out.stdout().contains("delegation"),
        "{}",
        out.stdout()
    );

    // With the option off, gmail.send is all a sender needs.
    let mut off = env;
    off.vars.push((
        "MAILROOM__GMAIL__CHECK_BEFORE_RESEND".to_owned(),
        "false".to_owned(),
    ));
    let out = off.run(&["auth", "check", SENDER]);
    assert_eq!(out.code(), Some(0), "{}{}", out.stdout(), out.stderr());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_gmail_took_before_the_connection_dropped_is_not_sent_again() {
    let google = FakeGoogle::start();
    google.inject(FaultRule::send(Fault::DropConnection).once());
    let env = gmail_env(&google, "[gmail]\ncheck_before_resend = true\n");
    let queue = env.queue().await;
    let id = enqueue(&queue, &job(SENDER, "ann@example.org", "once")).await;
    let worker = env.worker("w1", &[]);
    wait_state(&queue, id, JobState::Sent, Duration::from_secs(30)).await;
    let log = worker.stop();
    let sent = google.sent();
    assert_eq!(sent.len(), 1, "sent once");
    let status = queue.status(id).await.unwrap().unwrap();
    assert_eq!(status.attempts, 1, "the dropped answer spent an attempt");
    assert_eq!(status.transport_id.as_deref(), Some(sent[0].id.as_str()));
    assert!(log.contains("already in the sender's SENT"), "{log}");
    assert_eq!(google.read_calls().lists, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_check_that_fails_sends_again_as_without_it() {
    let google = FakeGoogle::start();
    google.inject(FaultRule::send(Fault::DropConnection).once());
    google.inject(FaultRule::read(Fault::unavailable()));
    let env = gmail_env(&google, "[gmail]\ncheck_before_resend = true\n");
    let queue = env.queue().await;
    let id = enqueue(&queue, &job(SENDER, "ann@example.org", "twice")).await;
    let worker = env.worker("w1", &[]);
    wait_state(&queue, id, JobState::Sent, Duration::from_secs(30)).await;
    let log = worker.stop();
    assert_eq!(google.sent().len(), 2, "sent again after the failed check");
    assert!(
        log.contains("the check before a resend failed; sending again"),
        "{log}"
    );
}
