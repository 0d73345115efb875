//! Queue counts: ready, scheduled, in flight, dead, the oldest ready job's age, workers and
//! jobs ever enqueued, read with one script call (`stats.lua`).

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::QueueError;
use crate::keys::GROUP;
use crate::queue::{Queue, now_ms};
use crate::scripts::{call, run};

/// Counts of a queue, read in one round trip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct QueueStats {
    /// Jobs waiting in the ready stream.
    pub ready: u64,
    /// Jobs waiting for their send time or their next attempt.
    pub scheduled: u64,
    /// Jobs delivered to a worker and not finished.
    pub in_flight: u64,
    /// Dead-lettered jobs.
    pub dead: u64,
    /// Age of the oldest ready job, if any is waiting.
    #[serde(with = "opt_secs")]
    pub oldest_ready_age: Option<Duration>,
    /// When the oldest ready (not yet delivered) stream entry was added, if any is waiting.
    pub oldest_ready_at: Option<DateTime<Utc>>,
    /// Registered workers (including ones that died within the last few leases).
    pub workers: u64,
    /// Jobs ever enqueued into this queue (duplicates not counted), from the queue-wide
    /// counter `{NAME}:counters`.
    pub enqueued: u64,
}

mod opt_secs {
    pub fn serialize<S: serde::Serializer>(
        d: &Option<std::time::Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }
}

impl Queue {
    /// Queue counts, read with one script call.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn stats(&self) -> Result<QueueStats, QueueError> {
        let i = &self.inner;
        let mut inv = call(&i.scripts.stats, &i.keys);
        inv.arg(GROUP).arg(&i.keys.counters);
        let (len, pending, scheduled, dead, oldest, workers, enqueued): (
            u64,
            u64,
            u64,
            u64,
            i64,
            u64,
            u64,
        ) = run(&inv, &mut self.conn()).await?;
        let oldest_ready_age = (oldest >= 0)
            .then(|| Duration::from_millis(u64::try_from(now_ms() - oldest).unwrap_or(0)));
        Ok(QueueStats {
            ready: len.saturating_sub(pending),
            scheduled,
            in_flight: pending,
            dead,
            oldest_ready_age,
            oldest_ready_at: (oldest >= 0).then(|| crate::status::ms_to_time(oldest)),
            workers,
            enqueued,
        })
    }
}
