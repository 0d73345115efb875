//! A world whose worker sends through the fake Google.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use mailroom_jobs::JobId;
use mailroom_testkit::RedisServer;
use mailroom_testkit::google::{
    FakeGoogle, GMAIL_METADATA_SCOPE, GMAIL_READONLY_SCOPE, GMAIL_SEND_SCOPE,
    GMAIL_SETTINGS_BASIC_SCOPE, SentMessage,
};

use super::{Backing, Env};

/// The Workspace sender every Gmail world can send as.
pub const SENDER: &str = "noreply@example.com";
/// A second Workspace sender of the same domain.
pub const OTHER: &str = "billing@example.com";

/// A world whose worker sends through the fake Google as a Workspace service account with
/// domain-wide delegation for `noreply@` and `billing@example.com`.
pub fn gmail_env(google: &FakeGoogle, extra: &str) -> Env {
    gmail_env_on(Backing::Server(RedisServer::start()), google, extra)
}

/// A world like [`gmail_env`]'s on a Redis of the caller's choosing (a server with
/// persistence, a cluster). Unless `extra` has a `[jobs]` table, the senders allowed are
/// `*@example.com` (the gmail transport refuses an empty list).
pub fn gmail_env_on(redis: Backing, google: &FakeGoogle, extra: &str) -> Env {
    let account = google.service_account("mailer@demo-project.iam.gserviceaccount.com");
    // gmail.metadata and gmail.readonly too, for worlds with gmail.check_before_resend or
    // gmail.read_bounces, and gmail.settings.basic for those with gmail.check_send_as.
    google.grant_delegation(
        &account.client_id,
        &[
            GMAIL_SEND_SCOPE,
            GMAIL_METADATA_SCOPE,
            GMAIL_READONLY_SCOPE,
            GMAIL_SETTINGS_BASIC_SCOPE,
        ],
    );
    google.add_domain_user(SENDER);
    google.add_domain_user(OTHER);
    let jobs = if extra.contains("[jobs]") {
        ""
    } else {
        "[jobs]\nallowed_senders = [\"*@example.com\"]\n\n"
    };
    let toml = format!(
        "[transport]\nkind = \"gmail\"\n\n\
         [google]\napi_base = \"{base}\"\ntoken_url = \"{token}\"\nauth_url = \"{auth}\"\n\
         userinfo_url = \"{userinfo}\"\ntokeninfo_url = \"{tokeninfo}\"\nrevoke_url = \"{revoke}\"\n\
         timeout = \"3s\"\n\n\
         [retry]\nbase = \"200ms\"\ncap = \"1s\"\n\n{jobs}{extra}",
        base = google.base_url(),
        token = google.token_url(),
        auth = google.auth_url(),
        userinfo = google.userinfo_url(),
        tokeninfo = google.tokeninfo_url(),
        revoke = google.revoke_url(),
    );
    let mut env = Env::on(redis, &toml);
    // The key file must outlive the worker: it lives in the world's own directory.
    let key = super::write_secret(
        env.dir.path(),
        "service-account.json",
        account.key_json.as_bytes(),
    );
    env.vars.push((
        "MAILROOM__CREDENTIALS__SERVICE_ACCOUNT_KEY".to_owned(),
        key.display().to_string(),
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

/// Waits until every access token the fake has issued so far has expired, by the fake's own
/// record: the last token it granted, plus `lifetime` (what the test set with
/// [`FakeGoogle::set_token_lifetime`]). A send after this needs a fresh token.
pub async fn wait_tokens_expired(google: &FakeGoogle, lifetime: Duration) {
    let Some(last) = google
        .token_grants()
        .iter()
        .filter(|g| g.ok)
        .map(|g| g.at)
        .max()
    else {
        return;
    };
    let expired = last + lifetime;
    super::eventually(
        lifetime + Duration::from_secs(10),
        "the tokens issued so far to expire",
        || {
            let now = SystemTime::now();
            async move { now >= expired }
        },
    )
    .await;
}

/// The `Message-ID` (without angle brackets) of every message a job from `SENDER`'s domain
/// renders to, on every attempt: `<job id@example.com>`.
pub fn message_id(id: JobId) -> String {
    format!("{id}@example.com")
}

/// What the fake accepted, counted by `Message-ID`: a job sent twice shows up twice under one
/// id.
#[derive(Debug)]
pub struct Tally {
    /// Messages accepted.
    pub received: usize,
    /// Messages accepted per `Message-ID` (without angle brackets).
    pub by_id: HashMap<String, usize>,
}

impl Tally {
    /// Of every message the fake has accepted so far.
    pub fn of(google: &FakeGoogle) -> Self {
        Self::of_messages(&google.sent())
    }

    pub fn of_messages(sent: &[SentMessage]) -> Self {
        let mut by_id: HashMap<String, usize> = HashMap::new();
        for message in sent {
            let id = header_message_id(&message.raw)
                .unwrap_or_else(|| panic!("a message without a Message-ID: {message:?}"));
            *by_id.entry(id).or_default() += 1;
        }
        Self {
            received: sent.len(),
            by_id,
        }
    }

    /// Distinct `Message-ID`s.
    pub fn unique(&self) -> usize {
        self.by_id.len()
    }

    /// Messages accepted more than once: received − unique.
    pub fn duplicates(&self) -> usize {
        self.received - self.unique()
    }

    /// How many times job `id`'s message was accepted.
    pub fn times(&self, id: JobId) -> usize {
        self.by_id.get(&message_id(id)).copied().unwrap_or(0)
    }
}

/// The `Message-ID` header of a raw message, without its angle brackets.
fn header_message_id(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    text.lines().take_while(|l| !l.is_empty()).find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("message-id").then(|| {
            value
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}
