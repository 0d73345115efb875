//! What becomes of a job whose send failed: a pure decision, so every branch is testable.

use chrono::{DateTime, Utc};
use mailroom_queue::{RetryDecision, RetryPolicy};
use rand::Rng;

use crate::transport::{SendError, Verdict};

/// The outcome to record after a failed send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Schedule the job again at `at`; `spend_attempt` is false for rate limits.
    Retry {
        /// When to try again.
        at: DateTime<Utc>,
        /// Whether the failure counts against `retry.max_attempts`.
        spend_attempt: bool,
    },
    /// Dead-letter the job with this reason.
    Dead(String),
}

/// Decides after `error`: `failed_before` counts the failed attempts before this one,
/// `created_at` is when the job was enqueued, and `recheck` is how long the jobs of a
/// quarantined sender wait before they look again.
pub fn decide<R: Rng + ?Sized>(
    error: &SendError,
    failed_before: u32,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
    policy: &RetryPolicy,
    recheck: std::time::Duration,
    rng: &mut R,
) -> Failure {
    let later = |d: std::time::Duration| {
        now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
    };
    match error.verdict {
        Verdict::Transient => {
            let attempts = failed_before.saturating_add(1);
            match policy.decide(attempts, created_at, now, error.retry_after, rng) {
                RetryDecision::RetryAt(at) => Failure::Retry {
                    at,
                    spend_attempt: true,
                },
                RetryDecision::GiveUp => {
                    Failure::Dead(format!("gave up after {attempts} attempts: {error}"))
                }
            }
        }
        Verdict::RateLimited => Failure::Retry {
            at: later(
                error
                    .retry_after
                    .map_or(policy.base, |d| d.min(policy.max_retry_after)),
            ),
            spend_attempt: false,
        },
        Verdict::SenderLimit { until } => Failure::Retry {
            at: until.max(now),
            spend_attempt: false,
        },
        Verdict::Unreachable => Failure::Retry {
            at: later(policy.delay(1, None, rng)),
            spend_attempt: false,
        },
        Verdict::Credentials => Failure::Retry {
            at: later(recheck),
            spend_attempt: false,
        },
        Verdict::Permanent => Failure::Dead(error.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::*;
    use crate::transport::FailureReason;

    const RECHECK: Duration = Duration::from_secs(300);

    fn rng() -> StdRng {
        StdRng::seed_from_u64(3)
    }

    /// `decide` at `now` for a job enqueued at `now`, with the default policy.
    fn decide_now(err: &SendError, failed_before: u32, now: DateTime<Utc>) -> Failure {
        decide(
            err,
            failed_before,
            now,
            now,
            &RetryPolicy::default(),
            RECHECK,
            &mut rng(),
        )
    }

    #[test]
    fn transient_errors_back_off_and_spend_an_attempt() {
        let policy = RetryPolicy::default();
        let now = Utc::now();
        let err = SendError::transient("disk full");
        match decide(&err, 0, now, now, &policy, RECHECK, &mut rng()) {
            Failure::Retry { at, spend_attempt } => {
                assert!(spend_attempt);
                assert!(
                    at >= now && at <= now + chrono::Duration::seconds(5),
                    "{at}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn transient_errors_give_up_at_max_attempts_naming_the_count() {
        let policy = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        let now = Utc::now();
        let err = SendError::transient("disk full");
        assert!(matches!(
            decide(&err, 1, now, now, &policy, RECHECK, &mut rng()),
            Failure::Retry { .. }
        ));
        assert_eq!(
            decide(&err, 2, now, now, &policy, RECHECK, &mut rng()),
            Failure::Dead("gave up after 3 attempts: disk full".into())
        );
    }

    #[test]
    fn transient_errors_give_up_when_the_job_is_too_old() {
        let policy = RetryPolicy::default();
        let now = Utc::now();
        let created = now - chrono::Duration::days(4);
        let err = SendError::transient("timeout");
        assert!(
            matches!(decide(&err, 0, created, now, &policy, RECHECK, &mut rng()), Failure::Dead(r) if r.starts_with("gave up after 1 attempts"))
        );
    }

    #[test]
    fn rate_limits_wait_the_hint_or_the_base_without_spending_an_attempt() {
        let policy = RetryPolicy::default();
        let now = Utc::now();
        let hinted = SendError::rate_limited("slow down", Some(Duration::from_secs(90)));
        assert_eq!(
            decide(&hinted, 11, now, now, &policy, RECHECK, &mut rng()),
            Failure::Retry {
                at: now + chrono::Duration::seconds(90),
                spend_attempt: false
            }
        );
        let bare = SendError::rate_limited("slow down", None);
        assert_eq!(
            decide(&bare, 0, now, now, &policy, RECHECK, &mut rng()),
            Failure::Retry {
                at: now + chrono::Duration::seconds(5),
                spend_attempt: false
            }
        );
        let huge = SendError::rate_limited("slow down", Some(Duration::from_secs(10 * 86_400)));
        assert_eq!(
            decide(&huge, 0, now, now, &policy, RECHECK, &mut rng()),
            Failure::Retry {
                at: now + chrono::Duration::hours(24),
                spend_attempt: false
            }
        );
    }

    #[test]
    fn transient_errors_wait_at_least_retry_after() {
        let now = Utc::now();
        let err = SendError::transient("503").after(Some(Duration::from_secs(120)));
        for _ in 0..20 {
            match decide(
                &err,
                0,
                now,
                now,
                &RetryPolicy::default(),
                RECHECK,
                &mut rand::rng(),
            ) {
                Failure::Retry { at, spend_attempt } => {
                    assert!(spend_attempt);
                    assert!(at >= now + chrono::Duration::seconds(120), "{at}");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn sender_limits_and_credential_problems_wait_without_spending_attempts() {
        let now = Utc::now();
        let until = now + chrono::Duration::hours(2);
        let limit = SendError::with(
            Verdict::SenderLimit { until },
            FailureReason::DailyLimit,
            "daily limit",
        );
        assert_eq!(
            decide_now(&limit, 11, now),
            Failure::Retry {
                at: until,
                spend_attempt: false
            }
        );
        let creds = SendError::with(Verdict::Credentials, FailureReason::InvalidGrant, "revoked");
        assert_eq!(
            decide_now(&creds, 11, now),
            Failure::Retry {
                at: now + chrono::Duration::seconds(300),
                spend_attempt: false
            }
        );
    }

    #[test]
    fn an_unreachable_token_endpoint_waits_a_first_backoff_even_after_many_failures() {
        let now = Utc::now();
        let down = SendError::with(
            Verdict::Unreachable,
            FailureReason::Connection,
            "token endpoint down",
        );
        // Eleven failures before: a transient error would now give up (12 attempts).
        match decide_now(&down, 11, now) {
            Failure::Retry { at, spend_attempt } => {
                assert!(!spend_attempt);
                assert!(at <= now + chrono::Duration::seconds(5), "{at}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn permanent_errors_die_at_once() {
        let now = Utc::now();
        let err = SendError::permanent("mailbox does not exist");
        assert_eq!(
            decide_now(&err, 0, now),
            Failure::Dead("mailbox does not exist".into())
        );
    }
}
