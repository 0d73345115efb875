//! [`FailureReason`]: why a send failed, as one of a fixed set of short labels. It names the
//! `reason` of `mailroom_gmail_errors_total` and the pause reason of a sender, so a value that
//! is not in the set cannot be written.

use std::fmt;

/// Why a send failed, in a word. The labels ([`FailureReason::as_str`]) are public: metrics,
/// dashboards and alerts read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureReason {
    /// Gmail's `backendError`.
    BackendError,
    /// A 5xx answer other than 502.
    ServerError,
    /// 502.
    BadGateway,
    /// No answer in time (the send may have gone out).
    Timeout,
    /// No answer at all: connection refused or dropped, or the token endpoint unreachable.
    Connection,
    /// `rateLimitExceeded` or a bare 429.
    RateLimited,
    /// `userRateLimitExceeded`.
    UserRateLimited,
    /// `dailyLimitExceeded`.
    DailyLimit,
    /// 429 "(Mail sending)": the sender's long-lasting sending limit.
    MailSendingLimit,
    /// The token was refused (401, a token without the send scope) or the credentials are bad.
    Unauthorized,
    /// Google refused the grant: the refresh token is revoked or expired, or none is stored.
    InvalidGrant,
    /// Domain-wide delegation is not granted to the service account.
    DelegationDenied,
    /// 400 and other refusals of the request itself.
    BadRequest,
    /// 403 `domainPolicy`: the domain's administrators disabled Gmail API access.
    DomainPolicy,
    /// 404: no such mailbox (an unknown user under delegation).
    NotFound,
    /// 403 other than the cases above (`forbidden`, …).
    Forbidden,
    /// Anything else.
    Other,
}

impl FailureReason {
    /// Every reason, in the order the metrics list them.
    pub const ALL: [Self; 17] = [
        Self::BackendError,
        Self::ServerError,
        Self::BadGateway,
        Self::Timeout,
        Self::Connection,
        Self::RateLimited,
        Self::UserRateLimited,
        Self::DailyLimit,
        Self::MailSendingLimit,
        Self::Unauthorized,
        Self::InvalidGrant,
        Self::DelegationDenied,
        Self::BadRequest,
        Self::DomainPolicy,
        Self::NotFound,
        Self::Forbidden,
        Self::Other,
    ];

    /// The label, e.g. `backend_error`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BackendError => "backend_error",
            Self::ServerError => "server_error",
            Self::BadGateway => "bad_gateway",
            Self::Timeout => "timeout",
            Self::Connection => "connection",
            Self::RateLimited => "rate_limited",
            Self::UserRateLimited => "user_rate_limited",
            Self::DailyLimit => "daily_limit",
            Self::MailSendingLimit => "mail_sending_limit",
            Self::Unauthorized => "unauthorized",
            Self::InvalidGrant => "invalid_grant",
            Self::DelegationDenied => "delegation_denied",
            Self::BadRequest => "bad_request",
            Self::DomainPolicy => "domain_policy",
            Self::NotFound => "not_found",
            Self::Forbidden => "forbidden",
            Self::Other => "other",
        }
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_labels_are_the_published_ones() {
        let labels: Vec<&str> = FailureReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            labels,
            [
                "backend_error",
                "server_error",
                "bad_gateway",
                "timeout",
                "connection",
                "rate_limited",
                "user_rate_limited",
                "daily_limit",
                "mail_sending_limit",
                "unauthorized",
                "invalid_grant",
                "delegation_denied",
                "bad_request",
                "domain_policy",
                "not_found",
                "forbidden",
                "other",
            ]
        );
    }
}
