//! Transports: where a rendered message goes. One small object-safe trait; each transport
//! decides, where an error is born, whether it is worth retrying.
//!
//! - [`OutboxTransport`] writes `<dir>/<job id>.eml` (the laptop default);
//! - [`NullTransport`] discards (benchmarks).

mod null;
mod outbox;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use mailroom_jobs::{Address, JobId};

pub use null::NullTransport;
pub use outbox::OutboxTransport;

use crate::config::{TransportKind, TransportSection};

/// A message ready to go.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The job it comes from.
    pub job_id: JobId,
    /// The sender.
    pub from: Address,
    /// Every envelope recipient, for logs only (log them masked); the transport reads the
    /// recipients from `raw`.
    pub recipients: Vec<Address>,
    /// The complete RFC 5322 message, `Bcc` included.
    pub raw: Vec<u8>,
    /// The `Message-ID`, angle brackets included.
    pub message_id: String,
    /// The transport's conversation id to add the message to, if the job gave one.
    pub thread_id: Option<String>,
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
    /// Worth another attempt after a backoff; spends an attempt.
    Transient,
    /// Slow down: retry after `retry_after` (or the policy's base delay) without spending an
    /// attempt.
    RateLimited {
        /// The transport's hint, if it gave one.
        retry_after: Option<Duration>,
    },
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
}

impl SendError {
    /// A failure worth retrying with backoff.
    pub fn transient(message: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Transient,
            message: message.into(),
        }
    }

    /// A rate limit: retry later without spending an attempt.
    pub fn rate_limited(message: impl Into<String>, retry_after: Option<Duration>) -> Self {
        Self {
            verdict: Verdict::RateLimited { retry_after },
            message: message.into(),
        }
    }

    /// A failure that no retry can fix.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Permanent,
            message: message.into(),
        }
    }
}

/// Sends rendered messages. Object-safe, so the worker holds an `Arc<dyn Transport>`.
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// A short name for logs, e.g. `outbox`.
    fn name(&self) -> &'static str;

    /// Sends one message.
    fn send<'a>(&'a self, msg: &'a Outgoing) -> BoxFuture<'a, Result<Delivered, SendError>>;
}

/// Builds the transport the config asks for.
#[must_use]
pub fn build(config: &TransportSection) -> Arc<dyn Transport> {
    match config.kind {
        TransportKind::Outbox => Arc::new(OutboxTransport::new(config.outbox.dir.clone())),
        TransportKind::Null => Arc::new(NullTransport::with_latency(config.null.latency)),
    }
}
