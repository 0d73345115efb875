//! What becomes of a failed send: a retry (holding the sender too when the error concerns
//! it) or a dead letter. A pool's job whose member is held goes again soon: another member
//! may carry it.

use chrono::{DateTime, Utc};
use mailroom_queue::Lease;

use super::Handler;
use super::log::Logged;
use crate::config::TransportKind;
use crate::outcome::{Failure, decide};
use crate::transport::{Outgoing, SendError, Verdict};

impl Handler {
    /// Records what becomes of a failed send: a retry (holding the sender too when the error
    /// concerns it) or a dead letter.
    pub(super) async fn failed(
        &self,
        outgoing: &Outgoing,
        error: &SendError,
        lease: Lease,
    ) -> Result<Logged, mailroom_queue::QueueError> {
        if self.transport.kind() == TransportKind::Gmail {
            self.metrics.gmail_error(error.reason);
        }
        let failure = decide(
            error,
            lease.attempts(),
            lease.enqueued_at(),
            Utc::now(),
            &self.retry,
            &self.quarantine(),
            &mut rand::rng(),
        );
        match failure {
            Failure::Retry { at, spend_attempt } => {
                if let Some(gate) = &self.gate {
                    let sender = outgoing.sender();
                    if gate.hold(sender, error, at).await? {
                        self.metrics.sender_quarantined(sender, true);
                        tracing::error!(
                            sender,
                            reason = error.reason.as_str(),
                            "sender quarantined: its credentials need an operator"
                        );
                    }
                }
                let at = self.pooled_retry(outgoing, error, at);
                lease
                    .retry_at(at, &error.to_string(), spend_attempt)
                    .await?;
                Ok(Logged::Retry {
                    at,
                    spend_attempt,
                    error: error.to_string(),
                })
            }
            Failure::Dead(reason) => {
                lease.dead(&reason).await?;
                Ok(Logged::Dead { reason })
            }
        }
    }

    /// When a failed job goes again: at `at`, or, for a pool's job whose error holds its
    /// member (a rate or daily limit, a credential problem), after the retry policy's base
    /// delay, since the other members can send it.
    fn pooled_retry(
        &self,
        outgoing: &Outgoing,
        error: &SendError,
        at: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let holds_member = matches!(
            error.verdict,
            Verdict::RateLimited | Verdict::SenderLimit { .. } | Verdict::Credentials
        );
        if outgoing.sent_as.is_none() || !holds_member {
            return at;
        }
        let soon = Utc::now()
            + chrono::Duration::from_std(self.retry.base).unwrap_or(chrono::Duration::seconds(1));
        at.min(soon)
    }
}
