//! Senders: Gmail's sending limits, enforced in Redis for every worker at once, and the state
//! of senders that must wait (paused by a Gmail limit, quarantined by a credential problem).
//!
//! Keys, all under the queue's hash tag:
//! - `{name}:sender:<address>` hash: `quarantined` (reason), `quarantined_at`,
//!   `paused_until` (ms), `pause_reason`;
//! - `{name}:senders` set: every sender seen in about the last day (housekeeping drops a
//!   sender once none of its keys is left; `{name}:senders:cursor` is where its scan stands);
//! - `{name}:v2:quota:<address>:minute`, `{name}:v2:quota:<address>:day`,
//!   `{name}:v2:quota:project` hashes: counters of admitted sends by time bucket
//!   ([`crate::windows`]);
//! - `{name}:quota:resv:<job id>`: a slot granted to a job that had to wait;
//! - `{name}:sender:<address>:probe`: held while one worker looks at a quarantined sender's
//!   credentials again.
//!
//! Every one of them expires once its sender is idle: the quota windows a window after
//! their last slot, a reservation a day after its slot, the state hash [`STATE_KEEP`] after its
//! last use or its pause's end, whichever is later. So Redis holds state only for the
//! senders of about the last day, whatever senders jobs name.

use std::time::Duration;

use redis::AsyncCommands as _;

use crate::queue::{ms, now_ms};
use crate::{Queue, QueueError};

/// How long a sender's state hash outlives its last use (or its pause's end): the longest
/// window, a day, plus an hour. `admit.lua` uses the same figure.
pub const STATE_KEEP: Duration = Duration::from_secs(25 * 3600);

/// The limits every sender and the whole project stay under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderLimits {
    /// Sends per sliding minute per sender.
    pub per_minute: u32,
    /// Sends per sliding day per sender.
    pub per_day: u32,
    /// Sends per sliding minute for all senders together.
    pub project_per_minute: u32,
    /// How long the jobs of a quarantined sender wait before they look again.
    pub quarantine_recheck: Duration,
}

impl SenderLimits {
    /// Gmail's limits, the one place they are written down: 150 sends a minute (15,000 quota
    /// units at 100 per send) and 2,000 a day per user; 12,000 sends a minute per project;
    /// quarantined senders are looked at every 5 minutes.
    pub const GMAIL: Self = Self {
        per_minute: 150,
        per_day: 2000,
        project_per_minute: 12_000,
        quarantine_recheck: Duration::from_secs(300),
    };
}

impl Default for SenderLimits {
    /// [`SenderLimits::GMAIL`].
    fn default() -> Self {
        Self::GMAIL
    }
}

/// Why a job may not be sent yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hold {
    /// A limit is reached; the job holds a reserved slot at the given time.
    Quota,
    /// Gmail asked this sender to wait (a rate or daily limit); the reason it gave.
    Paused(String),
    /// The sender's credentials need an operator; the reason.
    Quarantined(String),
}

/// The answer of [`Queue::admit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Send now; the send is counted against every limit.
    Go {
        /// Sends left for this sender in the current minute window.
        minute_left: i64,
        /// Sends left for this sender in the current day window.
        day_left: i64,
    },
    /// Not now: schedule the job again at `until` (ms since the epoch).
    Wait {
        /// When to look again.
        until_ms: i64,
        /// Why.
        hold: Hold,
        /// Sends left for this sender in the current minute window.
        minute_left: i64,
        /// Sends left for this sender in the current day window.
        day_left: i64,
    },
}

/// What Redis knows about a sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderState {
    /// The address.
    pub sender: String,
    /// Why it is quarantined, if it is.
    pub quarantined: Option<String>,
    /// Until when Gmail asked it to pause (ms since the epoch), if that is in the future.
    pub paused_until_ms: Option<i64>,
    /// Why it is paused.
    pub pause_reason: Option<String>,
}

/// A sender address as mailroom keys it (sender state, quotas, stored tokens, metrics):
/// trimmed, ASCII letters in lower case.
#[must_use]
pub fn normalize_sender(sender: &str) -> String {
    sender.trim().to_ascii_lowercase()
}

/// The keys [`Queue::admit_with`] reads and writes for one sender, built once by
/// [`Queue::sender_keys`] so that a caller admitting many jobs of a sender (the worker's gate
/// keeps them per sender) formats no key per job but the job's reservation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SenderKeys {
    /// The sender, normalised.
    pub(crate) sender: String,
    pub(crate) state: String,
    pub(crate) minute: String,
    pub(crate) day: String,
    pub(crate) project: String,
    pub(crate) senders: String,
    /// The reservation key of a job is this followed by its id.
    pub(crate) reservation_prefix: String,
}

impl SenderKeys {
    /// Where the slots reserved for waiting jobs are kept (a job's id completes the key).
    pub(crate) fn set_reservation_prefix(&mut self, prefix: String) {
        self.reservation_prefix = prefix;
    }
}

impl Queue {
    fn sender_key(&self, sender: &str) -> String {
        self.key(&format!("sender:{}", normalize_sender(sender)))
    }

    /// The keys of `sender`'s gate, for [`Queue::admit_with`].
    #[must_use]
    pub fn sender_keys(&self, sender: &str) -> SenderKeys {
        let s = normalize_sender(sender);
        SenderKeys {
            state: self.sender_key(&s),
            minute: self.quota_key(&s, "minute"),
            day: self.quota_key(&s, "day"),
            project: self.key("v2:quota:project"),
            senders: self.key("senders"),
            reservation_prefix: self.key("quota:resv:"),
            sender: s,
        }
    }

    /// Pauses `sender` until `until_ms` (only ever extends a pause): Gmail said it is over a
    /// limit. Its jobs wait; other senders go on.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn pause_sender(
        &self,
        sender: &str,
        until_ms: i64,
        reason: &str,
    ) -> Result<(), QueueError> {
        let key = self.sender_key(sender);
        let mut conn = self.conn();
        let current: Option<i64> = conn.hget(&key, "paused_until").await?;
        if current.is_none_or(|c| c < until_ms) {
            let _: () = conn
                .hset_multiple(
                    &key,
                    &[
                        ("paused_until", until_ms.to_string()),
                        ("pause_reason", reason.to_owned()),
                    ],
                )
                .await?;
        }
        self.keep_state(&key, current.unwrap_or(until_ms).max(until_ms))
            .await?;
        let _: () = conn
            .sadd(self.key("senders"), normalize_sender(sender))
            .await?;
        Ok(())
    }

    /// Lets the sender state hash `key` live [`STATE_KEEP`] past now or `until_ms`, whichever
    /// is later.
    async fn keep_state(&self, key: &str, until_ms: i64) -> Result<(), QueueError> {
        let at = until_ms.max(now_ms()).saturating_add(ms(STATE_KEEP));
        let _: () = self.conn().pexpire_at(key, at).await?;
        Ok(())
    }

    /// Quarantines `sender`: its credentials need an operator. Returns true if it was not
    /// quarantined before.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn quarantine_sender(&self, sender: &str, reason: &str) -> Result<bool, QueueError> {
        let key = self.sender_key(sender);
        let mut conn = self.conn();
        let fresh: bool = conn.hset_nx(&key, "quarantined", reason).await?;
        let _: () = conn
            .hset_multiple(
                &key,
                &[
                    ("quarantined", reason.to_owned()),
                    ("quarantined_at", now_ms().to_string()),
                ],
            )
            .await?;
        self.keep_state(&key, now_ms()).await?;
        let _: () = conn
            .sadd(self.key("senders"), normalize_sender(sender))
            .await?;
        Ok(fresh)
    }

    /// Lifts the quarantine and any pause of `sender` (its credentials were fixed). Returns
    /// true if it was quarantined.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn release_sender(&self, sender: &str) -> Result<bool, QueueError> {
        let key = self.sender_key(sender);
        let mut conn = self.conn();
        let was: Option<String> = conn.hget(&key, "quarantined").await?;
        let _: () = conn.hdel(&key, &["quarantined", "quarantined_at"]).await?;
        Ok(was.is_some())
    }

    /// Claims the right to look at a quarantined sender's credentials again, at most once per
    /// `every` across all workers. Returns true for the one caller that got it.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn claim_probe(&self, sender: &str, every: Duration) -> Result<bool, QueueError> {
        let key = self.key(&format!("sender:{}:probe", normalize_sender(sender)));
        let claimed: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(now_ms())
            .arg("NX")
            .arg("PX")
            .arg(ms(every).max(1))
            .query_async(&mut self.conn())
            .await?;
        Ok(claimed.is_some())
    }

    /// Every sender seen, with its quarantine and pause.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn sender_states(&self) -> Result<Vec<SenderState>, QueueError> {
        let mut conn = self.conn();
        let mut senders: Vec<String> = conn.smembers(self.key("senders")).await?;
        senders.sort();
        // One round trip for all of them: the metrics read this every few seconds.
        let mut pipe = redis::pipe();
        for sender in &senders {
            pipe.cmd("HMGET")
                .arg(self.sender_key(sender))
                .arg("quarantined")
                .arg("paused_until")
                .arg("pause_reason");
        }
        let fields: Vec<(Option<String>, Option<i64>, Option<String>)> = if senders.is_empty() {
            Vec::new()
        } else {
            pipe.query_async(&mut conn).await?
        };
        let now = now_ms();
        let states = senders
            .into_iter()
            .zip(fields)
            .map(|(sender, (quarantined, paused_until, pause_reason))| {
                let paused_until_ms = paused_until.filter(|&p| p > now);
                SenderState {
                    sender,
                    quarantined,
                    pause_reason: paused_until_ms.and(pause_reason),
                    paused_until_ms,
                }
            })
            .collect();
        Ok(states)
    }
}
