//! The web sign-in flow's pending states, beside the queue under its hash tag:
//! `{name}:oauth:state:<state>` strings with a TTL, each taken once, so any replica can finish
//! a flow another one started. The value is the worker's (a sealed verifier); the queue only
//! keeps it.

use std::time::Duration;

use crate::{Queue, QueueError};

impl Queue {
    fn oauth_state_key(&self, state: &str) -> String {
        self.key(&format!("oauth:state:{state}"))
    }

    /// Keeps `value` under `state` for `ttl` (at least a second).
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn save_oauth_state(
        &self,
        state: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<(), QueueError> {
        let () = redis::cmd("SET")
            .arg(self.oauth_state_key(state))
            .arg(value)
            .arg("EX")
            .arg(ttl.as_secs().max(1))
            .query_async(&mut self.conn())
            .await?;
        Ok(())
    }

    /// Takes (reads and deletes) the value kept under `state`; `None` when unknown, expired
    /// or already taken.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn take_oauth_state(&self, state: &str) -> Result<Option<String>, QueueError> {
        Ok(redis::cmd("GETDEL")
            .arg(self.oauth_state_key(state))
            .query_async(&mut self.conn())
            .await?)
    }
}
