//! Stored credentials' records: one hash per enrolled sender and the set of them, beside the
//! queue under its hash tag. The queue stores what the worker hands it (sealed fields) and
//! never sees a token in clear; sealing and opening are the worker's.
//!
//! Keys:
//! - `{name}:token:<address>` hash: the sealed refresh token and what is known about it
//!   (its fields are the worker's; `refreshed_at`, `last_error` and `last_error_at` are
//!   written by [`Queue::mark_token_refresh`]);
//! - `{name}:tokens` set: the enrolled senders.
//!
//! Addresses are keyed as [`normalize_sender`] writes them.

use std::collections::HashMap;

use redis::AsyncCommands as _;

use crate::senders::normalize_sender;
use crate::{Queue, QueueError};

impl Queue {
    fn token_key(&self, sender: &str) -> String {
        self.key(&format!("token:{}", normalize_sender(sender)))
    }

    fn tokens_key(&self) -> String {
        self.key("tokens")
    }

    /// Replaces the token record of `sender` with `fields`, and lists the sender as enrolled,
    /// in one transaction.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn put_token_record(
        &self,
        sender: &str,
        fields: &[(&str, String)],
    ) -> Result<(), QueueError> {
        let hash = self.token_key(sender);
        let () = redis::pipe()
            .atomic()
            .del(&hash)
            .ignore()
            .hset_multiple(&hash, fields)
            .ignore()
            .sadd(self.tokens_key(), normalize_sender(sender))
            .ignore()
            .query_async(&mut self.conn())
            .await?;
        Ok(())
    }

    /// The fields of `sender`'s token record; empty when it has none.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn token_record(&self, sender: &str) -> Result<HashMap<String, String>, QueueError> {
        Ok(self.conn().hgetall(self.token_key(sender)).await?)
    }

    /// The enrolled senders, sorted.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn token_senders(&self) -> Result<Vec<String>, QueueError> {
        let mut senders: Vec<String> = self.conn().smembers(self.tokens_key()).await?;
        senders.sort();
        Ok(senders)
    }

    /// Deletes `sender`'s token record; true when there was one.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn remove_token_record(&self, sender: &str) -> Result<bool, QueueError> {
        let (deleted, _): (i64, i64) = redis::pipe()
            .atomic()
            .del(self.token_key(sender))
            .srem(self.tokens_key(), normalize_sender(sender))
            .query_async(&mut self.conn())
            .await?;
        Ok(deleted > 0)
    }

    /// Records the outcome of a refresh at `at_ms` on a sender still enrolled: `refreshed_at`
    /// (clearing the last error) when `error` is `None`, else `last_error` and its time.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn mark_token_refresh(
        &self,
        sender: &str,
        at_ms: i64,
        error: Option<&str>,
    ) -> Result<(), QueueError> {
        let _: i64 = self
            .scripts()
            .token_mark
            .key(self.token_key(sender))
            .arg(if error.is_none() { "1" } else { "0" })
            .arg(at_ms)
            .arg(error.unwrap_or(""))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(())
    }

    /// Writes `fields` into `sender`'s token record only if its field `guard` still holds
    /// `expected` (what was read before); true when written.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn swap_token_fields(
        &self,
        sender: &str,
        guard: &str,
        expected: &str,
        fields: &[(&str, String)],
    ) -> Result<bool, QueueError> {
        let script = &self.scripts().token_swap;
        let mut swap = script.key(self.token_key(sender));
        swap.arg(guard).arg(expected);
        for (field, value) in fields {
            swap.arg(*field).arg(value);
        }
        let swapped: i64 = swap.invoke_async(&mut self.conn()).await?;
        Ok(swapped == 1)
    }
}
