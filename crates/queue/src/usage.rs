//! How much of their sending quota senders have used: the sends counted in each sender's
//! minute and day windows now, read from the logs `admit.lua` keeps (see [`crate::senders`]).

use crate::queue::now_ms;
use crate::senders::normalize_sender;
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

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

impl Queue {
    /// The usage of each of `senders`, in their order, read in one round trip; counted as
    /// `admit.lua` counts what is left: slots in `(now - window, now]`.
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
            for (window, period) in [("minute", MINUTE_MS), ("day", DAY_MS)] {
                pipe.cmd("ZCOUNT")
                    .arg(self.key(&format!("quota:{s}:{window}")))
                    .arg(format!("({}", now - period))
                    .arg(now);
            }
        }
        let counts: Vec<u64> = pipe.query_async(&mut self.conn()).await?;
        Ok(counts
            .chunks(2)
            .map(|c| SenderUsage {
                minute: c[0],
                day: c[1],
            })
            .collect())
    }
}
