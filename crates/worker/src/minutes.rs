//! Feeds the console's per-minute chart: every few seconds, what this worker finished since
//! the last flush (read from its `mailroom_jobs_completed_total` counters, so the hot path
//! pays nothing) is added to the current minute's hash in Redis in one pipelined write
//! ([`Queue::count_minute`]). A failed write keeps its counts for the next flush.

use std::time::Duration;

use mailroom_queue::{MinuteCounts, Queue, unix_minute};
use tokio_util::sync::CancellationToken;

use crate::metrics::{Metrics, Outcome};

/// How often the counts are flushed.
pub const FLUSH_EVERY: Duration = Duration::from_secs(5);

/// How long one flush may take; a Redis that does not answer by then (it is down, say, while
/// the worker stops) costs the chart a few counts, never the worker its shutdown.
pub const FLUSH_WITHIN: Duration = Duration::from_secs(2);

/// Totals already written to Redis.
#[derive(Debug, Default, Clone, Copy)]
struct Flushed {
    sent: u64,
    retried: u64,
    dead: u64,
}

impl Flushed {
    fn now(metrics: &Metrics) -> Self {
        Self {
            sent: metrics.completed_total(Outcome::Sent),
            retried: metrics.completed_total(Outcome::Retried),
            dead: metrics.completed_total(Outcome::Dead),
        }
    }

    fn since(self, before: Self, minute: i64) -> MinuteCounts {
        MinuteCounts {
            minute,
            sent: self.sent.saturating_sub(before.sent),
            retried: self.retried.saturating_sub(before.retried),
            dead: self.dead.saturating_sub(before.dead),
        }
    }
}

/// Flushes every [`FLUSH_EVERY`] until `stop` is cancelled, then once more.
pub async fn run(queue: Queue, metrics: Metrics, stop: CancellationToken) {
    let mut written = Flushed::now(&metrics);
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopping = tokio::select! {
            _ = tick.tick() => false,
            () = stop.cancelled() => true,
        };
        let now = Flushed::now(&metrics);
        match queue.count_minute(now.since(written, unix_minute())).await {
            Ok(()) => written = now,
            Err(e) => {
                tracing::debug!(error = %e, "per-minute counts not written; kept for the next flush")
            }
        }
        if stopping {
            return;
        }
    }
}
