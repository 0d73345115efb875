//! Prometheus metrics: one [`Metrics`] handle per worker process, with a registry of its own,
//! served as text on `GET /metrics` (see [`crate::http`]).
//!
//! Label values are bounded: outcomes, Gmail error reasons, token refresh outcomes, queue
//! states, quota windows and transports are enums (see [`labels`]), all pre-initialised to 0,
//! and a sender appears as itself only when it is listed exactly in `jobs.allowed_senders`;
//! every other sender is `other`. Job ids, recipients and unlisted addresses never become
//! labels.
//!
//! - `labels`: the label values;
//! - `jobs`: deliveries started, completed, their attempts, in flight, send durations;
//! - `gmail`: Gmail and OAuth errors, token refreshes;
//! - `senders`: quarantined senders and their quota left;
//! - `pools`: sender pools: members by state, quota left;
//! - `queue`: the queue's jobs by state, the oldest ready job, jobs enqueued, Redis errors;
//! - `suppression`: suppressed recipients dropped, bounces read back.

mod gmail;
mod jobs;
pub mod labels;
mod pools;
mod queue;
mod senders;
mod suppression;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use mailroom_jobs::SenderAllowlist;
use mailroom_queue::{Queue, QueueActivity, QueueStats};
use prometheus::core::Collector;
use prometheus::{
    Encoder as _, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

pub use labels::{OTHER_SENDER, Outcome, QueueState, QuotaWindow, Resolution, TokenOutcome};
pub use suppression::{BounceKind, UnsubscribeOutcome};

use crate::config::TransportKind;
use crate::transport::FailureReason;

/// The revision the binary was built from (`git rev-parse --short HEAD`, or `unknown`).
pub const REVISION: &str = env!("MAILROOM_REVISION");

/// The worker's metrics. Cheap to clone (clones share one registry); create one per process
/// with [`Metrics::new`] and hand clones to whatever records.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    jobs: jobs::Jobs,
    gmail: gmail::Gmail,
    senders: senders::Senders,
    pools: pools::PoolFamilies,
    queue: queue::QueueFamilies,
    suppression: suppression::Suppression,
    /// The queue whose [`QueueActivity`] is folded into the counters, and the totals already
    /// folded in.
    watched: OnceLock<Queue>,
    folded: Mutex<QueueActivity>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("senders", &self.0.senders.listed())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Registers `metric` (a clone: metric handles share their values) and returns it.
fn register<C: Collector + Clone + 'static>(registry: &Registry, metric: C) -> C {
    registry
        .register(Box::new(metric.clone()))
        .expect("metric names are unique and valid");
    metric
}

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    register(r, IntCounter::new(name, help).expect("a valid counter"))
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    register(
        r,
        IntCounterVec::new(Opts::new(name, help), labels).expect("a valid counter"),
    )
}

fn gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    register(
        r,
        IntGaugeVec::new(Opts::new(name, help), labels).expect("a valid gauge"),
    )
}

/// Registers `mailroom_build_info` and, on Linux, the process collector.
fn register_process(r: &Registry) {
    gauge_vec(
        r,
        "mailroom_build_info",
        "Always 1; the labels name the running build.",
        &["version", "revision"],
    )
    .with_label_values(&[env!("CARGO_PKG_VERSION"), REVISION])
    .set(1);
    #[cfg(target_os = "linux")]
    r.register(Box::new(
        prometheus::process_collector::ProcessCollector::for_self(),
    ))
    .expect("process metrics register once");
}

impl Metrics {
    /// The metrics of a worker sending through `transport`, with sender labels for the
    /// addresses `allowlist` lists exactly (not `*@domain`). Registers every family, the
    /// process collector and `mailroom_build_info`.
    ///
    /// # Panics
    /// Never in practice: the family names and labels are fixed and valid.
    #[must_use]
    pub fn new(allowlist: Option<&SenderAllowlist>, transport: TransportKind) -> Self {
        let registry = Registry::new();
        let inner = Inner {
            jobs: jobs::Jobs::register(&registry, transport),
            gmail: gmail::Gmail::register(&registry),
            senders: senders::Senders::register(&registry, allowlist),
            pools: pools::PoolFamilies::register(&registry),
            queue: queue::QueueFamilies::register(&registry),
            suppression: suppression::Suppression::register(&registry),
            watched: OnceLock::new(),
            folded: Mutex::new(QueueActivity::default()),
            registry,
        };
        register_process(&inner.registry);
        Self(Arc::new(inner))
    }

    /// A delivery started.
    pub fn job_started(&self) {
        self.0.jobs.started();
    }

    /// A delivery finished with `outcome` at attempt `attempt` (1 for the first); sent and
    /// dead jobs are also observed in `mailroom_job_attempts`.
    pub fn job_finished(&self, outcome: Outcome, attempt: u32) {
        self.0.jobs.finished(outcome, attempt);
    }

    /// `mailroom_jobs_completed_total{outcome}` now, what the queue handle counted on its own
    /// (poison dead letters, expiries) folded in first.
    #[must_use]
    pub fn completed_total(&self, outcome: Outcome) -> u64 {
        self.fold_activity();
        self.0.jobs.completed(outcome).get()
    }

    /// Adds `delta` (+1 or −1) to the jobs in flight.
    pub fn in_flight_add(&self, delta: i64) {
        self.0.jobs.in_flight_add(delta);
    }

    /// Counts one job in flight until the returned guard is dropped (also when the task
    /// handling it is aborted).
    #[must_use]
    pub fn in_flight(&self) -> InFlight {
        self.in_flight_add(1);
        InFlight(self.clone())
    }

    /// A send through `transport` took `seconds`, whether it succeeded or not.
    pub fn send_duration(&self, transport: TransportKind, seconds: f64) {
        self.0.jobs.send_duration(transport, seconds);
    }

    /// A Gmail API or OAuth call failed for `reason`.
    pub fn gmail_error(&self, reason: FailureReason) {
        self.0.gmail.error(reason);
    }

    /// A send again after an earlier delivery may have gone out was checked first.
    pub fn ambiguous_send(&self, resolution: Resolution) {
        self.0.gmail.ambiguous_send(resolution);
    }

    /// An OAuth access token refresh succeeded or failed.
    pub fn token_refresh(&self, outcome: TokenOutcome) {
        self.0.gmail.token_refresh(outcome);
    }

    /// `sender` was quarantined, or let out of quarantine.
    pub fn sender_quarantined(&self, sender: &str, quarantined: bool) {
        self.0.senders.quarantined(sender, quarantined);
    }

    /// `sender` has `remaining` sends left in `window`.
    pub fn sender_quota_remaining(&self, sender: &str, window: QuotaWindow, remaining: f64) {
        self.0.senders.quota_remaining(sender, window, remaining);
    }

    /// Reports the sender pools `pools` (`mailroom_pool_members`,
    /// `mailroom_pool_quota_remaining`) at each [`Metrics::refresh`], read under `limits`.
    pub fn watch_pools(&self, pools: crate::pools::Pools, limits: mailroom_queue::SenderLimits) {
        self.0.pools.watch(pools, limits);
    }

    /// A recipient was dropped from a job: it is suppressed for `reason`.
    pub fn recipient_suppressed(&self, reason: mailroom_queue::SuppressReason) {
        self.0.suppression.dropped(reason);
    }

    /// The bounce reader processed a bounce of `kind`.
    pub fn bounce(&self, kind: BounceKind) {
        self.0.suppression.bounce(kind);
    }

    /// A Redis operation failed.
    pub fn redis_error(&self) {
        self.0.queue.redis_errors.inc();
    }

    /// The label value for `sender` (an address, with or without a display name): the
    /// address when it is listed exactly in `jobs.allowed_senders`, else `other`.
    #[must_use]
    pub fn sender_label(&self, sender: &str) -> String {
        self.0.senders.label(sender)
    }

    /// Folds the skipped deliveries, fetch-time dead letters and Redis errors `queue` counts
    /// (see [`Queue::activity`]) into the counters, now and before every render. Only the
    /// first queue given is watched.
    pub fn watch_queue(&self, queue: &Queue) {
        let _ = self.0.watched.set(queue.clone());
        self.fold_activity();
    }

    /// Sets the queue gauges and the enqueued counter from a stats read.
    pub fn queue_stats(&self, stats: &QueueStats) {
        self.0.queue.stats(stats);
    }

    /// Reads the queue's stats into the gauges; a failure counts as a Redis error and leaves
    /// the last values in place.
    pub async fn refresh(&self, queue: &Queue) {
        self.fold_activity();
        match queue.stats().await {
            Ok(stats) => self.queue_stats(&stats),
            Err(e) => {
                self.redis_error();
                tracing::debug!(error = %e, "reading queue stats for the metrics failed");
            }
        }
        // Quarantines are decided by whichever replica met the problem; every replica
        // reports them.
        match queue.sender_states().await {
            Ok(states) => {
                for state in states {
                    self.sender_quarantined(&state.sender, state.quarantined.is_some());
                }
            }
            Err(e) => {
                self.redis_error();
                tracing::debug!(error = %e, "reading sender states for the metrics failed");
            }
        }
        if let Err(e) = self.0.pools.refresh(queue).await {
            self.redis_error();
            tracing::debug!(error = %e, "reading sender pools for the metrics failed");
        }
    }

    /// The metrics in the Prometheus text format (`text/plain; version=0.0.4`).
    #[must_use]
    pub fn render(&self) -> String {
        self.fold_activity();
        let mut out = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.0.registry.gather(), &mut out) {
            tracing::warn!(error = %e, "encoding the metrics failed");
        }
        String::from_utf8(out).unwrap_or_default()
    }

    /// Adds what the watched queue counted since the last fold.
    fn fold_activity(&self) {
        let Some(queue) = self.0.watched.get() else {
            return;
        };
        let now = queue.activity();
        let mut folded = lock(&self.0.folded);
        let delta = |now: u64, before: u64| now.saturating_sub(before);
        for (outcome, n) in [
            (Outcome::Duplicate, delta(now.duplicate, folded.duplicate)),
            (Outcome::Cancelled, delta(now.cancelled, folded.cancelled)),
            (Outcome::Expired, delta(now.expired, folded.expired)),
            (
                Outcome::Dead,
                delta(now.undecodable, folded.undecodable) + delta(now.poisoned, folded.poisoned),
            ),
        ] {
            if n > 0 {
                self.0.jobs.completed(outcome).inc_by(n);
            }
        }
        self.0
            .queue
            .redis_errors
            .inc_by(delta(now.redis_errors, folded.redis_errors));
        self.0
            .queue
            .redis_failovers
            .inc_by(delta(now.redis_failovers, folded.redis_failovers));
        self.0
            .jobs
            .duplicate_sends
            .inc_by(delta(now.duplicate_sends, folded.duplicate_sends));
        *folded = now;
    }
}

/// One job in flight; see [`Metrics::in_flight`].
#[derive(Debug)]
pub struct InFlight(Metrics);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight_add(-1);
    }
}
