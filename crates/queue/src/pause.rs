//! An operator's pause and resume of one sender, for every worker at once. A pause is the one
//! Gmail's limits set ([`Queue::pause_sender`]): the sender's jobs wait in the schedule until
//! it ends, other senders go on. [`Queue::resume_sender`] ends it early and makes the jobs it
//! held due at once (`resume.lua`).

use std::time::Duration;

use crate::queue::{ms, now_ms};
use crate::scripts::{call, run};
use crate::senders::normalize_sender;
use crate::{Queue, QueueError};

/// What [`Queue::resume_sender`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resumed {
    /// Whether the sender was paused.
    pub was_paused: bool,
    /// The held jobs made due now.
    pub woken: u64,
}

impl Queue {
    /// Pauses `sender` for `duration` from now, by an operator: its jobs wait, other senders
    /// go on. A longer pause already set (by Gmail, say) is kept. `reason` is shown with the
    /// pause (`auth list`, the console, the job's status).
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn pause_sender_for(
        &self,
        sender: &str,
        duration: Duration,
        reason: &str,
    ) -> Result<i64, QueueError> {
        let until = now_ms().saturating_add(ms(duration));
        self.pause_sender(sender, until, reason).await?;
        Ok(until)
    }

    /// Ends `sender`'s pause now, whoever set it, and makes the jobs it held due at once.
    /// A quarantine is not lifted (that takes working credentials).
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn resume_sender(&self, sender: &str) -> Result<Resumed, QueueError> {
        let state = self.key(&format!("sender:{}", normalize_sender(sender)));
        let mut inv = call(&self.scripts().resume, self.keys());
        inv.key(&state)
            .arg(&self.keys().prefix)
            .arg(now_ms())
            .arg(normalize_sender(sender));
        let (was, woken): (i64, i64) = run(&inv, &mut self.conn()).await?;
        Ok(Resumed {
            was_paused: was == 1,
            woken: u64::try_from(woken).unwrap_or(0),
        })
    }
}
