//! Retry policy: exponential backoff with full jitter, a cap, a maximum number of attempts and
//! an overall give-up age; `Retry-After` honoured. A value, so every decision is testable.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};

/// When to try a failed job again. Deserializes from the `[retry]` section of the worker's
/// config, durations written like `"5s"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Backoff before the first retry (the ceiling of its jitter). Default 5 s.
    #[serde(with = "humantime_serde")]
    pub base: Duration,
    /// Largest backoff ceiling. Default 1 h.
    #[serde(with = "humantime_serde")]
    pub cap: Duration,
    /// Attempts (failed sends) after which the job is dead-lettered. Default 12.
    pub max_attempts: u32,
    /// Age, counted from the enqueue, after which a failing job is dead-lettered whatever its
    /// attempts. Default 3 days.
    #[serde(with = "humantime_serde")]
    pub give_up_after: Duration,
    /// Longest `Retry-After` honoured; longer hints are clamped to it. Default 24 h.
    #[serde(with = "humantime_serde")]
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(5),
            cap: Duration::from_secs(3600),
            max_attempts: 12,
            give_up_after: Duration::from_secs(3 * 24 * 3600),
            max_retry_after: Duration::from_secs(24 * 3600),
        }
    }
}

/// What to do after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Try again at this time.
    RetryAt(DateTime<Utc>),
    /// Give up: attempts or age exhausted.
    GiveUp,
}

impl RetryPolicy {
    /// Checks the values, naming the first bad one.
    ///
    /// # Errors
    /// [`crate::QueueError::Config`] naming the field.
    pub fn validate(&self) -> Result<(), crate::QueueError> {
        let rule = crate::QueueError::ensure;
        rule(
            self.base >= Duration::from_millis(1),
            "base",
            "must be at least 1ms",
        )?;
        rule(self.cap >= self.base, "cap", "must not be less than base")?;
        rule(self.max_attempts >= 1, "max_attempts", "must be at least 1")?;
        rule(
            self.give_up_after >= Duration::from_secs(1),
            "give_up_after",
            "must be at least 1s",
        )
    }

    /// The backoff ceiling after `attempts` failed attempts: `min(cap, base * 2^(attempts-1))`.
    #[must_use]
    pub fn ceiling(&self, attempts: u32) -> Duration {
        let exp = attempts.saturating_sub(1).min(30);
        self.base.saturating_mul(1 << exp).min(self.cap)
    }

    /// The delay before the next attempt: uniform in `[0, ceiling]` (full jitter), but never
    /// sooner than `retry_after` (clamped to `max_retry_after`).
    #[must_use]
    pub fn delay<R: Rng + ?Sized>(
        &self,
        attempts: u32,
        retry_after: Option<Duration>,
        rng: &mut R,
    ) -> Duration {
        let ceiling = self.ceiling(attempts);
        let jitter = Duration::from_millis(
            rng.random_range(0..=u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX)),
        );
        let floor = retry_after.map_or(Duration::ZERO, |r| r.min(self.max_retry_after));
        jitter.max(floor)
    }

    /// Decides after a failure: `attempts` counts failed attempts including this one,
    /// `created_at` is the enqueue time, `now` the current time.
    #[must_use]
    pub fn decide<R: Rng + ?Sized>(
        &self,
        attempts: u32,
        created_at: DateTime<Utc>,
        now: DateTime<Utc>,
        retry_after: Option<Duration>,
        rng: &mut R,
    ) -> RetryDecision {
        if attempts >= self.max_attempts {
            return RetryDecision::GiveUp;
        }
        let at = now + self.delay(attempts, retry_after, rng);
        let deadline = created_at + self.give_up_after;
        if at > deadline {
            return RetryDecision::GiveUp;
        }
        RetryDecision::RetryAt(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn ceiling_doubles_up_to_the_cap() {
        let p = RetryPolicy::default();
        assert_eq!(p.ceiling(1), Duration::from_secs(5));
        assert_eq!(p.ceiling(2), Duration::from_secs(10));
        assert_eq!(p.ceiling(5), Duration::from_secs(80));
        assert_eq!(p.ceiling(11), Duration::from_secs(3600));
        assert_eq!(p.ceiling(400), Duration::from_secs(3600));
    }

    #[test]
    fn full_jitter_spreads_delays_below_the_ceiling() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(7);
        let delays: Vec<Duration> = (0..1000).map(|_| p.delay(4, None, &mut rng)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(40)));
        let mean = delays.iter().map(Duration::as_secs_f64).sum::<f64>() / 1000.0;
        assert!(
            (15.0..25.0).contains(&mean),
            "mean {mean} should be near half the ceiling"
        );
    }

    #[test]
    fn retry_after_is_a_floor_and_is_clamped() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..100 {
            assert!(
                p.delay(1, Some(Duration::from_secs(120)), &mut rng) >= Duration::from_secs(120)
            );
        }
        let huge = p.delay(1, Some(Duration::from_secs(10 * 24 * 3600)), &mut rng);
        assert_eq!(huge, Duration::from_secs(24 * 3600));
    }

    #[test]
    fn gives_up_after_max_attempts_or_age() {
        let p = RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        let mut rng = StdRng::seed_from_u64(2);
        let now = DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(
            matches!(p.decide(2, now, now, None, &mut rng), RetryDecision::RetryAt(t) if t >= now)
        );
        assert_eq!(p.decide(3, now, now, None, &mut rng), RetryDecision::GiveUp);
        let old = now - chrono::Duration::days(4);
        assert_eq!(p.decide(1, old, now, None, &mut rng), RetryDecision::GiveUp);
    }

    #[test]
    fn a_retry_is_due_the_delay_after_now_and_within_the_give_up_age() {
        let p = RetryPolicy::default();
        let now = DateTime::parse_from_rfc3339("2026-03-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let hint = Some(Duration::from_secs(600));
        let mut rng = StdRng::seed_from_u64(3);
        let expected = now + p.delay(1, hint, &mut StdRng::seed_from_u64(3));
        assert_eq!(
            p.decide(1, now, now, hint, &mut rng),
            RetryDecision::RetryAt(expected)
        );
        // Enqueued so long ago that the retry would land past the give-up age.
        let created = now - chrono::Duration::from_std(p.give_up_after).unwrap()
            + chrono::Duration::seconds(599);
        assert_eq!(
            p.decide(1, created, now, hint, &mut StdRng::seed_from_u64(3)),
            RetryDecision::GiveUp
        );
    }
}
