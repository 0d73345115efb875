//! What a queue handle's worker side did on its own, without a handler seeing it: deliveries
//! skipped or dropped when they were started, jobs dead-lettered before a handler got them, and
//! failed Redis operations. Plain counters, so a worker can export them as metrics without this
//! crate knowing about any metrics library.

use std::sync::atomic::{AtomicU64, Ordering};

/// Running totals since the queue handle was connected (shared by its clones). Read them with
/// [`Queue::activity`](crate::Queue::activity); every field only grows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct QueueActivity {
    /// Deliveries of jobs already finished (sent, expired or dead), acknowledged without
    /// sending again: redeliveries after a lost acknowledgement or a taken-over lease.
    pub duplicate: u64,
    /// Deliveries of jobs cancelled after their stream entry was read, dropped unsent.
    pub cancelled: u64,
    /// Jobs whose `expires_at` had passed when they were delivered; marked expired, not sent.
    pub expired: u64,
    /// Deliveries whose job record no longer exists (trimmed or deleted), dropped.
    pub missing: u64,
    /// Jobs dead-lettered because their payload or id could not be decoded.
    pub undecodable: u64,
    /// Jobs dead-lettered as poison: delivered `max_deliveries` times without an outcome.
    pub poisoned: u64,
    /// Sends recorded for a job already recorded as sent by another delivery (both copies
    /// went out after a lease takeover); the job's record lists their ids in `duplicate_ids`.
    pub duplicate_sends: u64,
    /// Failed Redis operations of the worker side: fetch rounds, lease renewals and
    /// housekeeping, outcome batches, deregistration.
    pub redis_errors: u64,
    /// Times the handle's connection moved to a new primary after a failover (Redis Sentinel
    /// only; always 0 on a single server or a cluster).
    pub redis_failovers: u64,
}

/// The live counters behind [`QueueActivity`].
#[derive(Debug, Default)]
pub(crate) struct Activity {
    duplicate: AtomicU64,
    cancelled: AtomicU64,
    expired: AtomicU64,
    missing: AtomicU64,
    undecodable: AtomicU64,
    poisoned: AtomicU64,
    duplicate_sends: AtomicU64,
    redis_errors: AtomicU64,
}

/// One kind of event counted by [`Activity`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "worker"), allow(dead_code))]
pub(crate) enum Event {
    Duplicate,
    Cancelled,
    Expired,
    Missing,
    Undecodable,
    Poisoned,
    DuplicateSend,
    RedisError,
}

impl Activity {
    #[cfg_attr(not(feature = "worker"), allow(dead_code))]
    pub fn add(&self, event: Event, n: u64) {
        let counter = match event {
            Event::Duplicate => &self.duplicate,
            Event::Cancelled => &self.cancelled,
            Event::Expired => &self.expired,
            Event::Missing => &self.missing,
            Event::Undecodable => &self.undecodable,
            Event::Poisoned => &self.poisoned,
            Event::DuplicateSend => &self.duplicate_sends,
            Event::RedisError => &self.redis_errors,
        };
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> QueueActivity {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        QueueActivity {
            duplicate: get(&self.duplicate),
            cancelled: get(&self.cancelled),
            expired: get(&self.expired),
            missing: get(&self.missing),
            undecodable: get(&self.undecodable),
            poisoned: get(&self.poisoned),
            duplicate_sends: get(&self.duplicate_sends),
            redis_errors: get(&self.redis_errors),
            redis_failovers: 0,
        }
    }
}
