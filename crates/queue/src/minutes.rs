//! Sent, retried and dead jobs per minute, for the console's chart: one hash per Unix minute,
//! `{NAME}:minute:<unix_minute>` with the fields `sent`, `retried` and `dead`, kept two hours.
//! Workers add what they finished ([`Queue::count_minute`]); anyone reads the last hour
//! ([`Queue::minutes`]).

use std::time::{SystemTime, UNIX_EPOCH};

use crate::{Queue, QueueError};

/// How long a minute's hash lives after its last increment, in seconds.
const KEEP_SECS: i64 = 2 * 60 * 60;

/// Jobs finished in one minute, by outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct MinuteCounts {
    /// The minute, as whole minutes since the Unix epoch.
    pub minute: i64,
    /// Jobs the transport accepted.
    pub sent: u64,
    /// Failed attempts and rate limits scheduled again.
    pub retried: u64,
    /// Jobs dead-lettered.
    pub dead: u64,
}

impl MinuteCounts {
    /// Whether nothing was counted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.sent == 0 && self.retried == 0 && self.dead == 0
    }
}

/// The current Unix minute.
#[must_use]
pub fn unix_minute() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(secs / 60).unwrap_or(i64::MAX)
}

impl Queue {
    fn minute_key(&self, minute: i64) -> String {
        self.key(&format!("minute:{minute}"))
    }

    /// Adds `counts` to the hash of `counts.minute` and renews its two-hour expiry, in one
    /// pipelined round trip; nothing is written when `counts` is empty.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn count_minute(&self, counts: MinuteCounts) -> Result<(), QueueError> {
        if counts.is_empty() {
            return Ok(());
        }
        let key = self.minute_key(counts.minute);
        let mut pipe = redis::pipe();
        for (field, n) in [
            ("sent", counts.sent),
            ("retried", counts.retried),
            ("dead", counts.dead),
        ] {
            if n > 0 {
                pipe.cmd("HINCRBY").arg(&key).arg(field).arg(n).ignore();
            }
        }
        pipe.cmd("EXPIRE").arg(&key).arg(KEEP_SECS).ignore();
        let () = pipe.query_async(&mut self.conn()).await?;
        Ok(())
    }

    /// The counts of the `last_n` minutes up to and including the current one, oldest first;
    /// a minute nobody counted in reads as zeros. One pipelined round trip.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn minutes(&self, last_n: usize) -> Result<Vec<MinuteCounts>, QueueError> {
        let now = unix_minute();
        let n = i64::try_from(last_n).unwrap_or(i64::MAX);
        let first = now - n + 1;
        let mut pipe = redis::pipe();
        for minute in first..=now {
            pipe.cmd("HMGET")
                .arg(self.minute_key(minute))
                .arg("sent")
                .arg("retried")
                .arg("dead");
        }
        let rows: Vec<(Option<u64>, Option<u64>, Option<u64>)> =
            pipe.query_async(&mut self.conn()).await?;
        Ok((first..=now)
            .zip(rows)
            .map(|(minute, (sent, retried, dead))| MinuteCounts {
                minute,
                sent: sent.unwrap_or(0),
                retried: retried.unwrap_or(0),
                dead: dead.unwrap_or(0),
            })
            .collect())
    }
}
