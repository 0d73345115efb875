//! Gmail's usage limits: [`Quota`] (the budgets) and the sliding windows
//! that enforce them.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Length of the per-minute windows.
const MINUTE: Duration = Duration::from_secs(60);
/// Length of the daily sending window.
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// Gmail's usage limits as the fake enforces them on `messages.send`.
///
/// The default is Google's: 15,000 quota units per user per minute, 100
/// units per send (so 150 sends a minute), 2,000 messages per user per
/// rolling day (Google Workspace) and no project-wide limit. Only accepted
/// sends consume quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Quota units one user may spend in any 60-second window.
    pub units_per_user_per_minute: u32,
    /// Units one `messages.send` costs.
    pub units_per_send: u32,
    /// Messages one user may send in any rolling 24 hours.
    pub sends_per_user_per_day: u32,
    /// Units the whole project may spend in any 60-second window, if limited.
    pub units_per_project_per_minute: Option<u32>,
}

impl Default for Quota {
    fn default() -> Self {
        Quota {
            units_per_user_per_minute: 15_000,
            units_per_send: 100,
            sends_per_user_per_day: 2_000,
            units_per_project_per_minute: None,
        }
    }
}

impl Quota {
    /// No limits at all: quota accounting is effectively off.
    pub fn unlimited() -> Quota {
        Quota {
            units_per_user_per_minute: u32::MAX,
            units_per_send: 0,
            sends_per_user_per_day: u32::MAX,
            units_per_project_per_minute: None,
        }
    }
}

/// Which limit a send ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    /// The user's per-minute units.
    UserPerMinute,
    /// The user's daily sending limit.
    UserPerDay,
    /// The project's per-minute units.
    ProjectPerMinute,
}

/// A send refused for quota.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Exceeded {
    /// The limit that was hit.
    pub limit: Limit,
    /// How long until the same send would fit.
    pub retry_after: Duration,
}

/// The spending history the limits are checked against.
#[derive(Debug, Default)]
pub(crate) struct QuotaTracker {
    user_units: HashMap<String, VecDeque<(Instant, u32)>>,
    user_sends: HashMap<String, VecDeque<Instant>>,
    project_units: VecDeque<(Instant, u32)>,
}

impl QuotaTracker {
    /// Checks whether one more send by `user` at `now` fits, and if so
    /// records it.
    pub(crate) fn try_spend(
        &mut self,
        quota: &Quota,
        user: &str,
        now: Instant,
    ) -> Result<(), Exceeded> {
        let units = quota.units_per_send;
        let user_units = self.user_units.entry(user.to_owned()).or_default();
        prune_units(user_units, now);
        if let Some(retry_after) =
            wait_for_units(user_units, units, quota.units_per_user_per_minute, now)
        {
            return Err(Exceeded {
                limit: Limit::UserPerMinute,
                retry_after,
            });
        }

        let user_sends = self.user_sends.entry(user.to_owned()).or_default();
        while user_sends
            .front()
            .is_some_and(|t| now.duration_since(*t) >= DAY)
        {
            user_sends.pop_front();
        }
        if user_sends.len() as u64 >= u64::from(quota.sends_per_user_per_day) {
            let retry_after = user_sends
                .front()
                .map_or(DAY, |oldest| (*oldest + DAY).saturating_duration_since(now));
            return Err(Exceeded {
                limit: Limit::UserPerDay,
                retry_after,
            });
        }

        prune_units(&mut self.project_units, now);
        if let Some(limit) = quota.units_per_project_per_minute
            && let Some(retry_after) = wait_for_units(&self.project_units, units, limit, now)
        {
            return Err(Exceeded {
                limit: Limit::ProjectPerMinute,
                retry_after,
            });
        }

        if units > 0 {
            user_units.push_back((now, units));
            self.project_units.push_back((now, units));
        }
        user_sends.push_back(now);
        Ok(())
    }
}

/// Drops the entries older than a minute.
fn prune_units(window: &mut VecDeque<(Instant, u32)>, now: Instant) {
    while window
        .front()
        .is_some_and(|(t, _)| now.duration_since(*t) >= MINUTE)
    {
        window.pop_front();
    }
}

/// `None` if `units` more fit under `limit` in the (pruned) window, else how
/// long until enough old entries have left it.
fn wait_for_units(
    window: &VecDeque<(Instant, u32)>,
    units: u32,
    limit: u32,
    now: Instant,
) -> Option<Duration> {
    let spent: u64 = window.iter().map(|(_, u)| u64::from(*u)).sum();
    let needed = spent + u64::from(units);
    if needed <= u64::from(limit) {
        return None;
    }
    if u64::from(units) > u64::from(limit) {
        // Never fits; answer with a full window.
        return Some(MINUTE);
    }
    let excess = needed - u64::from(limit);
    let mut freed = 0u64;
    for (t, u) in window {
        freed += u64::from(*u);
        if freed >= excess {
            return Some((*t + MINUTE).saturating_duration_since(now));
        }
    }
    Some(MINUTE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(per_minute: u32, per_day: u32) -> Quota {
        Quota {
            units_per_user_per_minute: per_minute,
            units_per_send: 100,
            sends_per_user_per_day: per_day,
            units_per_project_per_minute: None,
        }
    }

    #[test]
    fn per_minute_budget_is_per_user_and_slides() {
        let q = quota(300, 1000);
        let mut tracker = QuotaTracker::default();
        let t0 = Instant::now();
        for i in 0..3 {
            tracker
                .try_spend(&q, "a@x", t0 + Duration::from_secs(i))
                .unwrap();
        }
        let err = tracker
            .try_spend(&q, "a@x", t0 + Duration::from_secs(10))
            .unwrap_err();
        assert_eq!(err.limit, Limit::UserPerMinute);
        assert_eq!(err.retry_after, Duration::from_secs(50));
        tracker
            .try_spend(&q, "b@x", t0 + Duration::from_secs(10))
            .unwrap();
        tracker
            .try_spend(&q, "a@x", t0 + Duration::from_secs(60))
            .unwrap();
    }

    #[test]
    fn rejected_sends_do_not_consume_quota() {
        let q = quota(100, 1000);
        let mut tracker = QuotaTracker::default();
        let t0 = Instant::now();
        tracker.try_spend(&q, "a@x", t0).unwrap();
        for i in 1..10 {
            assert!(
                tracker
                    .try_spend(&q, "a@x", t0 + Duration::from_secs(i))
                    .is_err()
            );
        }
        tracker
            .try_spend(&q, "a@x", t0 + Duration::from_secs(60))
            .unwrap();
    }

    #[test]
    fn daily_limit_counts_sends() {
        let q = quota(u32::MAX, 2);
        let mut tracker = QuotaTracker::default();
        let t0 = Instant::now();
        tracker.try_spend(&q, "a@x", t0).unwrap();
        tracker
            .try_spend(&q, "a@x", t0 + Duration::from_secs(3600))
            .unwrap();
        let err = tracker
            .try_spend(&q, "a@x", t0 + Duration::from_secs(7200))
            .unwrap_err();
        assert_eq!(err.limit, Limit::UserPerDay);
        assert_eq!(err.retry_after, DAY - Duration::from_secs(7200));
    }

    #[test]
    fn project_limit_spans_users() {
        let q = Quota {
            units_per_project_per_minute: Some(200),
            ..quota(u32::MAX, u32::MAX)
        };
        let mut tracker = QuotaTracker::default();
        let t0 = Instant::now();
        tracker.try_spend(&q, "a@x", t0).unwrap();
        tracker.try_spend(&q, "b@x", t0).unwrap();
        let err = tracker.try_spend(&q, "c@x", t0).unwrap_err();
        assert_eq!(err.limit, Limit::ProjectPerMinute);
    }

    #[test]
    fn unlimited_never_refuses() {
        let q = Quota::unlimited();
        let mut tracker = QuotaTracker::default();
        let t0 = Instant::now();
        for _ in 0..1000 {
            tracker.try_spend(&q, "a@x", t0).unwrap();
        }
    }
}
