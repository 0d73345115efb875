//! The `gmail` transport: `users.messages.send` through google-gmail1, as the job's sender,
//! with the rendered message uploaded as `message/rfc822` and the `gmail.send` scope only.
//!
//! A 401 gets one fresh token and one more try; every other failure is classified where it is
//! born (see [`mod@classify`] for the table). With `gmail.check_before_resend`, a send again
//! after an ambiguous one first looks for the message in the sender's SENT (`sent_check`).
//! `send_as` reads a sender's send-as aliases, for `mailroom auth check --pool`.
//! With `gmail.read_bounces`, the bounce reader reads the senders' mailboxes through it
//! (`mailbox`).

pub mod classify;
mod mailbox;
mod send_as;
mod sent_check;

pub use mailbox::MailboxHistory;
pub use send_as::Alias;
pub use sent_check::header;

use std::io::Cursor;
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::future::BoxFuture;
use google_gmail1::api::{Message, Scope};
use google_gmail1::{Gmail, common};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;

use self::classify::{Failed, classify_send_error};
use crate::config::TransportKind;
use crate::credentials::{AccessToken, CredentialError, TokenSource};
use crate::transport::{Delivered, FailureReason, Outgoing, SendError, Transport, Verdict};

type Connector = HttpsConnector<HttpConnector>;

/// Sends through the Gmail API.
///
/// One google-gmail1 hub serves every sender of the process: its authenticator
/// (`TokenPerCall`) yields no token of its own, and each call's delegate (`Capture`)
/// supplies the sender's, through google-gmail1's [`common::Delegate::token`]. The API base
/// and the media type are set once.
pub struct GmailTransport {
    hub: Gmail<Connector>,
    api_base: String,
    tokens: Arc<dyn TokenSource>,
    timeout: Duration,
    /// `message/rfc822`, the upload's media type.
    media_type: mime::Mime,
    /// How many recent SENT messages the check before a resend looks into.
    check_recent: u32,
}

/// The slowest upload a send allows for: 256 KiB/s. A send's time limit is `google.timeout`
/// plus the time its message takes at this rate, so a 25 MB message is not cut off (and sent
/// again, as an ambiguous send) by the limit that suits a 2 KB one.
const SLOWEST_UPLOAD: f64 = 256.0 * 1024.0;

/// The time limit of one `messages.send` call carrying `bytes` of message.
fn send_limit(timeout: Duration, bytes: usize) -> Duration {
    #[allow(clippy::cast_precision_loss)]
    let upload = Duration::from_secs_f64(bytes as f64 / SLOWEST_UPLOAD);
    timeout + upload
}

impl std::fmt::Debug for GmailTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GmailTransport")
            .field("api_base", &self.api_base)
            .field("tokens", &self.tokens)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl GmailTransport {
    /// A transport calling the API at `api_base` (e.g. `https://gmail.googleapis.com/`) with
    /// tokens from `tokens`; each call may take up to `timeout`.
    ///
    /// # Errors
    /// The system's CA certificates cannot be loaded.
    pub fn new(
        api_base: &str,
        tokens: Arc<dyn TokenSource>,
        timeout: Duration,
    ) -> std::io::Result<Self> {
        crate::google_http::install_crypto();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_native_roots()?
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(90))
                .build(connector);
        let mut hub = Gmail::new(client, TokenPerCall);
        hub.root_url(api_base.to_owned());
        hub.base_url(api_base.to_owned());
        Ok(Self {
            hub,
            api_base: api_base.to_owned(),
            tokens,
            timeout,
            media_type: mime::Mime::from_str("message/rfc822").expect("a valid media type"),
            check_recent: 100,
        })
    }

    /// Looks into the `n` most recent SENT messages before a resend (`gmail.check_recent`;
    /// default 100).
    #[must_use]
    pub fn with_check_recent(mut self, n: u32) -> Self {
        self.check_recent = n;
        self
    }

    /// One `messages.send` call with `token`.
    async fn call(&self, token: &AccessToken, msg: &Outgoing) -> Result<Delivered, Failed> {
        let request = Message {
            thread_id: msg.thread_id.clone(),
            ..Message::default()
        };
        let mut capture = Capture::with_token(token);
        let call = self
            .hub
            .users()
            .messages_send(request, "me")
            .add_scope(Scope::Send)
            .delegate(&mut capture)
            .upload(Cursor::new(&msg.raw[..]), self.media_type.clone());
        let limit = send_limit(self.timeout, msg.raw.len());
        let answer = tokio::time::timeout(limit, call).await;
        let retry_after = capture.retry_after;
        match answer {
            Err(_) => Err(Failed {
                message: format!("no answer within {limit:?}"),
                timed_out: true,
                ..Failed::default()
            }),
            Ok(Ok((_, sent))) => match sent.id {
                Some(id) if !id.is_empty() => Ok(Delivered {
                    transport_id: id,
                    thread_id: sent.thread_id,
                }),
                _ => Err(Failed {
                    status: Some(200),
                    message: "Gmail answered 200 without a message id".to_owned(),
                    ..Failed::default()
                }),
            },
            Ok(Err(e)) => Err(failed(e, capture.status, retry_after)),
        }
    }
}

/// The shared hub's authenticator: it has no token of its own, so google-gmail1 asks the
/// call's delegate ([`Capture`]) for the sender's.
#[derive(Clone, Copy)]
struct TokenPerCall;

/// Why [`TokenPerCall`] gives no token: the call brings it.
#[derive(Debug, thiserror::Error)]
#[error("the access token comes with each call")]
struct TokenComesWithCall;

impl common::GetToken for TokenPerCall {
    fn get_token<'a>(
        &'a self,
        _scopes: &'a [&str],
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<Option<String>, Box<dyn std::error::Error + Send + Sync>>,
                > + Send
                + 'a,
        >,
    > {
        Box::pin(std::future::ready(Err(Box::new(TokenComesWithCall).into())))
    }
}

/// What google-gmail1's error says.
fn failed(e: google_gmail1::Error, status: Option<u16>, retry_after: Option<Duration>) -> Failed {
    let mut failed = match e {
        google_gmail1::Error::BadRequest(json) => Failed::from_json(&json, status),
        google_gmail1::Error::Failure(response) => Failed {
            status: Some(response.status().as_u16()),
            message: format!("HTTP {} without Gmail's error JSON", response.status()),
            not_json: true,
            ..Failed::default()
        },
        google_gmail1::Error::HttpError(e) => Failed {
            message: format!("{e}"),
            ..Failed::default()
        },
        google_gmail1::Error::Io(e) => Failed {
            message: format!("{e}"),
            ..Failed::default()
        },
        google_gmail1::Error::UploadSizeLimitExceeded(size, max) => Failed {
            status: Some(400),
            reason: Some("uploadTooLarge".to_owned()),
            message: format!("the message is {size} bytes; Gmail takes at most {max}"),
            ..Failed::default()
        },
        other => Failed {
            status,
            message: other.to_string(),
            ..Failed::default()
        },
    };
    failed.retry_after = failed.retry_after.or(retry_after);
    failed
}

/// One call's delegate: hands google-gmail1 the sender's access token, and keeps the status
/// and `Retry-After` of a failed response, which google-gmail1's error value does not carry;
/// never retries by itself (retries are scheduled in Redis).
struct Capture {
    /// The sender's token, taken by the one request of the call.
    token: Option<String>,
    status: Option<u16>,
    retry_after: Option<Duration>,
}

impl Capture {
    fn with_token(token: &AccessToken) -> Self {
        Self {
            token: Some(token.expose().to_owned()),
            status: None,
            retry_after: None,
        }
    }
}

impl common::Delegate for Capture {
    fn token(
        &mut self,
        e: Box<dyn std::error::Error + Send + Sync>,
    ) -> Result<Option<String>, Box<dyn std::error::Error + Send + Sync>> {
        self.token.take().map(Some).ok_or(e)
    }

    fn http_failure(
        &mut self,
        response: &common::Response,
        _err: Option<&serde_json::Value>,
    ) -> common::Retry {
        self.status = Some(response.status().as_u16());
        self.retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        common::Retry::Abort
    }
}

/// A credential failure as a send failure.
fn credential_error(e: &CredentialError) -> SendError {
    let verdict = if e.quarantines() {
        Verdict::Credentials
    } else {
        Verdict::Unreachable
    };
    SendError::with(verdict, credential_reason(e), format!("credentials: {e}"))
}

/// The reason a credential failure is counted under.
fn credential_reason(e: &CredentialError) -> FailureReason {
    match e {
        CredentialError::Revoked(_) | CredentialError::NotEnrolled => FailureReason::InvalidGrant,
        CredentialError::DelegationDenied(_) => FailureReason::DelegationDenied,
        CredentialError::BadKey(_) => FailureReason::Unauthorized,
        CredentialError::Unavailable(_) => FailureReason::Connection,
    }
}

impl Transport for GmailTransport {
    fn kind(&self) -> TransportKind {
        TransportKind::Gmail
    }

    fn check_sender<'a>(&'a self, sender: &'a str) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async move {
            self.tokens.invalidate(sender);
            self.tokens
                .token(sender)
                .await
                .map(drop)
                .map_err(|e| credential_error(&e))
        })
    }

    fn find_sent<'a>(
        &'a self,
        msg: &'a Outgoing,
        since: chrono::DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Option<Delivered>, SendError>> {
        Box::pin(self.find_in_sent(msg, since))
    }

    fn send<'a>(&'a self, msg: &'a Outgoing) -> BoxFuture<'a, Result<Delivered, SendError>> {
        Box::pin(async move {
            let sender = msg.sender();
            let token = self
                .tokens
                .token(sender)
                .await
                .map_err(|e| credential_error(&e))?;
            match self.call(&token, msg).await {
                Ok(delivered) => Ok(delivered),
                Err(f) if f.status == Some(401) => {
                    // The token was refused before its time: one fresh token, one more try.
                    self.tokens.invalidate(sender);
                    let token = self
                        .tokens
                        .token(sender)
                        .await
                        .map_err(|e| credential_error(&e))?;
                    self.call(&token, msg)
                        .await
                        .map_err(|f| classify_send_error(&f, Utc::now()))
                }
                Err(f) => Err(classify_send_error(&f, Utc::now())),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::send_limit;

    #[test]
    fn a_large_message_gets_time_for_its_upload() {
        let small = send_limit(Duration::from_secs(3), 2_000);
        assert!(small < Duration::from_millis(3_010), "{small:?}");
        // 25 MB at 256 KiB/s: about 95 s on top of the 3 s.
        let large = send_limit(Duration::from_secs(3), 25_000_000);
        assert!(
            large > Duration::from_secs(95) && large < Duration::from_secs(99),
            "{large:?}"
        );
    }
}
