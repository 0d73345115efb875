//! Sender pools: what Redis knows about each member of a pool (one visible From address over
//! several mailboxes), read in one round trip so the worker can pick the member with the most
//! quota left across replicas. Reads the keys [`crate::senders`] documents and writes none.

use crate::queue::now_ms;
use crate::senders::normalize_sender;
use crate::windows::sender_windows;
use crate::{Queue, QueueError, SenderKeys, SenderLimits};

/// One pool member as Redis knows it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    /// The member's address, normalised.
    pub sender: String,
    /// Sends left in its sliding minute (reserved slots counted as `admit.lua` counts them).
    pub minute_left: i64,
    /// Sends left in its sliding day.
    pub day_left: i64,
    /// Until when Gmail asked it to pause (ms since the epoch), when that is in the future.
    pub paused_until_ms: Option<i64>,
    /// Why it is quarantined, if it is.
    pub quarantined: Option<String>,
    /// When one more send fits both its windows (ms since the epoch): now when it has room.
    pub next_slot_ms: i64,
    /// When the oldest send in its minute window leaves it (ms since the epoch), or a minute
    /// from now when the window is empty: when room comes back after it fills up.
    pub minute_frees_ms: i64,
}

impl Queue {
    /// The keys of pool member `member`'s gate: its own quota logs and state, and slots
    /// reserved for a job under `quota:resv:<member>:<job id>`, so that a job which waited
    /// for one member and is then sent by another finds no slot reserved for it there.
    #[must_use]
    pub fn pool_member_keys(&self, member: &str) -> SenderKeys {
        let mut keys = self.sender_keys(member);
        keys.set_reservation_prefix(self.key(&format!("quota:resv:{}:", normalize_sender(member))));
        keys
    }

    /// Each of `members` (in their order) as Redis knows it now, under `limits`, in one
    /// round trip.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn pool_view(
        &self,
        members: &[String],
        limits: &SenderLimits,
    ) -> Result<Vec<MemberView>, QueueError> {
        if members.is_empty() {
            return Ok(Vec::new());
        }
        let now = now_ms();
        let mut pipe = redis::pipe();
        for member in members {
            let s = normalize_sender(member);
            pipe.cmd("HMGET")
                .arg(self.key(&format!("sender:{s}")))
                .arg("quarantined")
                .arg("paused_until");
            self.read_sender_windows(&mut pipe, &s);
        }
        // Read flat and taken three by three: redis-rs would take a reply whose every item
        // has three elements as rows of its own.
        let flat: Vec<redis::Value> = pipe.query_async(&mut self.conn()).await?;
        if flat.len() != members.len() * 3 {
            return Err(QueueError::Protocol("short answer to a pool read".into()));
        }
        let mut rows = Vec::with_capacity(members.len());
        for row in flat.chunks_exact(3) {
            let state: (Option<String>, Option<i64>) =
                redis::from_redis_value_ref(&row[0]).map_err(bad)?;
            rows.push((state, sender_windows(now, &row[1..])?));
        }
        Ok(members
            .iter()
            .zip(rows)
            .map(|(member, ((quarantined, paused_until), (minute, day)))| {
                let (per_minute, per_day) =
                    (i64::from(limits.per_minute), i64::from(limits.per_day));
                MemberView {
                    sender: normalize_sender(member),
                    minute_left: per_minute - minute.total(),
                    day_left: per_day - day.total(),
                    paused_until_ms: paused_until.filter(|&p| p > now),
                    quarantined,
                    next_slot_ms: minute.next_slot(per_minute).max(day.next_slot(per_day)),
                    minute_frees_ms: minute.frees_at(),
                }
            })
            .collect())
    }
}

fn bad(e: impl std::fmt::Display) -> QueueError {
    QueueError::Protocol(format!("bad answer to a pool read: {e}"))
}
