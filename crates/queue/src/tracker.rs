//! What a worker holds: its leased deliveries with the bytes of each, and the deliveries it
//! read but deferred because they did not fit in its byte budget.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use mailroom_jobs::JobId;
use tokio::sync::Notify;

use crate::queue::Queue;
use crate::settle::Settler;

/// The deliveries a worker holds: stream entry id to job id and the job's bytes (its payload,
/// metadata and tags as stored). Shared by the fetcher (which adds), the leases (which remove
/// when settled or dropped) and the keeper (which renews them); it also carries the worker's
/// outcome task.
#[derive(Debug, Clone)]
pub struct Tracker(Arc<Held>);

#[derive(Debug)]
struct Held {
    consumer: String,
    settler: Settler,
    entries: Mutex<Entries>,
    /// Woken when a lease goes, so a fetcher waiting for room in its budget looks again.
    freed: Notify,
    /// Outcomes being written in the background ([`Lease::sent_in_background`]), and the
    /// wake-up when the last of them is done.
    ///
    /// [`Lease::sent_in_background`]: crate::Lease::sent_in_background
    writing: AtomicUsize,
    written: Notify,
}

/// One outcome being written in the background; done when dropped.
#[derive(Debug)]
pub(crate) struct Writing(Tracker);

impl Drop for Writing {
    fn drop(&mut self) {
        if self.0.0.writing.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.0.written.notify_waiters();
        }
    }
}

#[derive(Debug, Default)]
struct Entries {
    leased: HashMap<String, (JobId, usize)>,
    bytes: usize,
    /// Read, pending under this worker, not started yet: renewed like the leased ones.
    deferred: HashSet<String>,
}

impl Tracker {
    pub(crate) fn new(queue: Queue, consumer: String) -> Self {
        let settler = Settler::spawn(queue, consumer.clone());
        Self(Arc::new(Held {
            consumer,
            settler,
            entries: Mutex::new(Entries::default()),
            freed: Notify::new(),
            writing: AtomicUsize::new(0),
            written: Notify::new(),
        }))
    }

    /// The consumer name the deliveries are held under.
    #[must_use]
    pub fn consumer(&self) -> &str {
        &self.0.consumer
    }

    pub(crate) fn settler(&self) -> &Settler {
        &self.0.settler
    }

    /// A lease of `bytes` starts for the delivery `entry` of job `id`.
    pub(crate) fn add(&self, entry: &str, id: JobId, bytes: usize) {
        let mut held = self.lock();
        held.deferred.remove(entry);
        if let Some((_, old)) = held.leased.insert(entry.to_owned(), (id, bytes)) {
            held.bytes -= old;
        }
        held.bytes += bytes;
    }

    /// The delivery `entry` is no longer held (settled, dropped, or taken over).
    pub(crate) fn remove(&self, entry: &str) {
        let mut held = self.lock();
        held.deferred.remove(entry);
        if let Some((_, bytes)) = held.leased.remove(entry) {
            held.bytes -= bytes;
            drop(held);
            self.0.freed.notify_one();
        }
    }

    /// The delivery `entry` was read but left for later: it is renewed until it starts.
    pub(crate) fn defer(&self, entry: &str) {
        self.lock().deferred.insert(entry.to_owned());
    }

    /// Takes `entry` out of the deferred ones; false when it is no longer this worker's
    /// (another worker took it over).
    pub(crate) fn undefer(&self, entry: &str) -> bool {
        self.lock().deferred.remove(entry)
    }

    /// An outcome starts being written in the background.
    pub(crate) fn writing(&self) -> Writing {
        self.0.writing.fetch_add(1, Ordering::AcqRel);
        Writing(self.clone())
    }

    /// Waits until no outcome is being written in the background
    /// ([`Lease::sent_in_background`](crate::Lease::sent_in_background)). The backend waits
    /// for this before it stops, so a worker that has stopped has written every outcome its
    /// handlers recorded.
    pub async fn flushed(&self) {
        loop {
            let written = self.0.written.notified();
            tokio::pin!(written);
            written.as_mut().enable();
            if self.0.writing.load(Ordering::Acquire) == 0 {
                return;
            }
            written.await;
        }
    }

    /// Bytes of the jobs held under a lease now.
    #[must_use]
    pub fn held_bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Waits until a lease goes (or went since the last wait).
    pub(crate) async fn freed(&self) {
        self.0.freed.notified().await;
    }

    /// Every entry whose lease the keeper renews: leased and deferred.
    pub(crate) fn renewable(&self) -> Vec<String> {
        let held = self.lock();
        held.leased
            .keys()
            .chain(held.deferred.iter())
            .cloned()
            .collect()
    }

    /// The deliveries held under a lease now.
    #[must_use]
    pub fn snapshot(&self) -> Vec<(String, JobId)> {
        self.lock()
            .leased
            .iter()
            .map(|(e, (id, _))| (e.clone(), *id))
            .collect()
    }

    /// How many deliveries are held under a lease.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().leased.len()
    }

    /// True when none is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.0
            .entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
