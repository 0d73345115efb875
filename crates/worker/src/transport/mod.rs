//! Transports: where a rendered message goes. One small object-safe trait; each transport
//! decides, where an error is born, whether it is worth retrying.
//!
//! - [`OutboxTransport`] writes `<dir>/<job id>.eml` (the laptop default);
//! - [`NullTransport`] discards (benchmarks);
//! - [`GmailTransport`] sends through the Gmail API (`gmail::classify` reads its failures).
//!
//! A failure says why in a word ([`FailureReason`], module `reason`).

pub mod gmail;
mod null;
mod outbox;
mod reason;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use mailroom_jobs::{Address, JobId};

pub use gmail::GmailTransport;
pub use null::NullTransport;
pub use outbox::OutboxTransport;
pub use reason::FailureReason;

use crate::config::{Config, TransportKind};
use crate::credentials::{self, CredentialError, RefreshHook};

/// A message ready to go.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The job it comes from.
    pub job_id: JobId,
    /// The sender.
    pub from: Address,
    /// The complete RFC 5322 message, `Bcc` included.
    pub raw: Vec<u8>,
    /// The `Message-ID`, angle brackets included.
    pub message_id: String,
    /// The transport's conversation id to add the message to, if the job gave one.
    pub thread_id: Option<String>,
    /// The mailbox that sends it when `from` is a sender pool's address (a member of the
    /// pool); `None`: `from`'s own mailbox.
    pub sent_as: Option<String>,
}

impl Outgoing {
    /// The mailbox the message is sent from: the pool member, or `from`'s address. The
    /// `From` header stays `from` either way.
    #[must_use]
    pub fn sender(&self) -> &str {
        self.sent_as.as_deref().unwrap_or_else(|| self.from.email())
    }
}

/// What a transport says about a message it accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The transport's id for the message (Gmail message id, outbox file name).
    pub transport_id: String,
    /// The transport's conversation id, when it has one.
    pub thread_id: Option<String>,
}

/// What to do about a failed send, decided where the error is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// Worth another attempt after a backoff (no earlier than the error's `retry_after`);
    /// spends an attempt.
    Transient,
    /// Slow down: this sender's jobs wait `retry_after` (or the policy's base delay); no
    /// attempt is spent.
    RateLimited,
    /// The sender reached a limit that lasts (Gmail's daily or mail-sending limit): the
    /// sender is paused until `until`, its jobs wait, no attempt is spent.
    SenderLimit {
        /// When the limit's window rolls.
        until: DateTime<Utc>,
    },
    /// Google's token endpoint could not be reached or failed (5xx, timeout): the send never
    /// went out. The job waits the policy's first backoff and tries again; no attempt is
    /// spent, so an outage of Google's OAuth service, however long, dead-letters nothing.
    Unreachable,
    /// The sender's credentials need an operator (revoked grant, delegation not granted,
    /// bad key): the sender is quarantined, its jobs wait, no attempt is spent.
    Credentials,
    /// Will never succeed: dead-letter now.
    Permanent,
}

/// A failed send and its [`Verdict`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// Retry or not.
    pub verdict: Verdict,
    /// What happened, without recipients or message content.
    pub message: String,
    /// Why, in a word, for metrics and a paused sender's reason.
    pub reason: FailureReason,
    /// The earliest moment a retry makes sense, when the far end said (`Retry-After`).
    pub retry_after: Option<Duration>,
}

impl SendError {
    fn new(verdict: Verdict, reason: FailureReason, message: impl Into<String>) -> Self {
        Self {
            verdict,
            message: message.into(),
            reason,
            retry_after: None,
        }
    }

    /// A failure worth retrying with backoff.
    pub fn transient(message: impl Into<String>) -> Self {
        Self::new(Verdict::Transient, FailureReason::Other, message)
    }

    /// A rate limit: retry later without spending an attempt.
    pub fn rate_limited(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Self::new(Verdict::RateLimited, FailureReason::RateLimited, message).after(retry_after)
    }

    /// A failure that no retry can fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self::new(Verdict::Permanent, FailureReason::Other, message)
    }

    /// An error with a verdict and reason of its own.
    #[must_use]
    pub fn with(verdict: Verdict, reason: FailureReason, message: impl Into<String>) -> Self {
        Self::new(verdict, reason, message)
    }

    /// The same error with a `Retry-After` hint.
    #[must_use]
    pub fn after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }
}

/// Sends rendered messages. Object-safe, so the worker holds an `Arc<dyn Transport>`.
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// Which transport this is (its name in logs and metrics is [`TransportKind::as_str`]).
    fn kind(&self) -> TransportKind;

    /// Sends one message.
    fn send<'a>(&'a self, msg: &'a Outgoing) -> BoxFuture<'a, Result<Delivered, SendError>>;

    /// Looks for `msg` among what its sender sent at or after `since`, before sending it
    /// again after an earlier delivery may have gone out (`gmail.check_before_resend`).
    /// `Ok(None)`: not there. Transports that cannot look answer `Ok(None)`.
    fn find_sent<'a>(
        &'a self,
        msg: &'a Outgoing,
        since: DateTime<Utc>,
    ) -> BoxFuture<'a, Result<Option<Delivered>, SendError>> {
        let _ = (msg, since);
        Box::pin(async { Ok(None) })
    }

    /// Checks that `sender` can send again (fresh credentials), without sending anything.
    /// Transports without credentials have nothing to check.
    fn check_sender<'a>(&'a self, sender: &'a str) -> BoxFuture<'a, Result<(), SendError>> {
        let _ = sender;
        Box::pin(async { Ok(()) })
    }
}

/// Builds the transport the config asks for; `hook` hears of every token refresh.
///
/// # Errors
/// The gmail transport's credentials cannot be loaded (the message names the file).
pub fn build(
    config: &Config,
    queue: &mailroom_queue::Queue,
    hook: RefreshHook,
) -> Result<Arc<dyn Transport>, CredentialError> {
    let t = &config.transport;
    Ok(match t.kind {
        TransportKind::Outbox => Arc::new(OutboxTransport::new(t.outbox.dir.clone())),
        TransportKind::Null => Arc::new(NullTransport::with_latency(t.null.latency)),
        TransportKind::Gmail => build_gmail(config, queue, hook)?,
    })
}

/// Builds the gmail transport `config` describes, whatever `transport.kind` says; `hook`
/// hears of every token refresh.
///
/// # Errors
/// Its credentials cannot be loaded (the message names the file).
pub fn build_gmail(
    config: &Config,
    queue: &mailroom_queue::Queue,
    hook: RefreshHook,
) -> Result<Arc<GmailTransport>, CredentialError> {
    let tokens = credentials::from_config(config, queue, hook)?;
    Ok(Arc::new(
        GmailTransport::new(&config.google.api_base, tokens, config.google.timeout)
            .map_err(|e| CredentialError::BadKey(format!("cannot load CA certificates: {e}")))?
            .with_check_recent(config.gmail.check_recent),
    ))
}
