//! How much of their sending quota senders have used: the sends counted in each sender's
//! minute and day windows now, read from the windows `admit.lua` keeps (see [`crate::senders`]).

use crate::queue::now_ms;
use crate::senders::normalize_sender;
use crate::windows::sender_windows;
use crate::{Queue, QueueError};

/// Sends counted against a sender's windows now (admitted sends, and slots reserved for jobs
/// that wait).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderUsage {
    /// In the sliding minute that ends now.
    pub minute: u64,
    /// In the sliding day that ends now.
    pub day: u64,
}

impl Queue {
    /// The usage of each of `senders`, in their order, read in one round trip; counted as
    /// `admit.lua` counts what is left: the window's sends up to now, future slots apart.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn sender_usage(&self, senders: &[String]) -> Result<Vec<SenderUsage>, QueueError> {
        if senders.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let mut pipe = redis::pipe();
        for sender in senders {
            let s = normalize_sender(sender);
            self.read_sender_windows(&mut pipe, &s);
        }
        // Read flat and taken two by two: redis-rs would take a reply whose every item has
        // two elements (a window of one bucket) as pairs of its own.
        let flat: Vec<redis::Value> = pipe.query_async(&mut self.conn()).await?;
        if flat.len() != senders.len() * 2 {
            return Err(QueueError::Protocol("short answer to a usage read".into()));
        }
        let mut usage = Vec::with_capacity(senders.len());
        for replies in flat.chunks_exact(2) {
            let (minute, day) = sender_windows(now, replies)?;
            usage.push(SenderUsage {
                minute: count(minute.until_now()),
                day: count(day.until_now()),
            });
        }
        Ok(usage)
    }
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}
