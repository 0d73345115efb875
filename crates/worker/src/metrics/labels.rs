//! The label values of the metrics, as enums: a value outside a family's set cannot be
//! written. The strings ([`Outcome::as_str`] and the like) are public: tests, the Grafana
//! dashboard and the alerts read them. A transport is labelled by
//! [`TransportKind::as_str`](crate::config::TransportKind::as_str) and a Gmail error by
//! [`FailureReason::as_str`](crate::transport::FailureReason::as_str).

/// How a delivery finished (`mailroom_jobs_completed_total{outcome}`): `sent`, `retried`,
/// `dead` and `suppressed` are recorded by the handler; `expired`, `cancelled` and `duplicate` by the queue
/// when it starts a delivery (see [`mailroom_queue::QueueActivity`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The transport accepted the message.
    Sent,
    /// A failed attempt or a rate limit: scheduled again.
    Retried,
    /// Dead-lettered.
    Dead,
    /// Its `expires_at` passed before delivery.
    Expired,
    /// Cancelled while its delivery was on the way.
    Cancelled,
    /// Already sent, expired or dead: acknowledged, not sent again.
    Duplicate,
    /// Not sent: every recipient is on the suppression list.
    Suppressed,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Self; 7] = [
        Self::Sent,
        Self::Retried,
        Self::Dead,
        Self::Expired,
        Self::Cancelled,
        Self::Duplicate,
        Self::Suppressed,
    ];

    /// The label.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Retried => "retried",
            Self::Dead => "dead",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
            Self::Duplicate => "duplicate",
            Self::Suppressed => "suppressed",
        }
    }
}

/// How an access token refresh went (`mailroom_oauth_token_refreshes_total{outcome}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenOutcome {
    /// A token came back.
    Ok,
    /// It failed.
    Error,
}

impl TokenOutcome {
    /// Both outcomes.
    pub const ALL: [Self; 2] = [Self::Ok, Self::Error];

    /// `Ok` when `ok`, else `Error`.
    #[must_use]
    pub fn of(ok: bool) -> Self {
        if ok { Self::Ok } else { Self::Error }
    }

    /// The label.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Error => "error",
        }
    }
}

/// Where jobs are in the queue (`mailroom_queue_jobs{state}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueState {
    /// Waiting for a worker.
    Ready,
    /// Waiting for their time (a delay, a retry, quota).
    Scheduled,
    /// Held by a worker.
    InFlight,
    /// Dead-lettered.
    Dead,
}

impl QueueState {
    /// Every state.
    pub const ALL: [Self; 4] = [Self::Ready, Self::Scheduled, Self::InFlight, Self::Dead];

    /// The label.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Scheduled => "scheduled",
            Self::InFlight => "in_flight",
            Self::Dead => "dead",
        }
    }
}

/// A sliding window of a sender's quota (`mailroom_sender_quota_remaining{window}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaWindow {
    /// The last minute.
    Minute,
    /// The last 24 hours.
    Day,
}

impl QuotaWindow {
    /// Both windows.
    pub const ALL: [Self; 2] = [Self::Minute, Self::Day];

    /// The label.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minute => "minute",
            Self::Day => "day",
        }
    }
}

/// Label value of senders not listed exactly in `jobs.allowed_senders`.
pub const OTHER_SENDER: &str = "other";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_labels_are_the_published_ones() {
        for (labels, published) in [
            (
                Outcome::ALL.map(Outcome::as_str).join(","),
                "sent,retried,dead,expired,cancelled,duplicate,suppressed",
            ),
            (
                TokenOutcome::ALL.map(TokenOutcome::as_str).join(","),
                "ok,error",
            ),
            (
                QueueState::ALL.map(QueueState::as_str).join(","),
                "ready,scheduled,in_flight,dead",
            ),
            (
                QuotaWindow::ALL.map(QuotaWindow::as_str).join(","),
                "minute,day",
            ),
        ] {
            assert_eq!(labels, published);
        }
        assert_eq!(TokenOutcome::of(true), TokenOutcome::Ok);
        assert_eq!(TokenOutcome::of(false), TokenOutcome::Error);
    }
}

/// What the check before a resend found (`mailroom_ambiguous_sends_total{resolution}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resolution {
    /// The message was in the sender's SENT: recorded as sent, not sent again.
    Found,
    /// It was not: sent again.
    Resent,
    /// The check failed: sent again, as without the check.
    CheckFailed,
}

impl Resolution {
    /// Every resolution.
    pub const ALL: [Self; 3] = [Self::Found, Self::Resent, Self::CheckFailed];

    /// The label.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Found => "found",
            Self::Resent => "resent",
            Self::CheckFailed => "check_failed",
        }
    }
}
