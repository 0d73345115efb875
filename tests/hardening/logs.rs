//! No secret in the worker's output at any level: `RUST_LOG=trace` through token refreshes
//! (a service account's JWT grant, then a stored refresh token) and sends; none of what the
//! fake Google issued or received (access and refresh tokens, assertions, client secrets,
//! private-key lines), nor the token keys, appears in the log.

use std::sync::Arc;
use std::time::Duration;

use mailroom_jobs::JobId;
use mailroom_queue::JobState;
use mailroom_testkit::google::{ClientKind, FakeGoogle};
use mailroom_worker::credentials::{GMAIL_SEND_SCOPE, TokenKeys, TokenStore};
use secrecy::SecretString;

use crate::common::google::{SENDER, gmail_env, wait_tokens_expired};
use crate::common::{Env, job, write_secret};
use crate::wait_state;

const LIFETIME: Duration = Duration::from_secs(4);

/// Sends one job, lets every token expire, sends another (so a token is minted, then
/// refreshed), and returns the worker's whole output at `RUST_LOG=trace`.
async fn two_sends_across_a_refresh(env: &Env, google: &FakeGoogle) -> String {
    let queue = env.queue().await;
    let mut worker = env.worker("w", &[("RUST_LOG", "trace")]);
    let send = |subject: &'static str| {
        let queue = queue.clone();
        async move {
            let id: JobId = queue
                .enqueue(&job(SENDER, "ann@example.org", subject))
                .await
                .unwrap()
                .id;
            wait_state(&queue, id, JobState::Sent, Duration::from_secs(30)).await;
        }
    };
    send("first").await;
    wait_tokens_expired(google, LIFETIME).await;
    send("second").await;
    worker.assert_running();
    let log = worker.stop();
    let grants = google.token_grants().iter().filter(|g| g.ok).count();
    assert!(grants >= 2, "a token minted and refreshed: {grants} grants");
    log
}

/// Fails naming the first secret found in `log`.
fn assert_no_secret(log: &str, secrets: &[String]) {
    assert!(
        log.contains("\"level\":\"TRACE\"") || log.contains("TRACE"),
        "the log is at trace level"
    );
    for secret in secrets.iter().filter(|s| s.len() >= 16) {
        let head: String = secret.chars().take(24).collect();
        assert!(
            !log.contains(secret.as_str()) && !log.contains(&head),
            "a secret starting {:?} is in the log",
            &head[..8]
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_service_account_at_trace_logs_no_token_assertion_or_key() {
    let google = FakeGoogle::start();
    google.set_token_lifetime(LIFETIME);
    let env = gmail_env(&google, "");
    let log = two_sends_across_a_refresh(&env, &google).await;
    assert_no_secret(&log, &google.secrets());
}

#[tokio::test(flavor = "multi_thread")]
async fn stored_refresh_tokens_at_trace_log_no_token_or_client_secret() {
    let google = FakeGoogle::start();
    google.set_token_lifetime(LIFETIME);
    let client = google.oauth_client(ClientKind::Installed);
    let key_line = TokenKeys::generate_line("k1");
    let dir = tempfile::tempdir().unwrap();
    let client_file = write_secret(dir.path(), "client_secret.json", client.json.as_bytes());
    let keys_file = write_secret(dir.path(), "token-keys", format!("{key_line}\n").as_bytes());
    let env = gmail_env(
        &google,
        &format!(
            "[credentials]\nkind = \"authorized_user\"\nclient_secrets = \"{}\"\n\
             token_keys = \"{}\"\n",
            client_file.display(),
            keys_file.display()
        ),
    );
    let refresh = google.authorized_user(&client, SENDER);
    let keys = Arc::new(TokenKeys::parse(&key_line, "token-keys", false).unwrap());
    TokenStore::new(env.queue().await, keys)
        .put(
            SENDER,
            &SecretString::from(refresh),
            &client.client_id,
            &[GMAIL_SEND_SCOPE.to_owned()],
        )
        .await
        .unwrap();
    let log = two_sends_across_a_refresh(&env, &google).await;
    let mut secrets = google.secrets();
    secrets.push(key_line.split_once(':').unwrap().1.to_owned());
    assert_no_secret(&log, &secrets);
}
