//! The public types: the scope constants, the credentials the fake hands
//! out and the records of what it saw, as [`FakeGoogle`](super::FakeGoogle)
//! returns them.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

/// `https://www.googleapis.com/auth/gmail.send`: send mail only.
pub const GMAIL_SEND_SCOPE: &str = "https://www.googleapis.com/auth/gmail.send";
/// `https://www.googleapis.com/auth/gmail.metadata`: labels and headers of
/// messages, no bodies; `messages.list` refuses `q` under it.
pub const GMAIL_METADATA_SCOPE: &str = "https://www.googleapis.com/auth/gmail.metadata";
/// `https://www.googleapis.com/auth/gmail.readonly`: read every message,
/// bodies included, and the mailbox's settings; no changes.
pub const GMAIL_READONLY_SCOPE: &str = "https://www.googleapis.com/auth/gmail.readonly";
/// `https://mail.google.com/`: full mailbox access (also allows sending).
pub const MAIL_GOOGLE_SCOPE: &str = "https://mail.google.com/";
/// `openid`.
pub const OPENID_SCOPE: &str = "openid";
/// `https://www.googleapis.com/auth/userinfo.email` (what `email` stands for).
pub const USERINFO_EMAIL_SCOPE: &str = "https://www.googleapis.com/auth/userinfo.email";
/// `https://www.googleapis.com/auth/userinfo.profile` (what `profile` stands
/// for).
pub const USERINFO_PROFILE_SCOPE: &str = "https://www.googleapis.com/auth/userinfo.profile";

/// A service account registered with the fake, and its key file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    /// The numeric OAuth client ID domain-wide delegation is granted to.
    pub client_id: String,
    /// `name@project.iam.gserviceaccount.com` (whatever was registered).
    pub client_email: String,
    /// A complete Google service-account key file (JSON) whose `token_uri`
    /// is the fake's token endpoint.
    pub key_json: String,
}

/// What kind of OAuth client (Google Cloud Console "application type").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientKind {
    /// "Desktop app": any loopback redirect URI (`http://127.0.0.1:PORT/…`,
    /// `http://localhost:PORT/…`) is allowed.
    Installed,
    /// "Web application": only the registered redirect URIs are allowed.
    Web {
        /// The exact redirect URIs allowed.
        redirect_uris: Vec<String>,
    },
}

/// An OAuth client registered with the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClient {
    /// `NNNN-xxxx.apps.googleusercontent.com`.
    pub client_id: String,
    /// `GOCSPX-…`.
    pub client_secret: String,
    /// The `client_secret.json` the Cloud Console offers for download
    /// (`{"installed":{…}}` or `{"web":{…}}`), pointing at the fake.
    pub json: String,
}

/// One message the fake accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The mailbox it was sent from: the access token's subject.
    pub user: String,
    /// The RFC 822 message exactly as uploaded (decoded from base64 where
    /// the request encoded it).
    pub raw: Vec<u8>,
    /// Gmail's message ID (16 hex digits).
    pub id: String,
    /// The thread it landed in: the requested `threadId` when that thread
    /// is known for the user, else a new one (equal to `id`).
    pub thread_id: String,
    /// When it was accepted.
    pub at: SystemTime,
    /// The `From` the message came with, when Gmail rewrote it to the user's
    /// address (it was neither the user's address nor a verified send-as
    /// alias of the user); `raw` holds the rewritten message.
    pub rewritten_from: Option<String>,
}

/// One request to `users.messages.send`, whatever became of it (see
/// [`FakeGoogle::send_log`](super::FakeGoogle::send_log)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendAttempt {
    /// When the request arrived (before any injected latency).
    pub at: SystemTime,
    /// The access token's subject, when the request carried a valid token.
    pub user: Option<String>,
    /// The `Message-ID` header of the uploaded message without its angle
    /// brackets, when the body could be read and the header is there.
    pub message_id: Option<String>,
    /// The HTTP status answered; `None` if the connection was dropped.
    pub status: Option<u16>,
    /// The `Retry-After` header of the answer, if it had one.
    pub retry_after: Option<Duration>,
}

/// One call to the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    /// The `grant_type` parameter as sent (`refresh_token`,
    /// `authorization_code`, `urn:ietf:params:oauth:grant-type:jwt-bearer`).
    pub grant_type: String,
    /// The user the token is for, when known: the JWT's `sub`, or the user
    /// of the refresh token or authorization code.
    pub subject: Option<String>,
    /// The OAuth client (or service account client ID), when known.
    pub client_id: Option<String>,
    /// Whether a token was issued.
    pub ok: bool,
    /// The HTTP status answered; `None` if the connection was dropped.
    pub status: Option<u16>,
    /// The OAuth `error` code of a refusal.
    pub error: Option<String>,
    /// When the request arrived.
    pub at: SystemTime,
}

/// One request to the authorization (consent) endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    /// The query parameters (`client_id`, `redirect_uri`, `scope`, `state`,
    /// `code_challenge_method`, `access_type`, `prompt`, …).
    pub params: BTreeMap<String, String>,
    /// When the request arrived.
    pub at: SystemTime,
}

impl AuthRequest {
    /// One query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// The requested scopes (`scope`, split on spaces).
    pub fn scopes(&self) -> Vec<&str> {
        self.param("scope")
            .map(|s| s.split_whitespace().collect())
            .unwrap_or_default()
    }
}
