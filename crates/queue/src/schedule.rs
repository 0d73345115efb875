//! The fetcher's timetable: when it next promotes due jobs and looks for expired leases, and how
//! long its blocking read may wait. Times are milliseconds since the epoch, the clock of the
//! scores in `{NAME}:scheduled`; every decision takes `now` from its caller, so the tests pass
//! their own.

/// When the next promotion and the next reclaim are due (ms since the epoch).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Schedule {
    next_promote: i64,
    next_reclaim: i64,
}

impl Schedule {
    /// Whether due jobs are to be promoted at `now` (at once for a new fetcher).
    pub(crate) fn promote_due(&self, now: i64) -> bool {
        now >= self.next_promote
    }

    /// Records a promotion at `now` that moved `moved` jobs of at most `batch`, leaving the
    /// earliest scheduled job due at `next_due`: a full batch means more are due, so the next
    /// round promotes again; otherwise the next promotion is when that job is due, but no later
    /// than `tick` ms from now (jobs scheduled meanwhile by others).
    pub(crate) fn promoted(
        &mut self,
        now: i64,
        moved: usize,
        batch: usize,
        next_due: Option<i64>,
        tick: i64,
    ) {
        self.next_promote = if moved >= batch {
            now
        } else {
            next_due.unwrap_or(i64::MAX).min(now + tick)
        };
    }

    /// Whether expired leases are to be looked for at `now` (at once for a new fetcher).
    pub(crate) fn reclaim_due(&self, now: i64) -> bool {
        now >= self.next_reclaim
    }

    /// Records a look for expired leases at `now`; the next is `every` ms later.
    pub(crate) fn reclaimed(&mut self, now: i64, every: i64) {
        self.next_reclaim = now + every;
    }

    /// How long a read at `now` may block: until the next promotion, at most `block` ms.
    pub(crate) fn read_wait(&self, now: i64, block: i64) -> i64 {
        (self.next_promote - now).clamp(0, block)
    }
}

#[cfg(test)]
mod tests {
    use super::Schedule;

    const NOW: i64 = 1_700_000_000_000;

    #[test]
    fn a_new_fetcher_promotes_and_reclaims_at_once() {
        let s = Schedule::default();
        assert!(s.promote_due(NOW) && s.reclaim_due(NOW));
        assert_eq!(s.read_wait(NOW, 1000), 0);
    }

    #[test]
    fn a_full_batch_promotes_again_in_the_next_round() {
        let mut s = Schedule::default();
        s.promoted(NOW, 1000, 1000, Some(NOW - 5), 100);
        assert!(s.promote_due(NOW));
        assert_eq!(s.read_wait(NOW, 1000), 0, "no blocking while jobs are due");
    }

    #[test]
    fn the_next_promotion_is_at_the_next_due_job_or_the_tick() {
        let mut s = Schedule::default();
        s.promoted(NOW, 3, 1000, Some(NOW + 40), 100);
        assert!(!s.promote_due(NOW + 39));
        assert!(s.promote_due(NOW + 40));
        assert_eq!(
            s.read_wait(NOW, 1000),
            40,
            "the read ends when the job is due"
        );

        s.promoted(NOW, 3, 1000, Some(NOW + 60_000), 100);
        assert!(!s.promote_due(NOW + 99));
        assert!(s.promote_due(NOW + 100), "no later than the tick");

        s.promoted(NOW, 0, 1000, None, 100);
        assert!(s.promote_due(NOW + 100));
        assert_eq!(s.read_wait(NOW + 30, 1000), 70);
    }

    #[test]
    fn a_read_waits_at_most_block_and_never_less_than_nothing() {
        let mut s = Schedule::default();
        s.promoted(NOW, 0, 1000, None, 30_000);
        assert_eq!(s.read_wait(NOW, 1000), 1000);
        assert_eq!(s.read_wait(NOW + 40_000, 1000), 0);
    }

    #[test]
    fn leases_are_looked_at_every_period() {
        let mut s = Schedule::default();
        s.reclaimed(NOW, 500);
        assert!(!s.reclaim_due(NOW + 499));
        assert!(s.reclaim_due(NOW + 500));
    }
}
