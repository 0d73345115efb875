//! The suppression list's family: recipients the worker dropped because they are suppressed
//! (by reason). [`UnsubscribeOutcome`] labels the HTTP API's `mailroom_unsubscribes_total`.

use mailroom_queue::SuppressReason;
use prometheus::IntCounter;

use super::counter_vec;

/// What became of a `POST /u/TOKEN`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnsubscribeOutcome {
    /// The address was put on the list's suppression list.
    Suppressed,
    /// It already was (a replay, or a second click).
    Already,
    /// The token was forged, damaged or made with an unknown key.
    Invalid,
    /// The token was genuine but too old.
    Expired,
}

impl UnsubscribeOutcome {
    /// Every outcome.
    pub const ALL: [Self; 4] = [
        Self::Suppressed,
        Self::Already,
        Self::Invalid,
        Self::Expired,
    ];

    /// The label.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Suppressed => "suppressed",
            Self::Already => "already",
            Self::Invalid => "invalid",
            Self::Expired => "expired",
        }
    }
}

pub(super) struct Suppression {
    /// `mailroom_suppressed_recipients_total` by reason, in [`SuppressReason::ALL`]'s order.
    dropped: [IntCounter; SuppressReason::ALL.len()],
}

impl Suppression {
    pub(super) fn register(r: &prometheus::Registry) -> Self {
        let dropped = counter_vec(
            r,
            "mailroom_suppressed_recipients_total",
            "Recipients this worker dropped from a job because they are on the suppression list, by the suppression's reason.",
            &["reason"],
        );
        Self {
            dropped: SuppressReason::ALL.map(|r| dropped.with_label_values(&[r.as_str()])),
        }
    }

    pub(super) fn dropped(&self, reason: SuppressReason) {
        if let Some(i) = SuppressReason::ALL.iter().position(|r| *r == reason) {
            self.dropped[i].inc();
        }
    }
}
