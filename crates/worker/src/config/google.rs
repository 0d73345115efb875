//! The Gmail sections of [`Config`](super::Config): `[google]` (endpoints), `[credentials]`
//! (who the worker sends as) and `[quota]` (Gmail's limits, enforced across replicas).

use std::path::PathBuf;
use std::time::Duration;

use mailroom_queue::SenderLimits;
use serde::{Deserialize, Serialize};

/// `[google]`: every Google endpoint the worker calls. The defaults are Google's; tests and
/// demos point them at a local fake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GoogleSection {
    /// Root of the Gmail API (the upload path is appended). Default
    /// `https://gmail.googleapis.com/`.
    pub api_base: String,
    /// OAuth token endpoint for stored refresh tokens and code exchange. A service account
    /// uses the `token_uri` of its key file. Default `https://oauth2.googleapis.com/token`.
    pub token_url: String,
    /// OAuth authorization endpoint (consent screen). Default
    /// `https://accounts.google.com/o/oauth2/v2/auth`.
    pub auth_url: String,
    /// OpenID userinfo endpoint, read after an enrollment to learn the account's address. Default
    /// `https://openidconnect.googleapis.com/v1/userinfo`.
    pub userinfo_url: String,
    /// OAuth tokeninfo endpoint, asked which scopes a token has when a code exchange's answer
    /// does not say. Default `https://oauth2.googleapis.com/tokeninfo`.
    pub tokeninfo_url: String,
    /// Token revocation endpoint. Default `https://oauth2.googleapis.com/revoke`.
    pub revoke_url: String,
    /// Longest a single Google request may take before it counts as failed (and, for a send,
    /// as ambiguous: retried with the same Message-ID). Default `30s`.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for GoogleSection {
    fn default() -> Self {
        Self {
            api_base: "https://gmail.googleapis.com/".to_owned(),
            token_url: "https://oauth2.googleapis.com/token".to_owned(),
            auth_url: "https://accounts.google.com/o/oauth2/v2/auth".to_owned(),
            userinfo_url: "https://openidconnect.googleapis.com/v1/userinfo".to_owned(),
            tokeninfo_url: "https://oauth2.googleapis.com/tokeninfo".to_owned(),
            revoke_url: "https://oauth2.googleapis.com/revoke".to_owned(),
            timeout: Duration::from_secs(30),
        }
    }
}

/// How the worker gets an access token for a sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// A Google Workspace service account with domain-wide delegation: the worker signs in as
    /// each sender (`subject = sender`). The default.
    #[default]
    ServiceAccount,
    /// Per-sender OAuth refresh tokens, obtained with `mailroom auth login` or the web flow
    /// and stored encrypted in Redis.
    AuthorizedUser,
}

impl CredentialKind {
    /// The name used in the config.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ServiceAccount => "service_account",
            Self::AuthorizedUser => "authorized_user",
        }
    }
}

/// `[credentials]`: secrets come from files (Kubernetes Secret mounts, systemd
/// `LoadCredential=`), never from the config itself or from a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CredentialsSection {
    /// `service_account` or `authorized_user`. Default `service_account`.
    pub kind: CredentialKind,
    /// The service account's JSON key file (`service_account`).
    pub service_account_key: Option<PathBuf>,
    /// The OAuth client's `client_secret.json` (`installed` or `web`), used to refresh stored
    /// tokens and to enroll senders (`authorized_user`).
    pub client_secrets: Option<PathBuf>,
    /// File of AEAD keys that encrypt stored refresh tokens, one `id:base64-32-bytes` per
    /// line, the first one current. The variable `MAILROOM_TOKEN_KEYS` (same format, lines or
    /// commas) is used when this is unset.
    pub token_keys: Option<PathBuf>,
    /// File holding the bearer token that guards `GET /oauth2/start` (web enrollment).
    pub admin_token_file: Option<PathBuf>,
    /// Public URL of this worker's HTTP listener as Google redirects to it, e.g.
    /// `https://mailroom.example.com` (web enrollment: the callback is
    /// `<public_url>/oauth2/callback`).
    pub public_url: Option<String>,
    /// Loopback port `mailroom auth login` listens on for Google's redirect; 0 picks a free
    /// one. Default 0.
    pub login_port: u16,
    /// How long the jobs of a quarantined sender (revoked token, delegation not granted) wait
    /// before the worker looks again. Default `5m` ([`SenderLimits::GMAIL`]).
    #[serde(with = "humantime_serde")]
    pub quarantine_recheck: Duration,
    /// Age (from the enqueue) after which a job whose sender is still quarantined is
    /// dead-lettered with the reason, so a job for a user who does not exist cannot wait
    /// forever. Default `7days`.
    #[serde(with = "humantime_serde")]
    pub quarantine_give_up: Duration,
    /// A Workspace domain every enrolled account must belong to (the `hd` claim of Google's
    /// userinfo); unset: any account. Default unset.
    pub hosted_domain: Option<String>,
    /// Where the web enrollment flow (`/oauth2/start`, `/oauth2/callback`) is served: an IP
    /// address and port, or `"off"`. Kept apart from `http.listen`, so exposing the callback
    /// does not expose `/metrics` and `/readyz`. Default `"off"`.
    #[serde(with = "super::sections::listen_addr")]
    pub onboarding_listen: Option<std::net::SocketAddr>,
    /// Accept secret files (key file, client secrets, token keys, admin token) that the file's
    /// group may read, as Kubernetes Secret mounts are (0440, owned by the pod's group). Files
    /// anyone may read are refused all the same. Default false.
    pub allow_group_readable_secrets: bool,
    /// Most senders whose credentials (an authenticator, a cached token) are kept in memory;
    /// the least recently used go first. Default 10000.
    pub max_cached_senders: usize,
    /// A sender's credentials unused this long leave memory (a token is minted again on its
    /// next send). Default `1h`.
    #[serde(with = "humantime_serde")]
    pub sender_idle: Duration,
}

impl Default for CredentialsSection {
    fn default() -> Self {
        Self {
            kind: CredentialKind::ServiceAccount,
            service_account_key: None,
            client_secrets: None,
            token_keys: None,
            admin_token_file: None,
            public_url: None,
            login_port: 0,
            quarantine_recheck: SenderLimits::GMAIL.quarantine_recheck,
            quarantine_give_up: Duration::from_secs(7 * 86_400),
            hosted_domain: None,
            onboarding_listen: None,
            allow_group_readable_secrets: false,
            max_cached_senders: 10_000,
            sender_idle: Duration::from_secs(3600),
        }
    }
}

/// `[quota]`: Gmail's limits, enforced through Redis across every worker replica, so no
/// sender is ever answered "rate limit exceeded" because of mailroom.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotaSection {
    /// Sends per minute per sender (15,000 quota units / 100 units per send). Default Gmail's,
    /// 150 ([`SenderLimits::GMAIL`]).
    pub sender_per_minute: u32,
    /// Sends per rolling day per sender (Google Workspace). Default Gmail's, 2000.
    pub sender_per_day: u32,
    /// Sends per minute for the whole Google Cloud project. Default Gmail's, 12000.
    pub project_per_minute: u32,
    /// Sends of one sender in flight at once from one worker (Gmail limits concurrent
    /// requests per user). Default 10.
    pub sender_concurrency: u32,
    /// Share `sender_concurrency` across every replica through Redis: each send also holds a
    /// lease there (four `google.timeout`s long, so a worker that dies mid-send frees its
    /// slots by then), so one sender has at most `sender_concurrency` sends in flight in all.
    /// Costs two Redis calls per send. Default `false` (the cap is per worker).
    pub shared_sender_concurrency: bool,
}

impl Default for QuotaSection {
    fn default() -> Self {
        let gmail = SenderLimits::GMAIL;
        Self {
            sender_per_minute: gmail.per_minute,
            sender_per_day: gmail.per_day,
            project_per_minute: gmail.project_per_minute,
            sender_concurrency: 10,
            shared_sender_concurrency: false,
        }
    }
}
