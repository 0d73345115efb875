//! [`Endpoint`], [`Fault`] and Google's error vocabulary: the reasons and
//! statuses the fake answers with.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

/// Which requests a [`FaultRule`](crate::google::FaultRule) applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `users.messages.send` (upload and JSON forms).
    Send,
    /// The OAuth token endpoint (`POST /token`).
    Token,
    /// `users.messages.list` and `users.messages.get` (status and HTML-page
    /// faults only).
    Read,
    /// Every endpoint the fake serves.
    Any,
}

/// What happens to a request a [`FaultRule`](crate::google::FaultRule) picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and Google's error JSON
    /// (`{"error":{"code","message","errors":[{"message","domain","reason"}],"status"}}`),
    /// on the token endpoint OAuth's `{"error":reason,"error_description":message}`.
    Status {
        /// HTTP status code.
        code: u16,
        /// Google's `reason` (`backendError`, `rateLimitExceeded`, …).
        reason: String,
        /// The human-readable `message`.
        message: String,
        /// Sent as a `Retry-After: <seconds>` header when set.
        retry_after: Option<Duration>,
    },
    /// Wait this long, then answer normally (other rules may still apply).
    Latency(Duration),
    /// Read the request, process it, then close the connection without an
    /// answer. A send is accepted and recorded first (the mail went out but
    /// the client cannot know); a token request issues its token.
    DropConnection,
    /// Read the request and close the connection without an answer and
    /// without processing it.
    DropBeforeAccept,
    /// 502 with an HTML body, as a load balancer in front of Google answers.
    BadGateway,
    /// This status with an HTML error page instead of Google's JSON, as a
    /// proxy or front end answers.
    HtmlPage(u16),
    /// Accept and record the send, then answer 200 with a body that has no
    /// message `id` (`{"labelIds":["SENT"]}`).
    AnswerWithoutId,
}

impl Fault {
    /// Any status with Google's error JSON.
    pub fn status(code: u16, reason: &str, message: &str) -> Fault {
        Fault::Status {
            code,
            reason: reason.to_owned(),
            message: message.to_owned(),
            retry_after: None,
        }
    }

    /// 500 `backendError`.
    pub fn backend_error() -> Fault {
        Fault::status(500, "backendError", "Backend Error")
    }

    /// 503 `backendError`, status `UNAVAILABLE`.
    pub fn unavailable() -> Fault {
        Fault::status(503, "backendError", "The service is currently unavailable.")
    }

    /// 429 `rateLimitExceeded` "Too many concurrent requests for user.", with
    /// a `Retry-After` header.
    pub fn rate_limited(retry_after: Duration) -> Fault {
        Fault::Status {
            code: 429,
            reason: "rateLimitExceeded".to_owned(),
            message: "Too many concurrent requests for user.".to_owned(),
            retry_after: Some(retry_after),
        }
    }

    /// 403 `userRateLimitExceeded`.
    pub fn user_rate_limited() -> Fault {
        Fault::status(403, "userRateLimitExceeded", "User Rate Limit Exceeded")
    }

    /// 403 `dailyLimitExceeded`.
    pub fn daily_limit() -> Fault {
        Fault::status(403, "dailyLimitExceeded", "Daily Limit Exceeded")
    }

    /// 429 `rateLimitExceeded` as Gmail answers a user over the daily
    /// sending limit: "User-rate limit exceeded.  Retry after
    /// 2026-11-25T20:00:00.000Z (Mail sending)". No `Retry-After` header.
    pub fn mail_sending_limit(until: DateTime<Utc>) -> Fault {
        Fault::status(
            429,
            "rateLimitExceeded",
            &format!(
                "User-rate limit exceeded.  Retry after {} (Mail sending)",
                until.to_rfc3339_opts(SecondsFormat::Millis, true)
            ),
        )
    }

    /// 400 `invalidArgument` with this message.
    pub fn bad_request(message: &str) -> Fault {
        Fault::status(400, "invalidArgument", message)
    }

    /// 400 `failedPrecondition` with this message (status
    /// `FAILED_PRECONDITION`).
    pub fn failed_precondition(message: &str) -> Fault {
        Fault::status(400, "failedPrecondition", message)
    }

    /// 403 `forbidden` with this message.
    pub fn forbidden(message: &str) -> Fault {
        Fault::status(403, "forbidden", message)
    }

    /// 403 `domainPolicy`: "The domain administrators have disabled Gmail
    /// apps."
    pub fn domain_policy() -> Fault {
        Fault::status(
            403,
            "domainPolicy",
            "The domain administrators have disabled Gmail apps.",
        )
    }

    /// 401 `authError` ("Invalid Credentials"), whatever the token.
    pub fn unauthorized() -> Fault {
        Fault::status(401, AUTH_ERROR_REASON, INVALID_CREDENTIALS_MESSAGE)
    }

    /// The same fault with a `Retry-After` header (only for
    /// [`Fault::Status`]; other faults are returned unchanged).
    pub fn with_retry_after(self, retry_after: Duration) -> Fault {
        match self {
            Fault::Status {
                code,
                reason,
                message,
                ..
            } => Fault::Status {
                code,
                reason,
                message,
                retry_after: Some(retry_after),
            },
            other => other,
        }
    }
}

/// Reason of Google's 401 answers.
pub(crate) const AUTH_ERROR_REASON: &str = "authError";
/// Message of Google's 401 answer to a bad access token.
pub(crate) const INVALID_CREDENTIALS_MESSAGE: &str = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";

/// Whether `reason` is one of Google's usage-limit reasons (domain
/// `usageLimits`).
pub(crate) fn is_usage_limit(reason: &str) -> bool {
    matches!(
        reason,
        "rateLimitExceeded"
            | "userRateLimitExceeded"
            | "dailyLimitExceeded"
            | "quotaExceeded"
            | "concurrentLimitExceeded"
            | "limitExceeded"
    )
}

/// The canonical status string Google pairs with an HTTP code (and reason).
pub(crate) fn status_name(code: u16, reason: &str) -> &'static str {
    match code {
        400 if reason == "failedPrecondition" => "FAILED_PRECONDITION",
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        412 => "FAILED_PRECONDITION",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        500 => "INTERNAL",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_sending_limit_message() {
        let until = DateTime::parse_from_rfc3339("2026-11-25T20:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let Fault::Status { code, message, .. } = Fault::mail_sending_limit(until) else {
            panic!("not a status fault");
        };
        assert_eq!(code, 429);
        assert_eq!(
            message,
            "User-rate limit exceeded.  Retry after 2026-11-25T20:00:00.000Z (Mail sending)"
        );
    }
}
