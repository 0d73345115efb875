//! Mail going out through Gmail: as a Workspace user through the service account, in the
//! right thread, with tokens refreshed before they expire or after a 401, and as a plain Gmail
//! account with a stored refresh token.

use std::time::Duration;

use mail_parser::MessageParser;
use mailroom_jobs::EmailJob;
use mailroom_queue::JobState;
use mailroom_testkit::google::{FakeGoogle, Fault, FaultRule, GMAIL_SEND_SCOPE};

use crate::common::google::{SENDER, gmail_env, wait_tokens_expired};
use crate::common::{self, job};
use crate::{enqueue, wait_state};

#[tokio::test(flavor = "multi_thread")]
async fn a_workspace_sender_delivers_through_gmail_and_the_ids_are_recorded() {
    let google = FakeGoogle::start();
    let env = gmail_env(&google, "");
    let queue = env.queue().await;
    let first = enqueue(&queue, &job(SENDER, "ann@example.org", "Grüße ✓")).await;
    let worker = env.worker("w1", &[]);
    wait_state(&queue, first, JobState::Sent, Duration::from_secs(20)).await;

    let sent = google.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].user, SENDER, "sent as the job's sender");
    let msg = MessageParser::default()
        .parse(&sent[0].raw)
        .expect("parses");
    assert_eq!(msg.subject(), Some("Grüße ✓"));
    assert_eq!(
        msg.to().and_then(|a| a.first()).and_then(|a| a.address()),
        Some("ann@example.org")
    );
    assert_eq!(
        msg.message_id().map(|m| m.ends_with("@example.com")),
        Some(true)
    );
    let status = queue.status(first).await.unwrap().unwrap();
    assert_eq!(status.transport_id.as_deref(), Some(sent[0].id.as_str()));
    assert_eq!(
        status.thread_id.as_deref(),
        Some(sent[0].thread_id.as_str())
    );

    // A reply with the thread hint lands in the same Gmail thread.
    let reply = serde_json::json!({
        "version": "v1", "from": SENDER, "to": ["ann@example.org"], "subject": "Re: Grüße ✓",
        "text": "Following up", "thread": {"thread_id": sent[0].thread_id},
    });
    let reply = EmailJob::from_json(reply.to_string().as_bytes()).unwrap();
    let second = enqueue(&queue, &reply).await;
    wait_state(&queue, second, JobState::Sent, Duration::from_secs(20)).await;
    let sent = google.sent();
    assert_eq!(sent[1].thread_id, sent[0].thread_id);
    let log = worker.stop();
    assert!(
        !log.contains("ann@example.org"),
        "recipients are masked in logs"
    );
    assert!(!log.contains("PRIVATE KEY"), "no key material in logs");
}

#[tokio::test(flavor = "multi_thread")]
async fn short_lived_tokens_are_refreshed_without_a_failed_send() {
    let google = FakeGoogle::start();
    google.set_token_lifetime(Duration::from_secs(2));
    let env = gmail_env(&google, "");
    let queue = env.queue().await;
    let worker = env.worker("w1", &[]);
    let mut ids = Vec::new();
    // Each mail is enqueued once every token issued before it has expired: each send needs a
    // fresh token, and a worker that sent with the expired one would meet a 401.
    for i in 0..3 {
        wait_tokens_expired(&google, Duration::from_secs(2)).await;
        let id = enqueue(&queue, &job(SENDER, &format!("u{i}@example.org"), "tick")).await;
        wait_state(&queue, id, JobState::Sent, Duration::from_secs(20)).await;
        ids.push(id);
    }
    worker.stop();
    let statuses = google.responses_by_status();
    assert_eq!(
        statuses.keys().copied().collect::<Vec<_>>(),
        vec![200],
        "{statuses:?}"
    );
    let grants = google.token_grants();
    assert!(grants.len() >= 2, "tokens were refreshed: {grants:?}");
    assert!(grants.iter().all(|g| g.ok), "{grants:?}");
    for id in ids {
        let status = queue.status(id).await.unwrap().unwrap();
        assert_eq!(
            (status.attempts, status.deliveries),
            (0, 1),
            "no failed attempt"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_401_gets_one_fresh_token_and_goes_through() {
    let google = FakeGoogle::start();
    google.inject(FaultRule::send(Fault::unauthorized()).times(1));
    let env = gmail_env(&google, "");
    let queue = env.queue().await;
    let id = enqueue(&queue, &job(SENDER, "ann@example.org", "401")).await;
    let worker = env.worker("w1", &[]);
    wait_state(&queue, id, JobState::Sent, Duration::from_secs(20)).await;
    worker.stop();
    let status = queue.status(id).await.unwrap().unwrap();
    assert_eq!(
        (status.attempts, status.deliveries),
        (0, 1),
        "sent in the same delivery"
    );
    assert_eq!(
        google.token_grants().len(),
        2,
        "one token, then one fresh token"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plain_gmail_account_with_a_stored_refresh_token_delivers() {
    use std::sync::Arc;

    use mailroom_testkit::google::ClientKind;
    use mailroom_worker::credentials::{TokenKeys, TokenStore};

    let google = FakeGoogle::start();
    google.set_token_lifetime(Duration::from_secs(2));
    let client = google.oauth_client(ClientKind::Installed);
    let refresh = google.authorized_user(&client, "alice@gmail.example");
    let env = gmail_env(
        &google,
        "[jobs]\nallowed_senders = [\"alice@gmail.example\"]\n",
    );
    let secrets =
        common::write_secret(env.dir.path(), "client_secret.json", client.json.as_bytes());
    let key_line = TokenKeys::generate_line("k1");
    let keys = TokenKeys::parse(&key_line, "test", false).expect("a key");
    let queue = env.queue().await;
    TokenStore::new(queue.clone(), Arc::new(keys))
        .put(
            "alice@gmail.example",
            &secrecy::SecretString::from(refresh.clone()),
            &client.client_id,
            &[GMAIL_SEND_SCOPE.to_owned()],
        )
        .await
        .expect("store the token");

    let mut ids = Vec::new();
    for i in 0..3 {
        let j = job(
            "Alice <alice@gmail.example>",
            &format!("f{i}@example.org"),
            "Hi from Alice",
        );
        ids.push(enqueue(&queue, &j).await);
    }
    let worker = env.worker(
        "w1",
        &[
            ("MAILROOM__CREDENTIALS__KIND", "authorized_user"),
            (
                "MAILROOM__CREDENTIALS__CLIENT_SECRETS",
                secrets.to_str().unwrap(),
            ),
            ("MAILROOM_TOKEN_KEYS", key_line.trim()),
        ],
    );
    for id in &ids {
        wait_state(&queue, *id, JobState::Sent, Duration::from_secs(20)).await;
    }
    // Past the token's two seconds: the next send refreshes first and still goes through.
    wait_tokens_expired(&google, Duration::from_secs(2)).await;
    let late = enqueue(
        &queue,
        &job("alice@gmail.example", "late@example.org", "Later"),
    )
    .await;
    wait_state(&queue, late, JobState::Sent, Duration::from_secs(20)).await;
    let log = worker.stop();

    let sent = google.sent_by("alice@gmail.example");
    assert_eq!(sent.len(), 4);
    let msg = MessageParser::default()
        .parse(&sent[0].raw)
        .expect("parses");
    assert_eq!(msg.subject(), Some("Hi from Alice"));
    assert_eq!(
        msg.from().and_then(|a| a.first()).and_then(|a| a.address()),
        Some("alice@gmail.example")
    );
    assert_eq!(
        google
            .responses_by_status()
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        vec![200]
    );
    let refreshes = google
        .token_grants()
        .iter()
        .filter(|g| g.grant_type == "refresh_token" && g.ok)
        .count();
    assert!(
        refreshes >= 2,
        "the expired token was refreshed ({refreshes})"
    );
    assert!(
        !log.contains(&refresh),
        "the refresh token never reaches the log"
    );
}
