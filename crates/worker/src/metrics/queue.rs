//! The families read from Redis: jobs in the queue by state, the oldest ready job, jobs ever
//! enqueued (queue-wide, mirrored from the queue's counter), and this worker's failed Redis
//! operations and the failovers its connection followed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use mailroom_queue::QueueStats;
use prometheus::core::{Collector, Desc};
use prometheus::{Gauge, IntCounter, IntGaugeVec};

use super::labels::QueueState;
use super::{counter, gauge_vec, lock, register};

pub(super) struct QueueFamilies {
    enqueued: Mirrored,
    jobs: IntGaugeVec,
    oldest_ready: Gauge,
    pub(super) redis_errors: IntCounter,
    pub(super) redis_failovers: IntCounter,
}

impl QueueFamilies {
    /// Registers the families, every state at 0.
    pub(super) fn register(r: &prometheus::Registry) -> Self {
        let enqueued = Mirrored::new(
            "mailroom_jobs_enqueued_total",
            "Jobs ever enqueued into the queue by any client (queue-wide, read from Redis; the same on every worker).",
        );
        r.register(Box::new(enqueued.clone()))
            .expect("a unique name");
        let queue = Self {
            enqueued,
            jobs: gauge_vec(
                r,
                "mailroom_queue_jobs",
                "Jobs in the queue by state (queue-wide, read from Redis).",
                &["state"],
            ),
            oldest_ready: register(
                r,
                Gauge::new(
                    "mailroom_queue_oldest_ready_timestamp_seconds",
                    "Unix time at which the oldest job still waiting for delivery became ready; 0 when none waits.",
                )
                .expect("a valid gauge"),
            ),
            redis_errors: counter(
                r,
                "mailroom_redis_errors_total",
                "Failed Redis operations of this worker: fetch rounds, lease renewals, outcome batches, stats refreshes.",
            ),
            redis_failovers: counter(
                r,
                "mailroom_redis_failovers_total",
                "Times this worker's queue connection moved to a new Redis primary after a Sentinel failover.",
            ),
        };
        for state in QueueState::ALL {
            queue.jobs.with_label_values(&[state.as_str()]);
        }
        queue
    }

    pub(super) fn stats(&self, stats: &QueueStats) {
        for (state, n) in [
            (QueueState::Ready, stats.ready),
            (QueueState::Scheduled, stats.scheduled),
            (QueueState::InFlight, stats.in_flight),
            (QueueState::Dead, stats.dead),
        ] {
            self.jobs
                .with_label_values(&[state.as_str()])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        #[allow(clippy::cast_precision_loss)]
        let oldest = stats
            .oldest_ready_at
            .map_or(0.0, |t| t.timestamp_millis() as f64 / 1000.0);
        self.oldest_ready.set(oldest);
        self.enqueued.set(stats.enqueued);
    }
}

/// A counter whose value is read from elsewhere (Redis) instead of counted here. It is absent
/// from the output until the first value arrives, so a restarted worker never shows a drop to
/// 0 followed by a jump.
#[derive(Clone)]
struct Mirrored {
    counter: IntCounter,
    known: Arc<AtomicBool>,
    /// Held while the value is replaced, so a scrape never sees it half set.
    lock: Arc<Mutex<()>>,
}

impl Mirrored {
    fn new(name: &str, help: &str) -> Self {
        Self {
            counter: IntCounter::new(name, help).expect("a valid name"),
            known: Arc::new(AtomicBool::new(false)),
            lock: Arc::new(Mutex::new(())),
        }
    }

    fn set(&self, value: u64) {
        let _held = lock(&self.lock);
        self.counter.reset();
        self.counter.inc_by(value);
        self.known.store(true, Ordering::Release);
    }
}

impl Collector for Mirrored {
    fn desc(&self) -> Vec<&Desc> {
        self.counter.desc()
    }

    fn collect(&self) -> Vec<prometheus::proto::MetricFamily> {
        if !self.known.load(Ordering::Acquire) {
            return Vec::new();
        }
        let _held = lock(&self.lock);
        self.counter.collect()
    }
}
