//! The delivery's one log line: what became of the job, with its masked recipients, its
//! Message-ID and, for a job sent, the mailbox that sent it.

use std::time::Instant;

use chrono::{DateTime, Utc};
use mailroom_jobs::EmailJob;

use super::Handler;
use crate::logline::{Lazy, echoed, log_safe, masked};
use crate::metrics::Outcome;

/// What happened to one delivery, for its log line.
pub(super) enum Logged {
    Sent {
        transport_id: String,
        /// The pool member that sent it, when `from` is a pool's address.
        sent_as: Option<String>,
    },
    Retry {
        at: DateTime<Utc>,
        spend_attempt: bool,
        error: String,
    },
    Dead {
        reason: String,
    },
    Held {
        at: DateTime<Utc>,
        why: String,
    },
    Suppressed {
        count: usize,
    },
}

impl Logged {
    /// The outcome as `mailroom_jobs_completed_total` counts it; none for a job the sender
    /// gate held back, since nothing was attempted (it is not a failure).
    pub(super) fn outcome(&self) -> Option<Outcome> {
        match self {
            Self::Sent { .. } => Some(Outcome::Sent),
            Self::Retry { .. } => Some(Outcome::Retried),
            Self::Dead { .. } => Some(Outcome::Dead),
            Self::Held { .. } => None,
            Self::Suppressed { .. } => Some(Outcome::Suppressed),
        }
    }
}

impl Handler {
    /// Logs the delivery's one line. Its fields are built only when the line's level is
    /// enabled: the job's own text is written straight into the log line.
    pub(super) fn log(&self, job: &EmailJob, attempt: u32, started: Instant, logged: Logged) {
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let job_id = job.id();
        let v1 = job.v1();
        let transport = self.transport.kind().as_str();
        let message_id = Lazy(|| mailroom_jobs::message_id_for(&job_id, &v1.from));
        let recipients = Lazy(|| masked(v1.recipients()));
        let echo = std::cell::OnceCell::new();
        let tags = Lazy(|| &echo.get_or_init(|| echoed(v1)).0);
        let metadata = Lazy(|| &echo.get_or_init(|| echoed(v1)).1);
        match logged {
            Logged::Sent {
                transport_id,
                sent_as,
            } => tracing::info!(
                job = %job_id, %message_id, %recipients, attempt, latency_ms, transport, transport_id,
                sent_as = sent_as.as_deref().unwrap_or_else(|| v1.from.email()),
                %tags, %metadata, outcome = "sent", "message sent"
            ),
            Logged::Retry {
                at,
                spend_attempt,
                error,
            } => tracing::warn!(
                job = %job_id, %message_id, %recipients, attempt, latency_ms, transport, error,
                %tags, %metadata, retry_at = %at.to_rfc3339(), spend_attempt, outcome = "retry", "send failed; retrying later"
            ),
            Logged::Held { at, why } => tracing::info!(
                job = %job_id, %message_id, %recipients, attempt, latency_ms, transport, why,
                %tags, %metadata, retry_at = %at.to_rfc3339(), outcome = "held", "sender must wait; job rescheduled"
            ),
            Logged::Suppressed { count } => tracing::info!(
                job = %job_id, %message_id, %recipients, attempt, latency_ms, transport,
                %tags, %metadata, suppressed = count, outcome = "suppressed",
                "every recipient is on the suppression list; not sent"
            ),
            Logged::Dead { reason } => tracing::error!(
                job = %job_id, %message_id, %recipients, attempt, latency_ms, transport,
                %tags, %metadata, reason = log_safe(&reason), outcome = "dead", "job dead-lettered"
            ),
        }
    }
}
