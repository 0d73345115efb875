//! What becomes of a job whose send failed, or whose sender is quarantined: pure decisions,
//! taking the time as an argument, so every branch is testable.

use std::time::Duration;

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

/// How the jobs of a quarantined sender wait: they look again every `recheck`, and a job
/// older than `give_up` (from its enqueue) is dead-lettered instead
/// (`credentials.quarantine_recheck`, `credentials.quarantine_give_up`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quarantine {
    /// How long a job waits before its sender is looked at again.
    pub recheck: Duration,
    /// The age past which a job stops waiting for its sender.
    pub give_up: Duration,
}

/// `now + d`, or the latest time chrono can hold when that overflows.
fn after(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// What becomes of a job whose sender is quarantined (`reason`): it waits until `at`
/// without spending an attempt, unless it is older than `quarantine.give_up` at `now`, when
/// it is dead-lettered with the reason.
#[must_use]
pub fn quarantined(
    reason: &str,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
    at: DateTime<Utc>,
    quarantine: &Quarantine,
) -> Failure {
    if after(created_at, quarantine.give_up) <= now {
        return Failure::Dead(format!(
            "gave up waiting for a quarantined sender after {} (credentials.quarantine_give_up): \
             {reason}",
            humantime_serde::re::humantime::format_duration(quarantine.give_up)
        ));
    }
    Failure::Retry {
        at,
        spend_attempt: false,
    }
}

/// Decides after `error`: `failed_before` counts the failed attempts before this one,
/// `created_at` is when the job was enqueued, and `quarantine` says how the jobs of a
/// quarantined sender wait. Never panics, whatever the times and durations.
pub fn decide<R: Rng + ?Sized>(
    error: &SendError,
    failed_before: u32,
    created_at: DateTime<Utc>,
    now: DateTime<Utc>,
    policy: &RetryPolicy,
    quarantine: &Quarantine,
    rng: &mut R,
) -> Failure {
    let later = |d: Duration| after(now, d);
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
        Verdict::Credentials => quarantined(
            &error.to_string(),
            created_at,
            now,
            later(quarantine.recheck),
            quarantine,
        ),
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

    const RECHECK: Quarantine = Quarantine {
        recheck: Duration::from_secs(300),
        give_up: Duration::from_secs(7 * 86_400),
    };

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
            &RECHECK,
            &mut rng(),
        )
    }

    #[test]
    fn transient_errors_back_off_and_spend_an_attempt() {
        let policy = RetryPolicy::default();
        let now = Utc::now();
        let err = SendError::transient("disk full");
        match decide(&err, 0, now, now, &policy, &RECHECK, &mut rng()) {
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
            decide(&err, 1, now, now, &policy, &RECHECK, &mut rng()),
            Failure::Retry { .. }
        ));
        assert_eq!(
            decide(&err, 2, now, now, &policy, &RECHECK, &mut rng()),
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
            matches!(decide(&err, 0, created, now, &policy, &RECHECK, &mut rng()), Failure::Dead(r) if r.starts_with("gave up after 1 attempts"))
        );
    }

    #[test]
    fn rate_limits_wait_the_hint_or_the_base_without_spending_an_attempt() {
        let policy = RetryPolicy::default();
        let now = Utc::now();
        let hinted = SendError::rate_limited("slow down", Some(Duration::from_secs(90)));
        assert_eq!(
            decide(&hinted, 11, now, now, &policy, &RECHECK, &mut rng()),
            Failure::Retry {
                at: now + chrono::Duration::seconds(90),
                spend_attempt: false
            }
        );
        let bare = SendError::rate_limited("slow down", None);
        assert_eq!(
            decide(&bare, 0, now, now, &policy, &RECHECK, &mut rng()),
            Failure::Retry {
                at: now + chrono::Duration::seconds(5),
                spend_attempt: false
            }
        );
        let huge = SendError::rate_limited("slow down", Some(Duration::from_secs(10 * 86_400)));
        assert_eq!(
            decide(&huge, 0, now, now, &policy, &RECHECK, &mut rng()),
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
                &RECHECK,
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
    fn a_quarantined_senders_job_dies_once_older_than_the_give_up() {
        let now = Utc::now();
        let creds = SendError::with(Verdict::Credentials, FailureReason::InvalidGrant, "revoked");
        let young = now - chrono::Duration::days(7) + chrono::Duration::seconds(1);
        assert!(matches!(
            decide(
                &creds,
                0,
                young,
                now,
                &RetryPolicy::default(),
                &RECHECK,
                &mut rng()
            ),
            Failure::Retry {
                spend_attempt: false,
                ..
            }
        ));
        let old = now - chrono::Duration::days(7);
        match decide(
            &creds,
            0,
            old,
            now,
            &RetryPolicy::default(),
            &RECHECK,
            &mut rng(),
        ) {
            Failure::Dead(reason) => assert!(
                reason.starts_with(
                    "gave up waiting for a quarantined sender after 7days \
                     (credentials.quarantine_give_up): "
                ) && reason.ends_with("revoked"),
                "{reason}"
            ),
            other => panic!("{other:?}"),
        }
        // The gate's hold, on an explicit clock: the same boundary.
        let at = now + chrono::Duration::minutes(5);
        assert_eq!(
            quarantined("sender quarantined: x", young, now, at, &RECHECK),
            Failure::Retry {
                at,
                spend_attempt: false
            }
        );
        assert!(matches!(
            quarantined("x", old, now, at, &RECHECK),
            Failure::Dead(_)
        ));
    }

    #[test]
    fn absurd_hints_and_durations_never_overflow() {
        let policy = RetryPolicy {
            max_retry_after: Duration::MAX,
            ..RetryPolicy::default()
        };
        let now = Utc::now();
        let huge = SendError::rate_limited("slow down", Some(Duration::from_secs(u64::MAX)));
        let eternal = Quarantine {
            recheck: Duration::MAX,
            give_up: Duration::MAX,
        };
        assert_eq!(
            decide(&huge, 0, now, now, &policy, &eternal, &mut rng()),
            Failure::Retry {
                at: DateTime::<Utc>::MAX_UTC,
                spend_attempt: false
            }
        );
        let creds = SendError::with(Verdict::Credentials, FailureReason::InvalidGrant, "revoked");
        assert!(matches!(
            decide(&creds, 0, now, now, &policy, &eternal, &mut rng()),
            Failure::Retry { .. }
        ));
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
