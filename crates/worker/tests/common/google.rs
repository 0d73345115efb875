//! A world whose worker sends through the fake Google.

use std::time::{Duration, Instant};

use mailroom_testkit::google::{FakeGoogle, GMAIL_SEND_SCOPE};

use super::Env;

/// The Workspace sender every Gmail world can send as.
pub const SENDER: &str = "noreply@example.com";
/// A second Workspace sender of the same domain.
pub const OTHER: &str = "billing@example.com";

/// A world whose worker sends through the fake Google as a Workspace service account with
/// domain-wide delegation for `noreply@` and `billing@example.com`.
pub fn gmail_env(google: &FakeGoogle, extra: &str) -> Env {
    let account = google.service_account("mailer@demo-project.iam.gserviceaccount.com");
    google.grant_delegation(&account.client_id, &[GMAIL_SEND_SCOPE]);
    google.add_domain_user(SENDER);
    google.add_domain_user(OTHER);
    let dir = tempfile::tempdir().expect("temp dir");
    let key = super::write_file(
        dir.path(),
        "service-account.json",
        account.key_json.as_bytes(),
    );
    // The key file must outlive the worker: keep it inside the world's own directory.
    let toml = format!(
        "[transport]\nkind = \"gmail\"\n\n\
         [google]\napi_base = \"{base}\"\ntoken_url = \"{token}\"\nauth_url = \"{auth}\"\n\
         userinfo_url = \"{userinfo}\"\nrevoke_url = \"{revoke}\"\ntimeout = \"3s\"\n\n\
         [retry]\nbase = \"200ms\"\ncap = \"1s\"\n\n{extra}",
        base = google.base_url(),
        token = google.token_url(),
        auth = google.auth_url(),
        userinfo = google.userinfo_url(),
        revoke = google.revoke_url(),
    );
    let env = Env::new(&toml);
    let kept = env.dir.path().join("service-account.json");
    std::fs::copy(&key, &kept).expect("copy the key");
    let mut env = env;
    env.vars.push((
        "MAILROOM__CREDENTIALS__SERVICE_ACCOUNT_KEY".to_owned(),
        kept.display().to_string(),
    ));
    env
}

/// Waits until the fake has accepted at least `n` messages.
pub fn wait_sent(google: &FakeGoogle, n: usize, within: Duration) {
    let deadline = Instant::now() + within;
    while google.sent().len() < n {
        assert!(
            Instant::now() < deadline,
            "the fake received {} of {n} messages",
            google.sent().len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
