//! What a failed Gmail call means, decided from what Google answered. Pure, so each row of
//! the error table in the README is a test here (and, against the fake Google, in
//! `crates/worker/tests/gmail_answers.rs`).
//!
//! | Google's answer                                          | verdict                                   |
//! |----------------------------------------------------------|-------------------------------------------|
//! | no answer, connection dropped, timeout, 200 without id   | transient (the send may have gone out)    |
//! | 500 `backendError`, 502, 503, 504                        | transient                                 |
//! | an HTML page (not Gmail's JSON) other than 429            | transient                                 |
//! | 429, `rateLimitExceeded`, `userRateLimitExceeded`         | rate limited: the sender waits            |
//! | `dailyLimitExceeded`, 429 "(Mail sending)"                | sender limit: paused until the reset      |
//! | 401 (after one refresh)                                  | transient                                 |
//! | 403 `insufficientPermissions`, `domainPolicy`, `forbidden` "Delegation denied …", 404 | credentials: quarantined |
//! | 400, other 403                                           | permanent: dead-lettered at once          |

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::transport::{FailureReason, SendError, Verdict};

/// Google's answer to a failed send.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Failed {
    /// HTTP status; `None` when no response came back.
    pub status: Option<u16>,
    /// `error.errors[0].reason` of Google's error JSON.
    pub reason: Option<String>,
    /// `error.message`, or a description of what went wrong.
    pub message: String,
    /// The `Retry-After` header.
    pub retry_after: Option<Duration>,
    /// True when the request timed out (it may have been delivered).
    pub timed_out: bool,
    /// True when the body was not Google's error JSON: an HTML page from a load balancer or
    /// proxy in front of Gmail, not Gmail's verdict on the message.
    pub not_json: bool,
}

impl Failed {
    /// Reads Google's error JSON: `{"error":{"code":…,"message":…,"errors":[{"reason":…}]}}`.
    #[must_use]
    pub fn from_json(json: &serde_json::Value, status: Option<u16>) -> Self {
        let error = &json["error"];
        let code = error["code"]
            .as_u64()
            .and_then(|c| u16::try_from(c).ok())
            .or(status);
        let reason = error["errors"][0]["reason"]
            .as_str()
            .or_else(|| error["status"].as_str())
            .map(str::to_owned);
        let message = error["message"]
            .as_str()
            .map_or_else(|| json.to_string(), str::to_owned);
        Self {
            status: code,
            reason,
            message,
            ..Self::default()
        }
    }
}

/// The verdict on `failed`, at `now`.
#[must_use]
pub fn classify_send_error(failed: &Failed, now: DateTime<Utc>) -> SendError {
    let reason = failed.reason.as_deref().unwrap_or("");
    let text = |what: &str| match failed.status {
        Some(code) if reason.is_empty() => format!("gmail: {what} ({code}): {}", failed.message),
        Some(code) => format!("gmail: {what} ({code} {reason}): {}", failed.message),
        None => format!("gmail: {what}: {}", failed.message),
    };
    let hinted = retry_after_in(&failed.message, now).or(failed.retry_after);
    let Some(status) = failed.status else {
        let label = if failed.timed_out {
            FailureReason::Timeout
        } else {
            FailureReason::Connection
        };
        return SendError::with(Verdict::Transient, label, text("no answer"));
    };
    if status == 200 {
        // Gmail took the message but said nothing of it: the send may have gone out.
        return SendError::with(
            Verdict::Transient,
            FailureReason::Other,
            text("no message id"),
        );
    }
    if let Some((label, what)) = sender_limit(status, reason, &failed.message) {
        let until = hinted.map_or_else(|| next_daily_reset(now), |d| until(now, d));
        return SendError::with(Verdict::SenderLimit { until }, label, text(what));
    }
    if failed.not_json && !matches!(status, 429 | 500..=599) {
        let what = "an HTML page instead of Gmail's answer";
        return SendError::with(Verdict::Transient, FailureReason::Other, text(what));
    }
    if let Some(label) = rate_limit(status, reason) {
        return SendError::with(Verdict::RateLimited, label, text("rate limited")).after(hinted);
    }
    let (verdict, label, what) = other_failure(status, reason, &failed.message);
    let server_side = matches!(
        label,
        FailureReason::BackendError | FailureReason::BadGateway | FailureReason::ServerError
    );
    SendError::with(verdict, label, text(what)).after(failed.retry_after.filter(|_| server_side))
}

/// A limit of the sender's that lasts: its daily limit, or Gmail's "(Mail sending)" limit.
fn sender_limit(status: u16, reason: &str, message: &str) -> Option<(FailureReason, &'static str)> {
    match (status, reason) {
        (_, "dailyLimitExceeded") => {
            Some((FailureReason::DailyLimit, "daily sending limit reached"))
        }
        (429 | 403, _) if message.contains("(Mail sending)") => Some((
            FailureReason::MailSendingLimit,
            "mail sending limit reached",
        )),
        _ => None,
    }
}

/// A rate limit: the sender slows down.
fn rate_limit(status: u16, reason: &str) -> Option<FailureReason> {
    match (status, reason) {
        (_, "userRateLimitExceeded") => Some(FailureReason::UserRateLimited),
        (_, "rateLimitExceeded") | (429, _) => Some(FailureReason::RateLimited),
        _ => None,
    }
}

/// Any other answer: a server error, a refused token, or a refused request.
fn other_failure(
    status: u16,
    reason: &str,
    message: &str,
) -> (Verdict, FailureReason, &'static str) {
    use FailureReason as R;
    match (status, reason) {
        (_, "backendError") => (Verdict::Transient, R::BackendError, "backend error"),
        (502, _) => (Verdict::Transient, R::BadGateway, "bad gateway"),
        (500..=599, _) => (Verdict::Transient, R::ServerError, "server error"),
        (401, _) => (
            Verdict::Transient,
            R::Unauthorized,
            "access token refused after a refresh",
        ),
        (403, "insufficientPermissions") => (
            Verdict::Credentials,
            R::Unauthorized,
            "the token may not send mail",
        ),
        (403, "domainPolicy") => (
            Verdict::Credentials,
            R::DomainPolicy,
            "the domain's administrators disabled Gmail API access",
        ),
        (403, "forbidden") if message.starts_with("Delegation denied") => (
            Verdict::Credentials,
            R::DelegationDenied,
            "the token may not act for this mailbox",
        ),
        (404, _) => (Verdict::Credentials, R::NotFound, "no such mailbox"),
        (403, _) => (Verdict::Permanent, R::Forbidden, "refused"),
        (400..=499, _) => (Verdict::Permanent, R::BadRequest, "refused"),
        _ => (Verdict::Transient, R::Other, "unexpected answer"),
    }
}

/// Google's daily quotas reset at midnight Pacific time. 08:00 UTC is midnight in winter
/// and 1 a.m. in summer: never before the reset, at most an hour after it (no time zone
/// database is needed for that).
fn next_daily_reset(now: DateTime<Utc>) -> DateTime<Utc> {
    let today = now
        .date_naive()
        .and_hms_opt(8, 0, 0)
        .map_or(now, |t| t.and_utc());
    if today > now {
        today
    } else {
        today + chrono::Duration::days(1)
    }
}

fn until(now: DateTime<Utc>, hinted: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(hinted)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Gmail writes its limits' end into the message: `User-rate limit exceeded.  Retry after
/// 2026-11-25T20:00:00.000Z (Mail sending)`. Returns the wait until then.
fn retry_after_in(message: &str, now: DateTime<Utc>) -> Option<Duration> {
    let rest = &message[message.find("Retry after ")? + "Retry after ".len()..];
    let stamp = rest.split_whitespace().next()?;
    let at = DateTime::parse_from_rfc3339(stamp)
        .ok()?
        .with_timezone(&Utc);
    (at - now).to_std().ok()
}

/// A failed call other than a send (a read of the mailbox, the send-as list), classified as
/// a send failure is, with the HTTP status its delegate saw (`seen`) when the error itself
/// carries none.
pub(super) fn read_error(f: Failed, seen: Option<u16>) -> SendError {
    classify_send_error(
        &Failed {
            status: f.status.or(seen),
            ..f
        },
        Utc::now(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn google(code: u16, reason: &str, message: &str) -> Failed {
        Failed::from_json(
            &json!({"error": {"code": code, "message": message,
                "errors": [{"message": message, "domain": "global", "reason": reason}]}}),
            Some(code),
        )
    }

    #[test]
    fn server_errors_and_lost_answers_are_transient() {
        let now = Utc::now();
        for (failed, label) in [
            (
                google(500, "backendError", "Backend Error"),
                "backend_error",
            ),
            (
                google(503, "", "The service is currently unavailable."),
                "server_error",
            ),
            (google(504, "", "Deadline exceeded"), "server_error"),
            (
                Failed {
                    status: Some(502),
                    message: "a non-JSON body".into(),
                    ..Failed::default()
                },
                "bad_gateway",
            ),
            (
                Failed {
                    timed_out: true,
                    message: "no answer within 30s".into(),
                    ..Failed::default()
                },
                "timeout",
            ),
            (
                Failed {
                    message: "connection closed".into(),
                    ..Failed::default()
                },
                "connection",
            ),
        ] {
            let e = classify_send_error(&failed, now);
            assert_eq!(e.verdict, Verdict::Transient, "{failed:?}");
            assert_eq!(e.reason.as_str(), label);
        }
    }

    #[test]
    fn rate_limits_delay_the_sender_and_keep_retry_after() {
        let now = Utc::now();
        let mut failed = google(
            429,
            "rateLimitExceeded",
            "Too many concurrent requests for user.",
        );
        failed.retry_after = Some(Duration::from_secs(7));
        let e = classify_send_error(&failed, now);
        assert_eq!(e.verdict, Verdict::RateLimited);
        assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
        let e = classify_send_error(
            &google(403, "userRateLimitExceeded", "User Rate Limit Exceeded"),
            now,
        );
        assert_eq!(
            (e.verdict, e.reason.as_str()),
            (Verdict::RateLimited, "user_rate_limited")
        );
    }

    #[test]
    fn daily_and_mail_sending_limits_park_the_sender_until_the_window_rolls() {
        let now = DateTime::parse_from_rfc3339("2026-11-25T18:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let e = classify_send_error(
            &google(
                429,
                "rateLimitExceeded",
                "User-rate limit exceeded.  Retry after 2026-11-25T20:00:00.000Z (Mail sending)",
            ),
            now,
        );
        let want = DateTime::parse_from_rfc3339("2026-11-25T20:00:00Z").unwrap();
        assert_eq!(e.verdict, Verdict::SenderLimit { until: want.into() });
        assert_eq!(e.reason.as_str(), "mail_sending_limit");
        let e = classify_send_error(
            &google(403, "dailyLimitExceeded", "Daily Limit Exceeded"),
            now,
        );
        let reset = DateTime::parse_from_rfc3339("2026-11-26T08:00:00Z").unwrap();
        assert_eq!(
            e.verdict,
            Verdict::SenderLimit {
                until: reset.into()
            }
        );
    }

    #[test]
    fn bad_requests_and_refusals_are_permanent_with_googles_message() {
        let now = Utc::now();
        let e = classify_send_error(&google(400, "invalidArgument", "Invalid To header"), now);
        assert_eq!(e.verdict, Verdict::Permanent);
        assert!(e.message.contains("Invalid To header"), "{}", e.message);
        let e = classify_send_error(
            &google(
                403,
                "domainPolicy",
                "The domain administrators have disabled Gmail apps.",
            ),
            now,
        );
        assert_eq!(
            (e.verdict, e.reason.as_str()),
            (Verdict::Credentials, "domain_policy")
        );
    }

    #[test]
    fn a_token_without_the_send_scope_quarantines_the_sender() {
        let e = classify_send_error(
            &google(
                403,
                "insufficientPermissions",
                "Request had insufficient authentication scopes.",
            ),
            Utc::now(),
        );
        assert_eq!(e.verdict, Verdict::Credentials);
    }
}
