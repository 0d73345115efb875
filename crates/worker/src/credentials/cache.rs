//! [`SenderCache`]: what a token source keeps per sender (a cached token, its refresh lock),
//! bounded whatever senders appear: at most `capacity` senders, the least recently used
//! leaving first, and none kept once unused for `idle`. The clock is tokio's, so tests run on
//! paused time.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::time::Instant;

/// Per-sender values, least recently used first out. Cheap to share behind an [`Arc`].
#[derive(Debug)]
pub struct SenderCache<T> {
    capacity: usize,
    idle: Duration,
    inner: Mutex<Inner<T>>,
}

#[derive(Debug)]
struct Inner<T> {
    entries: HashMap<String, Entry<T>>,
    /// Senders by the sequence number of their last use: the first is the least recent.
    order: BTreeMap<u64, String>,
    next: u64,
}

#[derive(Debug)]
struct Entry<T> {
    value: Arc<T>,
    seq: u64,
    used: Instant,
}

impl<T: Default> SenderCache<T> {
    /// A cache of at most `capacity` senders (at least one), each kept for `idle` after its
    /// last use.
    #[must_use]
    pub fn new(capacity: usize, idle: Duration) -> Self {
        Self {
            capacity: capacity.max(1),
            idle,
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                order: BTreeMap::new(),
                next: 0,
            }),
        }
    }

    /// The value of `sender`, made now if it has none; marks it used.
    pub fn get(&self, sender: &str) -> Arc<T> {
        let now = Instant::now();
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.expire(now, self.idle);
        let Inner {
            entries,
            order,
            next,
        } = &mut *inner;
        if let Some(entry) = entries.get_mut(sender) {
            entry.used = now;
            // The sender used last (the usual case: one sender in a row) is already last in
            // line; only another one moves.
            if entry.seq + 1 != *next {
                let old = std::mem::replace(&mut entry.seq, *next);
                *next += 1;
                order.remove(&old);
                order.insert(entry.seq, sender.to_owned());
            }
            return entry.value.clone();
        }
        let seq = inner.next;
        inner.next += 1;
        while inner.entries.len() >= self.capacity {
            inner.evict_oldest();
        }
        let value = Arc::new(T::default());
        inner.entries.insert(
            sender.to_owned(),
            Entry {
                value: value.clone(),
                seq,
                used: now,
            },
        );
        inner.order.insert(seq, sender.to_owned());
        value
    }

    /// The value of `sender` if it has one, without marking it used.
    pub fn peek(&self, sender: &str) -> Option<Arc<T>> {
        let inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.entries.get(sender).map(|e| e.value.clone())
    }

    /// Forgets `sender`.
    pub fn remove(&self, sender: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = inner.entries.remove(sender) {
            inner.order.remove(&entry.seq);
        }
    }

    /// Forgets every sender unused for `idle`; returns how many are kept.
    pub fn sweep(&self) -> usize {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        inner.expire(Instant::now(), self.idle);
        inner.entries.len()
    }

    /// How many senders are kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entries
            .len()
    }

    /// Whether no sender is kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: Default + Send + Sync + 'static> SenderCache<T> {
    /// Sweeps `cache` every quarter of its idle time from a task of the current tokio
    /// runtime (if there is one), for as long as the cache lives.
    pub fn sweep_in_background(cache: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let every = (cache.idle / 4).max(Duration::from_millis(100));
        let weak: Weak<Self> = Arc::downgrade(cache);
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(cache) = weak.upgrade() else { return };
                let before = cache.len();
                let kept = cache.sweep();
                if kept < before {
                    tracing::debug!(
                        expired = before - kept,
                        kept,
                        "idle senders' credentials dropped"
                    );
                }
            }
        });
    }
}

impl<T> Inner<T> {
    fn expire(&mut self, now: Instant, idle: Duration) {
        while let Some((_, sender)) = self.order.first_key_value() {
            let stale = self
                .entries
                .get(sender)
                .is_none_or(|e| now.saturating_duration_since(e.used) >= idle);
            if !stale {
                break;
            }
            self.evict_oldest();
        }
    }

    fn evict_oldest(&mut self) {
        if let Some((_, sender)) = self.order.pop_first() {
            self.entries.remove(&sender);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_least_recently_used_leave_first_and_idle_ones_expire() {
        let cache: SenderCache<Mutex<u32>> = SenderCache::new(3, Duration::from_secs(60));
        for sender in ["a", "b", "c"] {
            *cache.get(sender).lock().unwrap() += 1;
        }
        cache.get("a");
        cache.get("d");
        assert!(cache.peek("b").is_none(), "b was the least recently used");
        assert_eq!(cache.len(), 3);
        assert_eq!(*cache.get("a").lock().unwrap(), 1, "a kept its value");

        tokio::time::advance(Duration::from_secs(30)).await;
        cache.get("c");
        tokio::time::advance(Duration::from_secs(31)).await;
        assert_eq!(cache.sweep(), 1, "only c was used within the last minute");
        assert!(cache.peek("c").is_some());
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(cache.sweep(), 0);
        assert!(cache.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_sender_used_again_in_a_row_stays_last_in_line() {
        let cache: SenderCache<Mutex<u32>> = SenderCache::new(3, Duration::from_secs(60));
        for sender in ["a", "b", "b", "b", "c", "b"] {
            cache.get(sender);
        }
        cache.get("d");
        assert!(cache.peek("a").is_none(), "a was the least recently used");
        cache.get("e");
        assert!(cache.peek("c").is_none(), "then c");
        assert!(cache.peek("b").is_some() && cache.peek("d").is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_background_sweep_empties_an_unused_cache() {
        let cache = Arc::new(SenderCache::<Mutex<u32>>::new(100, Duration::from_secs(4)));
        for i in 0..50 {
            cache.get(&format!("s{i}@example.com"));
        }
        SenderCache::sweep_in_background(&cache);
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert!(cache.is_empty());
    }
}
