//! The quota windows `admit.lua` keeps, as Rust reads them (`pool_view`, `usage`).
//!
//! A window is a hash of counters: field `b` (a bucket number) holds the sends whose slot
//! (ms since the epoch) lies in `[b * size, (b + 1) * size)`. A bucket counts until `span`
//! whole buckets have passed after it, so a send counts for at least its window and at most
//! one bucket longer: the limits hold for every sliding window, to within a bucket (1 s for
//! the minute windows, 15 minutes for the day). Counters take a constant few bytes per
//! bucket and one `HINCRBY` per bucket per call, where a log of every send grew with the
//! traffic. The arithmetic is `admit.lua`'s, the one place that writes these keys; the
//! shapes below are passed to it with each call, so both read the same windows.

use crate::{Queue, QueueError};

/// The shape of a window: bucket size and how many whole buckets it spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    size_ms: i64,
    span: i64,
}

/// A sender's minute, and the project's: 1 s buckets.
pub(crate) const MINUTE: Window = Window {
    size_ms: 1000,
    span: 60,
};

/// A sender's day: 15-minute buckets.
pub(crate) const DAY: Window = Window {
    size_ms: 900_000,
    span: 96,
};

impl Window {
    /// The bucket size (ms) and span (buckets), as `admit.lua` takes them.
    pub(crate) fn shape(self) -> (i64, i64) {
        (self.size_ms, self.span)
    }

    fn bucket(self, ms: i64) -> i64 {
        ms.div_euclid(self.size_ms)
    }

    /// When the sends counted in bucket `b` stop counting (ms since the epoch).
    fn ends(self, b: i64) -> i64 {
        (b + self.span + 1) * self.size_ms
    }

    /// The window's buckets that count at `now` (future slots reserved for waiting jobs
    /// included), oldest first, from the hash's fields.
    pub(crate) fn counted(self, now: i64, fields: Vec<(String, String)>) -> Counted {
        let from = self.bucket(now) - self.span;
        let mut buckets: Vec<(i64, i64)> = fields
            .into_iter()
            .filter_map(|(b, c)| Some((b.parse().ok()?, c.parse().ok()?)))
            .filter(|&(b, _)| b >= from)
            .collect();
        buckets.sort_unstable();
        Counted {
            window: self,
            now,
            buckets,
        }
    }
}

impl Queue {
    /// The counters of a normalised sender's quota window (`minute` or `day`).
    pub(crate) fn quota_key(&self, sender: &str, window: &str) -> String {
        self.key(&format!("v2:quota:{sender}:{window}"))
    }

    /// Adds the reads of a normalised sender's minute and day windows to `pipe`: two
    /// replies, which [`sender_windows`] reads.
    pub(crate) fn read_sender_windows(&self, pipe: &mut redis::Pipeline, sender: &str) {
        pipe.cmd("HGETALL").arg(self.quota_key(sender, "minute"));
        pipe.cmd("HGETALL").arg(self.quota_key(sender, "day"));
    }
}

/// A sender's minute and day windows at `now`, from the two replies
/// [`Queue::read_sender_windows`] added to a pipeline.
///
/// # Errors
/// A reply that is not a hash.
pub(crate) fn sender_windows(
    now: i64,
    replies: &[redis::Value],
) -> Result<(Counted, Counted), QueueError> {
    let [minute, day] = replies else {
        return Err(QueueError::Protocol(
            "short answer to a quota window read".into(),
        ));
    };
    let fields = |v| {
        redis::from_redis_value_ref(v)
            .map_err(|e| QueueError::Protocol(format!("bad answer to a quota window read: {e}")))
    };
    Ok((
        MINUTE.counted(now, fields(minute)?),
        DAY.counted(now, fields(day)?),
    ))
}

/// A window's counts at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Counted {
    window: Window,
    now: i64,
    buckets: Vec<(i64, i64)>,
}

impl Counted {
    /// Every send counted, future slots included: what the next send is judged against.
    pub(crate) fn total(&self) -> i64 {
        self.buckets.iter().map(|&(_, c)| c).sum()
    }

    /// The sends counted up to now, future slots apart.
    pub(crate) fn until_now(&self) -> i64 {
        let upto = self.window.bucket(self.now);
        self.buckets
            .iter()
            .filter(|&&(b, _)| b <= upto)
            .map(|&(_, c)| c)
            .sum()
    }

    /// The first time one more send fits under `limit`: now when there is room, else when
    /// enough of the oldest buckets have stopped counting (as `admit.lua`'s `slot_for`).
    pub(crate) fn next_slot(&self, limit: i64) -> i64 {
        let total = self.total();
        if total < limit {
            return self.now;
        }
        let need = total - limit + 1;
        let mut dropped = 0;
        for &(b, c) in &self.buckets {
            dropped += c;
            if dropped >= need {
                return self.window.ends(b).max(self.now);
            }
        }
        self.now + (self.window.span + 1) * self.window.size_ms
    }

    /// When the oldest counted send stops counting, or a whole window from now when none
    /// counts: when room comes back after the window fills up.
    pub(crate) fn frees_at(&self) -> i64 {
        self.buckets.first().map_or(
            self.now + self.window.span * self.window.size_ms,
            |&(b, _)| self.window.ends(b),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(i64, i64)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(b, c)| (b.to_string(), c.to_string()))
            .collect()
    }

    #[test]
    fn a_send_counts_for_its_whole_window_and_at_most_a_bucket_more() {
        // A send at 10.999 s is in bucket 10: it still counts at 70.999 s, not at 71 s.
        let sent_at = 10_999;
        let b = MINUTE.bucket(sent_at);
        assert_eq!(MINUTE.ends(b), 71_000);
        assert!(MINUTE.ends(b) >= sent_at + 60_000);
        assert!(MINUTE.ends(b) <= sent_at + 61_000);
        let at = |now| MINUTE.counted(now, fields(&[(b, 1)])).total();
        assert_eq!(at(70_999), 1);
        assert_eq!(at(71_000), 0);
        // The day: 15-minute buckets.
        let b = DAY.bucket(sent_at);
        assert!((sent_at + 86_400_000..=sent_at + 87_300_000).contains(&DAY.ends(b)));
    }

    #[test]
    fn the_next_slot_waits_for_enough_old_buckets_to_stop_counting() {
        let now = 100_500;
        // 3 sends at 50 s, 2 at 80 s, 1 reserved at 130 s; limit 5: full.
        let c = MINUTE.counted(now, fields(&[(50, 3), (80, 2), (130, 1), (30, 9)]));
        assert_eq!(c.total(), 6, "bucket 30 stopped counting at 91 s");
        assert_eq!(c.until_now(), 5);
        // Room for one more once 2 sends have gone: bucket 50 ends at 111 s.
        assert_eq!(c.next_slot(5), 111_000);
        // Limit 3: 4 must go, so bucket 80 too (ends at 141 s).
        assert_eq!(c.next_slot(3), 141_000);
        assert_eq!(c.next_slot(10), now);
        assert_eq!(c.frees_at(), 111_000);
        let empty = MINUTE.counted(now, Vec::new());
        assert_eq!(empty.frees_at(), now + 60_000);
        assert_eq!(empty.next_slot(1), now);
    }
}
