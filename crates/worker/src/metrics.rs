//! Prometheus metrics: one [`Metrics`] handle per worker process, with a registry of its own,
//! served as text on `GET /metrics` (see [`crate::http`]).
//!
//! Label values are bounded: outcomes, Gmail error reasons, token refresh outcomes, queue
//! states, quota windows and transports are fixed sets (all pre-initialised to 0), and a sender
//! appears as itself only when it is listed exactly in `jobs.allowed_senders`; every other
//! sender is `other`. Job ids, recipients and unlisted addresses never become labels.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use mailroom_queue::{Queue, QueueActivity, QueueStats};
use prometheus::core::{Collector, Desc};
use prometheus::{
    Encoder as _, Gauge, GaugeVec, Histogram, HistogramOpts, HistogramVec, IntCounter,
    IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

/// The reasons `mailroom_gmail_errors_total` counts, each pre-initialised to 0. An unknown
/// reason is counted as `other`.
pub const GMAIL_ERROR_REASONS: &[&str] = &[
    "backend_error",
    "server_error",
    "bad_gateway",
    "timeout",
    "connection",
    "rate_limited",
    "user_rate_limited",
    "daily_limit",
    "mail_sending_limit",
    "unauthorized",
    "invalid_grant",
    "delegation_denied",
    "bad_request",
    "forbidden",
    "other",
];

/// The outcomes of `mailroom_jobs_completed_total`: `sent`, `retried` and `dead` are recorded
/// by the handler; `expired`, `cancelled` and `duplicate` by the queue when it starts a
/// delivery (see [`QueueActivity`]).
pub const OUTCOMES: &[&str] = &[
    "sent",
    "retried",
    "dead",
    "expired",
    "cancelled",
    "duplicate",
];

/// The states of `mailroom_queue_jobs`.
pub const QUEUE_STATES: &[&str] = &["ready", "scheduled", "in_flight", "dead"];

/// The windows of `mailroom_sender_quota_remaining`.
pub const QUOTA_WINDOWS: &[&str] = &["minute", "day"];

/// The transports a worker can run, pre-initialised in `mailroom_send_duration_seconds` when
/// configured.
const TRANSPORTS: &[&str] = &["outbox", "null", "gmail"];

/// Label value of senders not listed exactly in `jobs.allowed_senders`.
pub const OTHER_SENDER: &str = "other";

/// Buckets of `mailroom_job_attempts`.
const ATTEMPT_BUCKETS: &[f64] = &[1.0, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0];

/// Buckets of `mailroom_send_duration_seconds`: 1 ms to 60 s.
const SEND_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The revision the binary was built from (`git rev-parse --short HEAD`, or `unknown`).
pub const REVISION: &str = env!("MAILROOM_REVISION");

/// The worker's metrics. Cheap to clone (clones share one registry); create one per process
/// with [`Metrics::new`] and hand clones to whatever records.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    enqueued: Mirrored,
    started: IntCounter,
    completed: IntCounterVec,
    attempts: Histogram,
    queue_jobs: IntGaugeVec,
    oldest_ready: Gauge,
    send_duration: HistogramVec,
    gmail_errors: IntCounterVec,
    in_flight: IntGauge,
    token_refreshes: IntCounterVec,
    sender_quarantined: IntGaugeVec,
    sender_quota: GaugeVec,
    redis_errors: IntCounter,
    /// Addresses listed exactly in `jobs.allowed_senders`, lower-case.
    senders: HashSet<String>,
    /// Unlisted senders quarantined now (they share the label `other`).
    quarantined_others: Mutex<HashSet<String>>,
    /// The queue whose [`QueueActivity`] is folded into the counters, and the totals already
    /// folded in.
    queue: OnceLock<Queue>,
    folded: Mutex<QueueActivity>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("senders", &self.0.senders.len())
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

impl Metrics {
    /// The metrics of a worker sending through `transport`, with sender labels for the
    /// addresses listed exactly (not `*@domain`) in `allowed_senders`. Registers every family,
    /// the process collector and `mailroom_build_info`.
    ///
    /// # Panics
    /// Never in practice: the family names and labels are fixed and valid.
    #[must_use]
    pub fn new(allowed_senders: &[String], transport: &str) -> Self {
        let r = Registry::new();
        let counter = |name: &str, help: &str| register(&r, IntCounter::new(name, help).unwrap());
        let counter_vec = |name: &str, help: &str, labels: &[&str]| {
            register(
                &r,
                IntCounterVec::new(Opts::new(name, help), labels).unwrap(),
            )
        };
        let gauge_vec = |name: &str, help: &str, labels: &[&str]| {
            register(&r, IntGaugeVec::new(Opts::new(name, help), labels).unwrap())
        };

        let enqueued = Mirrored::new(
            "mailroom_jobs_enqueued_total",
            "Jobs ever enqueued into the queue by any client (queue-wide, read from Redis; the same on every worker).",
        );
        r.register(Box::new(enqueued.clone()))
            .expect("a unique name");
        let started = counter(
            "mailroom_jobs_started_total",
            "Deliveries this worker started handling (those the sender gate holds back for quota count no outcome).",
        );
        let completed = counter_vec(
            "mailroom_jobs_completed_total",
            "Deliveries this worker finished, by outcome (sent, retried, dead, expired, cancelled, duplicate).",
            &["outcome"],
        );
        let attempts = register(
            &r,
            Histogram::with_opts(
                HistogramOpts::new(
                    "mailroom_job_attempts",
                    "The attempt at which a job was sent or dead-lettered (1 = the first).",
                )
                .buckets(ATTEMPT_BUCKETS.to_vec()),
            )
            .unwrap(),
        );
        let queue_jobs = gauge_vec(
            "mailroom_queue_jobs",
            "Jobs in the queue by state (queue-wide, read from Redis).",
            &["state"],
        );
        let oldest_ready = register(
            &r,
            Gauge::new(
                "mailroom_queue_oldest_ready_timestamp_seconds",
                "Unix time at which the oldest job still waiting for delivery became ready; 0 when none waits.",
            )
            .unwrap(),
        );
        let send_duration = register(
            &r,
            HistogramVec::new(
                HistogramOpts::new(
                    "mailroom_send_duration_seconds",
                    "Time the transport took to accept or refuse a message.",
                )
                .buckets(SEND_BUCKETS.to_vec()),
                &["transport"],
            )
            .unwrap(),
        );
        let gmail_errors = counter_vec(
            "mailroom_gmail_errors_total",
            "Failed Gmail API and OAuth calls, by reason.",
            &["reason"],
        );
        let in_flight = register(
            &r,
            IntGauge::new(
                "mailroom_jobs_in_flight",
                "Jobs this worker is handling now.",
            )
            .unwrap(),
        );
        let token_refreshes = counter_vec(
            "mailroom_oauth_token_refreshes_total",
            "OAuth access token refreshes, by outcome (ok, error).",
            &["outcome"],
        );
        let sender_quarantined = gauge_vec(
            "mailroom_sender_quarantined",
            "1 while a sender is quarantined (revoked token, delegation not granted); sender is `other` for senders not listed exactly in jobs.allowed_senders (1 while any of them is).",
            &["sender"],
        );
        let sender_quota = register(
            &r,
            GaugeVec::new(
                Opts::new(
                    "mailroom_sender_quota_remaining",
                    "Sends a sender has left in the sliding window (minute, day), as last seen by this worker; `other` holds the last value seen for any unlisted sender.",
                ),
                &["sender", "window"],
            )
            .unwrap(),
        );
        let redis_errors = counter(
            "mailroom_redis_errors_total",
            "Failed Redis operations of this worker: fetch rounds, lease renewals, outcome batches, stats refreshes.",
        );
        let build_info = gauge_vec(
            "mailroom_build_info",
            "Always 1; the labels name the running build.",
            &["version", "revision"],
        );
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION"), REVISION])
            .set(1);
        #[cfg(target_os = "linux")]
        r.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ))
        .expect("process metrics register once");

        for outcome in OUTCOMES {
            completed.with_label_values(&[outcome]);
        }
        for state in QUEUE_STATES {
            queue_jobs.with_label_values(&[state]);
        }
        for reason in GMAIL_ERROR_REASONS {
            gmail_errors.with_label_values(&[reason]);
        }
        for outcome in ["ok", "error"] {
            token_refreshes.with_label_values(&[outcome]);
        }
        send_duration.with_label_values(&[transport_label(transport)]);

        let senders: HashSet<String> = allowed_senders
            .iter()
            .map(|s| s.trim())
            .filter(|s| !s.starts_with("*@") && !s.is_empty())
            .map(str::to_lowercase)
            .collect();
        // Senders listed by address are known label values: they start out not quarantined.
        for sender in &senders {
            sender_quarantined.with_label_values(&[sender]).set(0);
        }
        Self(Arc::new(Inner {
            registry: r,
            enqueued,
            started,
            completed,
            attempts,
            queue_jobs,
            oldest_ready,
            send_duration,
            gmail_errors,
            in_flight,
            token_refreshes,
            sender_quarantined,
            sender_quota,
            redis_errors,
            senders,
            quarantined_others: Mutex::new(HashSet::new()),
            queue: OnceLock::new(),
            folded: Mutex::new(QueueActivity::default()),
        }))
    }

    /// A delivery started.
    pub fn job_started(&self) {
        self.0.started.inc();
    }

    /// A delivery finished with `outcome` (one of [`OUTCOMES`]) at attempt `attempt` (1 for
    /// the first); sent and dead jobs are also observed in `mailroom_job_attempts`. An unknown
    /// outcome is not recorded.
    pub fn job_finished(&self, outcome: &str, attempt: u32) {
        if !OUTCOMES.contains(&outcome) {
            tracing::warn!(outcome, "unknown job outcome not counted");
            return;
        }
        self.0.completed.with_label_values(&[outcome]).inc();
        if matches!(outcome, "sent" | "dead") {
            self.0.attempts.observe(f64::from(attempt));
        }
    }

    /// Adds `delta` (+1 or −1) to the jobs in flight.
    pub fn in_flight_add(&self, delta: i64) {
        self.0.in_flight.add(delta);
    }

    /// Counts one job in flight until the returned guard is dropped (also when the task
    /// handling it is aborted).
    #[must_use]
    pub fn in_flight(&self) -> InFlight {
        self.in_flight_add(1);
        InFlight(self.clone())
    }

    /// A send through `transport` (`outbox`, `null` or `gmail`; another name counts as
    /// `other`) took `seconds`, whether it succeeded or not.
    pub fn send_duration(&self, transport: &str, seconds: f64) {
        self.0
            .send_duration
            .with_label_values(&[transport_label(transport)])
            .observe(seconds);
    }

    /// A Gmail API or OAuth call failed for `reason` (one of [`GMAIL_ERROR_REASONS`]; others
    /// count as `other`).
    pub fn gmail_error(&self, reason: &str) {
        let reason = if GMAIL_ERROR_REASONS.contains(&reason) {
            reason
        } else {
            "other"
        };
        self.0.gmail_errors.with_label_values(&[reason]).inc();
    }

    /// An OAuth access token refresh succeeded (`ok`) or failed.
    pub fn token_refresh(&self, ok: bool) {
        let outcome = if ok { "ok" } else { "error" };
        self.0.token_refreshes.with_label_values(&[outcome]).inc();
    }

    /// `sender` was quarantined, or let out of quarantine.
    pub fn sender_quarantined(&self, sender: &str, quarantined: bool) {
        let label = self.sender_label(sender);
        let value = if label == OTHER_SENDER {
            let mut others = lock(&self.0.quarantined_others);
            if quarantined {
                others.insert(normalized(sender));
            } else {
                others.remove(&normalized(sender));
            }
            i64::from(!others.is_empty())
        } else {
            i64::from(quarantined)
        };
        self.0
            .sender_quarantined
            .with_label_values(&[&label])
            .set(value);
    }

    /// `sender` has `remaining` sends left in `window` (`minute` or `day`; other windows are
    /// ignored).
    pub fn sender_quota_remaining(&self, sender: &str, window: &str, remaining: f64) {
        if !QUOTA_WINDOWS.contains(&window) {
            tracing::warn!(window, "unknown quota window not recorded");
            return;
        }
        let label = self.sender_label(sender);
        self.0
            .sender_quota
            .with_label_values(&[&label, window])
            .set(remaining);
    }

    /// A Redis operation failed.
    pub fn redis_error(&self) {
        self.0.redis_errors.inc();
    }

    /// The label value for `sender` (an address, with or without a display name): the
    /// address when it is listed exactly in `jobs.allowed_senders`, else `other`.
    #[must_use]
    pub fn sender_label(&self, sender: &str) -> String {
        let address = normalized(sender);
        if self.0.senders.contains(&address) {
            address
        } else {
            OTHER_SENDER.to_owned()
        }
    }

    /// Folds the skipped deliveries, fetch-time dead letters and Redis errors `queue` counts
    /// (see [`Queue::activity`]) into the counters, now and before every render. Only the
    /// first queue given is watched.
    pub fn watch_queue(&self, queue: &Queue) {
        let _ = self.0.queue.set(queue.clone());
        self.fold_activity();
    }

    /// Sets the queue gauges and the enqueued counter from a stats read.
    pub fn queue_stats(&self, stats: &QueueStats) {
        let gauges = &self.0.queue_jobs;
        for (state, n) in [
            ("ready", stats.ready),
            ("scheduled", stats.scheduled),
            ("in_flight", stats.in_flight),
            ("dead", stats.dead),
        ] {
            gauges
                .with_label_values(&[state])
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        #[allow(clippy::cast_precision_loss)]
        let oldest = stats
            .oldest_ready_at
            .map_or(0.0, |t| t.timestamp_millis() as f64 / 1000.0);
        self.0.oldest_ready.set(oldest);
        self.0.enqueued.set(stats.enqueued);
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
        let Some(queue) = self.0.queue.get() else {
            return;
        };
        let now = queue.activity();
        let mut folded = lock(&self.0.folded);
        let delta = |now: u64, before: u64| now.saturating_sub(before);
        let completed = &self.0.completed;
        for (outcome, n) in [
            ("duplicate", delta(now.duplicate, folded.duplicate)),
            ("cancelled", delta(now.cancelled, folded.cancelled)),
            ("expired", delta(now.expired, folded.expired)),
            (
                "dead",
                delta(now.undecodable, folded.undecodable) + delta(now.poisoned, folded.poisoned),
            ),
        ] {
            if n > 0 {
                completed.with_label_values(&[outcome]).inc_by(n);
            }
        }
        self.0
            .redis_errors
            .inc_by(delta(now.redis_errors, folded.redis_errors));
        *folded = now;
    }
}

/// The label value of a transport name: one of [`TRANSPORTS`], else `other`.
fn transport_label(transport: &str) -> &'static str {
    TRANSPORTS
        .iter()
        .find(|t| **t == transport)
        .copied()
        .unwrap_or("other")
}

/// The address of `sender` (`Name <a@b>` or `a@b`), trimmed and lower-case.
fn normalized(sender: &str) -> String {
    let address = match (sender.rfind('<'), sender.rfind('>')) {
        (Some(open), Some(close)) if open < close => &sender[open + 1..close],
        _ => sender,
    };
    mailroom_queue::normalize_sender(address)
}

/// One job in flight; see [`Metrics::in_flight`].
#[derive(Debug)]
pub struct InFlight(Metrics);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight_add(-1);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> Metrics {
        Metrics::new(
            &["Ops@Example.com".to_owned(), "*@example.org".to_owned()],
            "outbox",
        )
    }

    /// The value of the sample `name` (with its labels, as printed), if present.
    fn sample(text: &str, name: &str) -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
    }

    #[test]
    fn known_label_values_start_at_zero() {
        let text = metrics().render();
        for outcome in OUTCOMES {
            let name = format!("mailroom_jobs_completed_total{{outcome=\"{outcome}\"}}");
            assert_eq!(sample(&text, &name), Some(0.0), "{name}\n{text}");
        }
        for reason in GMAIL_ERROR_REASONS {
            let name = format!("mailroom_gmail_errors_total{{reason=\"{reason}\"}}");
            assert_eq!(sample(&text, &name), Some(0.0), "{name}");
        }
        for state in QUEUE_STATES {
            let name = format!("mailroom_queue_jobs{{state=\"{state}\"}}");
            assert_eq!(sample(&text, &name), Some(0.0), "{name}");
        }
        assert_eq!(
            sample(
                &text,
                "mailroom_oauth_token_refreshes_total{outcome=\"error\"}"
            ),
            Some(0.0)
        );
        assert_eq!(
            sample(
                &text,
                "mailroom_send_duration_seconds_count{transport=\"outbox\"}"
            ),
            Some(0.0)
        );
        assert!(
            !text.contains("mailroom_jobs_enqueued_total "),
            "absent until read from Redis"
        );
        let info = format!(
            "mailroom_build_info{{revision=\"{REVISION}\",version=\"{}\"}}",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(sample(&text, &info), Some(1.0), "{text}");
    }

    #[test]
    fn outcomes_attempts_and_in_flight_are_recorded() {
        let m = metrics();
        m.job_started();
        let guard = m.in_flight();
        m.job_finished("sent", 1);
        m.job_finished("retried", 1);
        m.job_finished("dead", 4);
        m.job_finished("exploded", 1);
        m.send_duration("outbox", 0.003);
        let text = m.render();
        assert_eq!(sample(&text, "mailroom_jobs_in_flight"), Some(1.0));
        drop(guard);
        let text = m.render();
        assert_eq!(sample(&text, "mailroom_jobs_in_flight"), Some(0.0));
        assert_eq!(sample(&text, "mailroom_jobs_started_total"), Some(1.0));
        assert_eq!(
            sample(&text, "mailroom_jobs_completed_total{outcome=\"retried\"}"),
            Some(1.0)
        );
        assert_eq!(sample(&text, "mailroom_job_attempts_count"), Some(2.0));
        assert_eq!(
            sample(&text, "mailroom_job_attempts_bucket{le=\"3\"}"),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, "mailroom_job_attempts_bucket{le=\"5\"}"),
            Some(2.0)
        );
        assert_eq!(
            sample(
                &text,
                "mailroom_send_duration_seconds_bucket{transport=\"outbox\",le=\"0.005\"}"
            ),
            Some(1.0)
        );
        assert!(!text.contains("exploded"));
    }

    #[test]
    fn only_exactly_listed_senders_become_labels() {
        let m = metrics();
        assert_eq!(m.sender_label("OPS@example.com"), "ops@example.com");
        assert_eq!(m.sender_label("Ops <ops@example.com>"), "ops@example.com");
        assert_eq!(m.sender_label("news@example.org"), OTHER_SENDER);
        m.sender_quarantined("ops@example.com", true);
        m.sender_quarantined("a@example.org", true);
        m.sender_quarantined("b@example.org", true);
        m.sender_quarantined("a@example.org", false);
        m.sender_quota_remaining("Ops <ops@example.com>", "minute", 149.0);
        m.sender_quota_remaining("ops@example.com", "week", 1.0);
        m.gmail_error("teapot");
        m.gmail_error("invalid_grant");
        m.token_refresh(false);
        let text = m.render();
        assert_eq!(
            sample(
                &text,
                "mailroom_sender_quarantined{sender=\"ops@example.com\"}"
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(&text, "mailroom_sender_quarantined{sender=\"other\"}"),
            Some(1.0),
            "b@example.org is still quarantined"
        );
        m.sender_quarantined("b@example.org", false);
        assert_eq!(
            sample(&m.render(), "mailroom_sender_quarantined{sender=\"other\"}"),
            Some(0.0)
        );
        assert_eq!(
            sample(
                &text,
                "mailroom_sender_quota_remaining{sender=\"ops@example.com\",window=\"minute\"}"
            ),
            Some(149.0)
        );
        assert!(!text.contains("week") && !text.contains("example.org"));
        assert_eq!(
            sample(&text, "mailroom_gmail_errors_total{reason=\"other\"}"),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                "mailroom_gmail_errors_total{reason=\"invalid_grant\"}"
            ),
            Some(1.0)
        );
        assert_eq!(
            sample(
                &text,
                "mailroom_oauth_token_refreshes_total{outcome=\"error\"}"
            ),
            Some(1.0)
        );
    }

    #[test]
    fn queue_stats_set_the_gauges_and_the_mirrored_counter() {
        let m = metrics();
        let at = chrono::DateTime::from_timestamp_millis(1_700_000_000_500).unwrap();
        let stats = QueueStats {
            ready: 3,
            scheduled: 2,
            in_flight: 1,
            dead: 4,
            oldest_ready_age: None,
            oldest_ready_at: Some(at),
            workers: 1,
            enqueued: 42,
        };
        m.queue_stats(&stats);
        m.queue_stats(&stats);
        let text = m.render();
        assert_eq!(sample(&text, "mailroom_jobs_enqueued_total"), Some(42.0));
        assert_eq!(
            sample(&text, "mailroom_queue_jobs{state=\"dead\"}"),
            Some(4.0)
        );
        assert_eq!(
            sample(&text, "mailroom_queue_oldest_ready_timestamp_seconds"),
            Some(1_700_000_000.5)
        );
    }
}
