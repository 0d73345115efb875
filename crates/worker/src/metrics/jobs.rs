//! The families of this worker's deliveries: started, completed by outcome, the attempt they
//! ended at, in flight now, and how long the transport took.

use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge};

use super::labels::Outcome;
use super::{counter, counter_vec, register};
use crate::config::TransportKind;

/// Buckets of `mailroom_job_attempts`.
const ATTEMPT_BUCKETS: &[f64] = &[1.0, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0];

/// Buckets of `mailroom_send_duration_seconds`: 1 ms to 60 s.
const SEND_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

pub(super) struct Jobs {
    started: IntCounter,
    pub(super) completed: IntCounterVec,
    pub(super) duplicate_sends: IntCounter,
    attempts: Histogram,
    in_flight: IntGauge,
    send_duration: HistogramVec,
}

impl Jobs {
    /// Registers the families, every outcome and `transport` at 0.
    pub(super) fn register(r: &prometheus::Registry, transport: TransportKind) -> Self {
        let jobs = Self {
            started: counter(
                r,
                "mailroom_jobs_started_total",
                "Deliveries this worker started handling (those the sender gate holds back for quota count no outcome).",
            ),
            completed: counter_vec(
                r,
                "mailroom_jobs_completed_total",
                "Deliveries this worker finished, by outcome (sent, retried, dead, expired, cancelled, duplicate).",
                &["outcome"],
            ),
            duplicate_sends: counter(
                r,
                "mailroom_duplicate_sends_total",
                "Sends this worker recorded for a job another delivery had already recorded as sent (both copies went out after a lease takeover).",
            ),
            attempts: register(
                r,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "mailroom_job_attempts",
                        "The attempt at which a job was sent or dead-lettered (1 = the first).",
                    )
                    .buckets(ATTEMPT_BUCKETS.to_vec()),
                )
                .expect("a valid histogram"),
            ),
            in_flight: register(
                r,
                IntGauge::new(
                    "mailroom_jobs_in_flight",
                    "Jobs this worker is handling now.",
                )
                .expect("a valid gauge"),
            ),
            send_duration: register(
                r,
                HistogramVec::new(
                    HistogramOpts::new(
                        "mailroom_send_duration_seconds",
                        "Time the transport took to accept or refuse a message.",
                    )
                    .buckets(SEND_BUCKETS.to_vec()),
                    &["transport"],
                )
                .expect("a valid histogram"),
            ),
        };
        for outcome in Outcome::ALL {
            jobs.completed.with_label_values(&[outcome.as_str()]);
        }
        jobs.send_duration.with_label_values(&[transport.as_str()]);
        jobs
    }

    pub(super) fn started(&self) {
        self.started.inc();
    }

    pub(super) fn finished(&self, outcome: Outcome, attempt: u32) {
        self.completed.with_label_values(&[outcome.as_str()]).inc();
        if matches!(outcome, Outcome::Sent | Outcome::Dead) {
            self.attempts.observe(f64::from(attempt));
        }
    }

    pub(super) fn in_flight_add(&self, delta: i64) {
        self.in_flight.add(delta);
    }

    pub(super) fn send_duration(&self, transport: TransportKind, seconds: f64) {
        self.send_duration
            .with_label_values(&[transport.as_str()])
            .observe(seconds);
    }
}
