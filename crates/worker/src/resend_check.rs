//! The check before a resend (`gmail.check_before_resend`): a job sent again after an
//! earlier delivery may have gone out is first looked for in its sender's SENT messages, and
//! recorded as sent when it is there instead of being sent twice.
//!
//! Which jobs are checked: those whose earlier delivery may have gone out, as the queue
//! tells each delivery: a failed attempt before (`attempts > 0`: a dropped connection, a
//! timeout, a 5xx after the upload) or an earlier delivery without a recorded outcome
//! (`deliveries > 1`: a worker that died mid-send, a rate limit). A first delivery is never
//! checked.

use chrono::{DateTime, Utc};
use mailroom_queue::Lease;

use crate::metrics::{Metrics, Resolution};
use crate::transport::{Delivered, Outgoing, Transport};

/// How far before the enqueue a SENT message still counts: the clocks of this host and
/// Gmail's may differ by that much.
const CLOCK_SKEW: chrono::Duration = chrono::Duration::minutes(1);

/// Whether this delivery of a job may follow one that went out.
#[must_use]
pub fn may_have_gone_out(attempts: u32, deliveries: u32) -> bool {
    attempts > 0 || deliveries > 1
}

/// The oldest SENT message that may be this job's.
fn since(enqueued_at: DateTime<Utc>) -> DateTime<Utc> {
    enqueued_at
        .checked_sub_signed(CLOCK_SKEW)
        .unwrap_or(enqueued_at)
}

/// Looks for `outgoing` in its sender's SENT when this delivery may follow one that went
/// out; `Some` when it is there (no send is needed). A failed check sends, as without it.
pub async fn already_sent(
    transport: &dyn Transport,
    metrics: &Metrics,
    outgoing: &Outgoing,
    lease: &Lease,
) -> Option<Delivered> {
    if !may_have_gone_out(lease.attempts(), lease.deliveries()) {
        return None;
    }
    match transport
        .find_sent(outgoing, since(lease.enqueued_at()))
        .await
    {
        Ok(Some(found)) => {
            metrics.ambiguous_send(Resolution::Found);
            tracing::info!(
                job = %outgoing.job_id, message_id = %outgoing.message_id,
                transport_id = %found.transport_id,
                "already in the sender's SENT: recorded as sent, not sent again"
            );
            Some(found)
        }
        Ok(None) => {
            metrics.ambiguous_send(Resolution::Resent);
            None
        }
        Err(e) => {
            metrics.ambiguous_send(Resolution::CheckFailed);
            tracing::warn!(
                job = %outgoing.job_id, message_id = %outgoing.message_id,
                error = %e,
                "the check before a resend failed; sending again"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_delivery_after_one_that_may_have_gone_out_is_checked() {
        assert!(!may_have_gone_out(0, 1), "a first delivery");
        assert!(may_have_gone_out(1, 2), "after a failed attempt");
        assert!(
            may_have_gone_out(0, 2),
            "after a delivery without an outcome"
        );
        assert!(may_have_gone_out(2, 1), "attempts alone");
    }
}
