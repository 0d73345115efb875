//! Per-sender send slots: at most `quota.sender_concurrency` sends of one sender are in
//! flight from this worker at once, since Gmail limits the concurrent requests per user
//! (429 "Too many concurrent requests for user"). A job waiting for a slot has been admitted
//! and spends no attempt; its wait lasts a send's round trip, not a backoff.
//!
//! The cap is exact within a worker. Across replicas the cap is the per-worker cap times the
//! replicas sending for that sender (README, "Gmail's limits"), unless the slots are shared
//! ([`SenderSlots::shared`], `quota.shared_sender_concurrency`): a send then also takes a
//! lease in Redis ([`Queue::take_send_slot`]), so that at most the cap are in flight across
//! every replica, less precisely only when a worker died mid-send (its leases count until
//! they run out) or Redis could not be asked (the send goes without the shared slot).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mailroom_queue::Queue;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The first and the longest wait before asking Redis again for a shared slot.
const RETRY_FIRST: Duration = Duration::from_millis(5);
const RETRY_MOST: Duration = Duration::from_millis(100);

/// Slots shared across workers through Redis.
#[derive(Debug, Clone)]
struct Shared {
    queue: Queue,
    lease: Duration,
}

/// Senders whose semaphores are kept before the idle ones are dropped.
const SENDERS_KEPT: usize = 4096;

/// One semaphore per sender, made on its first send.
#[derive(Debug)]
pub struct SenderSlots {
    per_sender: usize,
    senders: Mutex<HashMap<String, Arc<Semaphore>>>,
    shared: Option<Shared>,
}

/// A send slot of one sender, given back when dropped.
#[derive(Debug)]
pub struct SenderSlot {
    _permit: OwnedSemaphorePermit,
    /// The shared slot, given back to Redis when dropped: the queue, sender and token.
    shared: Option<(Queue, String, String)>,
}

impl Drop for SenderSlot {
    fn drop(&mut self) {
        if let Some((queue, sender, token)) = self.shared.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                if let Err(e) = queue.give_back_send_slot(&sender, &token).await {
                    tracing::debug!(error = %e, "giving back a shared send slot failed; its lease ends it");
                }
            });
        }
    }
}

impl SenderSlots {
    /// Slots for at most `per_sender` sends in flight per sender (at least 1).
    #[must_use]
    pub fn new(per_sender: usize) -> Self {
        Self {
            per_sender: per_sender.max(1),
            senders: Mutex::default(),
            shared: None,
        }
    }

    /// Shares the cap across every worker of `queue`'s Redis: each slot is also a lease of
    /// `lease` there (longer than any send can take).
    #[must_use]
    pub fn shared(mut self, queue: Queue, lease: Duration) -> Self {
        self.shared = Some(Shared { queue, lease });
        self
    }

    /// Waits for one of `sender`'s slots (and, when shared, one of its slots across workers).
    pub async fn acquire(&self, sender: &str) -> SenderSlot {
        let semaphore = self.semaphore(sender);
        // The semaphore is never closed, so acquiring can only succeed.
        let permit = semaphore
            .acquire_owned()
            .await
            .unwrap_or_else(|_| unreachable!("a sender's semaphore is never closed"));
        let shared = match &self.shared {
            Some(shared) => self.take_shared(shared, sender).await,
            None => None,
        };
        SenderSlot {
            _permit: permit,
            shared,
        }
    }

    /// Waits for a shared slot of `sender`, asking Redis again after a short, growing wait;
    /// `None` when Redis cannot be asked (the send goes without).
    async fn take_shared(&self, shared: &Shared, sender: &str) -> Option<(Queue, String, String)> {
        let token = mailroom_jobs::JobId::new().to_string();
        let cap = u32::try_from(self.per_sender).unwrap_or(u32::MAX);
        let mut wait = RETRY_FIRST;
        loop {
            match shared
                .queue
                .take_send_slot(sender, &token, cap, shared.lease)
                .await
            {
                Ok(true) => return Some((shared.queue.clone(), sender.to_owned(), token)),
                Ok(false) => {
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(RETRY_MOST);
                }
                Err(e) => {
                    tracing::debug!(error = %e, sender, "no shared send slot (Redis); sending without");
                    return None;
                }
            }
        }
    }

    /// The cap per sender.
    #[must_use]
    pub fn per_sender(&self) -> usize {
        self.per_sender
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
