//! The families of Google's answers: failed Gmail API and OAuth calls by reason, access
//! token refreshes by outcome, and what the check before a resend found.

use prometheus::IntCounterVec;

use super::counter_vec;
use super::labels::{Resolution, TokenOutcome};
use crate::transport::FailureReason;

pub(super) struct Gmail {
    errors: IntCounterVec,
    token_refreshes: IntCounterVec,
    ambiguous: IntCounterVec,
}

impl Gmail {
    /// Registers the families, every reason and outcome at 0.
    pub(super) fn register(r: &prometheus::Registry) -> Self {
        let gmail = Self {
            errors: counter_vec(
                r,
                "mailroom_gmail_errors_total",
                "Failed Gmail API and OAuth calls, by reason.",
                &["reason"],
            ),
            token_refreshes: counter_vec(
                r,
                "mailroom_oauth_token_refreshes_total",
                "OAuth access token refreshes, by outcome (ok, error).",
                &["outcome"],
            ),
            ambiguous: counter_vec(
                r,
                "mailroom_ambiguous_sends_total",
                "Sends again after an earlier delivery may have gone out, checked first in the \
                 sender's SENT (gmail.check_before_resend), by resolution (found, resent, \
                 check_failed).",
                &["resolution"],
            ),
        };
        for resolution in Resolution::ALL {
            gmail.ambiguous.with_label_values(&[resolution.as_str()]);
        }
        for reason in FailureReason::ALL {
            gmail.errors.with_label_values(&[reason.as_str()]);
        }
        for outcome in TokenOutcome::ALL {
            gmail.token_refreshes.with_label_values(&[outcome.as_str()]);
        }
        gmail
    }

    pub(super) fn error(&self, reason: FailureReason) {
        self.errors.with_label_values(&[reason.as_str()]).inc();
    }

    pub(super) fn ambiguous_send(&self, resolution: Resolution) {
        self.ambiguous
            .with_label_values(&[resolution.as_str()])
            .inc();
    }

    pub(super) fn token_refresh(&self, outcome: TokenOutcome) {
        self.token_refreshes
            .with_label_values(&[outcome.as_str()])
            .inc();
    }
}
