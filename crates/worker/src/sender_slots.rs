//! Per-sender send slots: at most `quota.sender_concurrency` sends of one sender are in
//! flight from this worker at once, since Gmail limits the concurrent requests per user
//! (429 "Too many concurrent requests for user"). A job waiting for a slot has been admitted
//! and spends no attempt; its wait lasts a send's round trip, not a backoff.
//!
//! The cap is exact within a worker. Across replicas the cap is the per-worker cap times the
//! replicas sending for that sender (README, "Gmail's limits").

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Senders whose semaphores are kept before the idle ones are dropped.
const SENDERS_KEPT: usize = 4096;

/// One semaphore per sender, made on its first send.
#[derive(Debug)]
pub struct SenderSlots {
    per_sender: usize,
    senders: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// A send slot of one sender, given back when dropped.
#[derive(Debug)]
pub struct SenderSlot {
    _permit: OwnedSemaphorePermit,
}

impl SenderSlots {
    /// Slots for at most `per_sender` sends in flight per sender (at least 1).
    #[must_use]
    pub fn new(per_sender: usize) -> Self {
        Self {
            per_sender: per_sender.max(1),
            senders: Mutex::default(),
        }
    }

    /// Waits for one of `sender`'s slots.
    pub async fn acquire(&self, sender: &str) -> SenderSlot {
        let semaphore = self.semaphore(sender);
        // The semaphore is never closed, so acquiring can only succeed.
        let permit = semaphore
            .acquire_owned()
            .await
            .unwrap_or_else(|_| unreachable!("a sender's semaphore is never closed"));
        SenderSlot { _permit: permit }
    }

    fn semaphore(&self, sender: &str) -> Arc<Semaphore> {
        let mut senders = self.senders.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = senders.get(sender) {
            return Arc::clone(s);
        }
        if senders.len() >= SENDERS_KEPT {
            // A semaphore only the map holds has no send in flight and none waiting.
            senders.retain(|_, s| Arc::strong_count(s) > 1);
        }
        let s = Arc::new(Semaphore::new(self.per_sender));
        senders.insert(sender.to_owned(), Arc::clone(&s));
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_sender_waits_for_its_own_slots_only() {
        let slots = SenderSlots::new(2);
        let a1 = slots.acquire("a@example.com").await;
        let _a2 = slots.acquire("a@example.com").await;
        // Another sender is not held up.
        let _b = slots.acquire("b@example.com").await;
        let waiting = slots.acquire("a@example.com");
        tokio::pin!(waiting);
        assert!(futures::poll!(waiting.as_mut()).is_pending());
        drop(a1);
        let _a3 = waiting.await;
    }
}
