//! Send slots shared by every worker: at most a cap of one sender's sends in flight across
//! replicas (`quota.shared_sender_concurrency`). Each slot is a lease in
//! `{name}:inflight:<sender>` (a sorted set of tokens scored by when their lease ends), taken
//! by `send_slot.lua` and given back with `ZREM`; a worker that dies mid-send holds its slots
//! until their lease runs out, never longer. The set expires a lease after its last slot was
//! taken.

use std::time::Duration;

use redis::AsyncCommands as _;

use crate::queue::{ms, now_ms};
use crate::senders::normalize_sender;
use crate::{Queue, QueueError};

impl Queue {
    fn inflight_key(&self, sender: &str) -> String {
        self.key(&format!("inflight:{}", normalize_sender(sender)))
    }

    /// Takes one of `sender`'s send slots for `token` (unique per send) when fewer than `cap`
    /// are held across workers; the slot is released by [`Queue::give_back_send_slot`] or
    /// when `lease` runs out. Returns whether it was taken.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn take_send_slot(
        &self,
        sender: &str,
        token: &str,
        cap: u32,
        lease: Duration,
    ) -> Result<bool, QueueError> {
        let taken: i64 = self
            .scripts()
            .send_slot
            .key(self.inflight_key(sender))
            .arg(now_ms())
            .arg(token)
            .arg(cap)
            .arg(ms(lease).max(1))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(taken == 1)
    }

    /// Gives back the send slot `token` of `sender`.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn give_back_send_slot(&self, sender: &str, token: &str) -> Result<(), QueueError> {
        let _: i64 = self.conn().zrem(self.inflight_key(sender), token).await?;
        Ok(())
    }
}
