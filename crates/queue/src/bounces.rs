//! Bounces read back from the senders' mailboxes: where the bounce reader stands in each
//! mailbox (`{name}:bounces:history`, sender to Gmail history id), the lock that lets one
//! reader run at a time across workers (`{name}:bounces:reader`), and the recording of one
//! bounce message, once (`bounce.lua`: a marker `{name}:bounce:GMAIL_ID`, the job record's
//! `bounced`, and a global `hard_bounce` suppression for each permanent failure).

use std::time::Duration;

use chrono::{DateTime, Utc};
use mailroom_jobs::JobId;
use serde::{Deserialize, Serialize};

use crate::queue::now_ms;
use crate::suppression::normalize_address;
use crate::{Queue, QueueError};

/// How long the marker that a bounce message was processed lives: Gmail keeps about a week
/// of mailbox history, so a history id older than that cannot list the message again.
pub const BOUNCE_SEEN_TTL: Duration = Duration::from_secs(8 * 24 * 3600);

/// One failed recipient of a sent job, as the bounce reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bounce {
    /// The address that failed, lower case.
    pub recipient: String,
    /// The enhanced status code (RFC 3463), e.g. `5.1.1`; `5.x.x` is permanent (a hard
    /// bounce), `4.x.x` temporary (a soft bounce).
    pub status: String,
    /// The remote server's answer (`Diagnostic-Code`), unfolded, e.g. `smtp; 550-5.1.1 …`.
    pub diagnostic: String,
    /// When the bounce was recorded.
    pub at: DateTime<Utc>,
}

impl Bounce {
    /// A permanent failure (status `5.x.x`).
    #[must_use]
    pub fn is_hard(&self) -> bool {
        self.status.starts_with('5')
    }
}

/// What recording a bounce message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BounceRecorded {
    /// Added to the job's status (`bounced`); hard bounces suppressed.
    Linked,
    /// The job's record has expired: nothing to add it to; hard bounces suppressed all the
    /// same.
    RecordGone,
    /// This bounce message was processed before: nothing changed.
    AlreadySeen,
}

impl Queue {
    fn bounce_lock_key(&self) -> String {
        self.key("bounces:reader")
    }

    /// Takes the bounce reader's lock for `owner` for `lease`, or renews it when `owner`
    /// holds it; true while `owner` holds it. One reader runs at a time across workers; a
    /// reader that dies lets the lock lapse after `lease`.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn claim_bounce_reader(
        &self,
        owner: &str,
        lease: Duration,
    ) -> Result<bool, QueueError> {
        let ms = u64::try_from(lease.as_millis()).unwrap_or(u64::MAX).max(1);
        let held: i64 = self
            .inner
            .scripts
            .bounce_reader
            .key(self.bounce_lock_key())
            .arg("claim")
            .arg(owner)
            .arg(ms)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(held == 1)
    }

    /// Gives the bounce reader's lock up when `owner` holds it.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn release_bounce_reader(&self, owner: &str) -> Result<(), QueueError> {
        let _: i64 = self
            .inner
            .scripts
            .bounce_reader
            .key(self.bounce_lock_key())
            .arg("release")
            .arg(owner)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(())
    }

    /// The Gmail history id the bounce reader reached in `sender`'s mailbox, if it has one.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn bounce_cursor(&self, sender: &str) -> Result<Option<u64>, QueueError> {
        let at: Option<u64> = redis::cmd("HGET")
            .arg(self.key("bounces:history"))
            .arg(crate::normalize_sender(sender))
            .query_async(&mut self.conn())
            .await?;
        Ok(at)
    }

    /// Stores where the bounce reader stands in `sender`'s mailbox (after processing what
    /// came before it).
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn set_bounce_cursor(&self, sender: &str, history_id: u64) -> Result<(), QueueError> {
        let _: i64 = redis::cmd("HSET")
            .arg(self.key("bounces:history"))
            .arg(crate::normalize_sender(sender))
            .arg(history_id)
            .query_async(&mut self.conn())
            .await?;
        Ok(())
    }

    /// Records the bounce message `message` (Gmail's id of it) for `job`, once: its bounces
    /// join the job's status (`bounced`) while the record lasts, and each hard-bounced
    /// recipient goes on the global suppression list (`hard_bounce`), record or not. A second
    /// call for the same message changes nothing (for [`BOUNCE_SEEN_TTL`]).
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn record_bounces(
        &self,
        message: &str,
        job: JobId,
        bounces: &[Bounce],
    ) -> Result<BounceRecorded, QueueError> {
        let json = serde_json::to_string(bounces)
            .map_err(|e| QueueError::Protocol(format!("cannot encode bounces: {e}")))?;
        let mut script = self.inner.scripts.bounce.prepare_invoke();
        script
            .key(self.key(&format!("bounce:{message}")))
            .key(self.key(&format!("job:{job}")))
            .key(self.key("suppress:global"))
            .key(crate::done::bucket(self.keys(), &job.to_string()))
            .arg(u64::try_from(BOUNCE_SEEN_TTL.as_millis()).unwrap_or(u64::MAX))
            .arg(now_ms())
            .arg(json)
            .arg(job.to_string());
        for bounce in bounces.iter().filter(|b| b.is_hard()) {
            script.arg(normalize_address(&bounce.recipient));
        }
        let answer: i64 = script.invoke_async(&mut self.conn()).await?;
        Ok(match answer {
            0 => BounceRecorded::AlreadySeen,
            1 => BounceRecorded::RecordGone,
            _ => BounceRecorded::Linked,
        })
    }
}
