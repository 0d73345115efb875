//! Sender pools: what Redis knows about each member of a pool (one visible From address over
//! several mailboxes), read in one round trip so the worker can pick the member with the most
//! quota left across replicas. Reads the keys [`crate::senders`] documents and writes none.

use crate::queue::now_ms;
use crate::senders::normalize_sender;
use crate::{Queue, QueueError, SenderKeys, SenderLimits};

const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

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
        let windows = [
            ("minute", MINUTE_MS, limits.per_minute),
            ("day", DAY_MS, limits.per_day),
        ];
        for member in members {
            let s = normalize_sender(member);
            pipe.cmd("HMGET")
                .arg(self.key(&format!("sender:{s}")))
                .arg("quarantined")
                .arg("paused_until");
            for (window, period, limit) in windows {
                let key = self.key(&format!("quota:{s}:{window}"));
                let kth = i64::from(limit.max(1)) - 1;
                pipe.cmd("ZCOUNT")
                    .arg(&key)
                    .arg(format!("({}", now - period))
                    .arg("+inf");
                pipe.cmd("ZREVRANGE")
                    .arg(&key)
                    .arg(kth)
                    .arg(kth)
                    .arg("WITHSCORES");
                pipe.cmd("ZRANGEBYSCORE")
                    .arg(&key)
                    .arg(format!("({}", now - period))
                    .arg("+inf")
                    .arg("WITHSCORES")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(1);
            }
        }
        type Window = (i64, Vec<(String, f64)>, Vec<(String, f64)>);
        type Row = ((Option<String>, Option<i64>), Window, Window);
        let rows: Vec<Row> = {
            let flat: Vec<redis::Value> = pipe.query_async(&mut self.conn()).await?;
            let mut rows = Vec::with_capacity(members.len());
            let mut it = flat.into_iter();
            for _ in members {
                let mut next = || {
                    it.next()
                        .ok_or_else(|| QueueError::Protocol("short answer to a pool read".into()))
                };
                let state = redis::from_redis_value(next()?).map_err(bad)?;
                let mut window = || -> Result<Window, QueueError> {
                    Ok((
                        redis::from_redis_value(next()?).map_err(bad)?,
                        redis::from_redis_value(next()?).map_err(bad)?,
                        redis::from_redis_value(next()?).map_err(bad)?,
                    ))
                };
                let minute = window()?;
                let day = window()?;
                rows.push((state, minute, day));
            }
            rows
        };
        Ok(members
            .iter()
            .zip(rows)
            .map(|(member, ((quarantined, paused_until), minute, day))| {
                let score = |v: &[(String, f64)]| v.first().map(|(_, s)| *s as i64);
                let mut next_slot = now;
                for ((count, kth, _), (_, period, limit)) in
                    [(&minute, windows[0]), (&day, windows[1])]
                {
                    if *count >= i64::from(limit)
                        && let Some(kth) = score(kth)
                    {
                        next_slot = next_slot.max(kth + period);
                    }
                }
                MemberView {
                    sender: normalize_sender(member),
                    minute_left: i64::from(limits.per_minute) - minute.0,
                    day_left: i64::from(limits.per_day) - day.0,
                    paused_until_ms: paused_until.filter(|&p| p > now),
                    quarantined,
                    next_slot_ms: next_slot,
                    minute_frees_ms: score(&minute.2)
                        .map_or(now, |oldest| oldest.max(now - MINUTE_MS))
                        + MINUTE_MS,
                }
            })
            .collect())
    }
}

fn bad(e: impl std::fmt::Display) -> QueueError {
    QueueError::Protocol(format!("bad answer to a pool read: {e}"))
}
