//! The suppression list's families: recipients the worker dropped because they are suppressed
//! (by reason), and bounces read back from the senders' mailboxes (by kind).
//! [`UnsubscribeOutcome`] labels the HTTP API's `mailroom_unsubscribes_total`.

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

/// What a bounce read back from a sender's mailbox was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BounceKind {
    /// A permanent failure (5.x.x) of one recipient of a job: recorded, and the recipient
    /// suppressed.
    Hard,
    /// A temporary failure (4.x.x) of one recipient of a job: recorded only.
    Soft,
    /// A bounce message for a message mailroom did not send: ignored.
    Unmatched,
}

impl BounceKind {
    /// Every kind.
    pub const ALL: [Self; 3] = [Self::Hard, Self::Soft, Self::Unmatched];

    /// The label.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hard => "hard",
            Self::Soft => "soft",
            Self::Unmatched => "unmatched",
        }
    }
}

pub(super) struct Suppression {
    /// `mailroom_suppressed_recipients_total` by reason, in [`SuppressReason::ALL`]'s order.
    dropped: [IntCounter; SuppressReason::ALL.len()],
    /// `mailroom_bounces_total` by kind, in [`BounceKind::ALL`]'s order.
    bounces: [IntCounter; BounceKind::ALL.len()],
}

impl Suppression {
    pub(super) fn register(r: &prometheus::Registry) -> Self {
        let dropped = counter_vec(
            r,
            "mailroom_suppressed_recipients_total",
            "Recipients this worker dropped from a job because they are on the suppression list, by the suppression's reason.",
            &["reason"],
        );
        let bounces = counter_vec(
            r,
            "mailroom_bounces_total",
            "Bounces this worker's bounce reader processed: failed recipients of sent jobs by kind (hard: 5.x.x, suppressed; soft: 4.x.x, recorded), and bounce messages for mail mailroom did not send (unmatched, ignored).",
            &["kind"],
        );
        Self {
            dropped: SuppressReason::ALL.map(|r| dropped.with_label_values(&[r.as_str()])),
            bounces: BounceKind::ALL.map(|k| bounces.with_label_values(&[k.as_str()])),
        }
    }

    pub(super) fn bounce(&self, kind: BounceKind) {
        if let Some(i) = BounceKind::ALL.iter().position(|k| *k == kind) {
            self.bounces[i].inc();
        }
    }

    pub(super) fn dropped(&self, reason: SuppressReason) {
        if let Some(i) = SuppressReason::ALL.iter().position(|r| *r == reason) {
            self.dropped[i].inc();
        }
    }
}
