//! The families of this worker's deliveries: started, completed by outcome, the attempt they
//! ended at, in flight now, and how long the transport took. The handles a delivery records
//! into (each outcome's counter, the process's transport's histogram) are looked up once, at
//! registration, not per delivery.

use prometheus::{Histogram, HistogramOpts, HistogramVec, IntCounter, IntGauge};

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
    /// `mailroom_jobs_completed_total` of each outcome, in [`Outcome::ALL`]'s order.
    completed_by: [IntCounter; Outcome::ALL.len()],
    pub(super) duplicate_sends: IntCounter,
    attempts: Histogram,
    in_flight: IntGauge,
    send_duration: HistogramVec,
    /// `send_duration` of the process's transport.
    own_send_duration: (TransportKind, Histogram),
}

impl Jobs {
    /// Registers the families, every outcome and `transport` at 0.
    pub(super) fn register(r: &prometheus::Registry, transport: TransportKind) -> Self {
        let completed = counter_vec(
            r,
            "mailroom_jobs_completed_total",
            "Deliveries this worker finished, by outcome (sent, retried, dead, expired, cancelled, duplicate, suppressed).",
            &["outcome"],
        );
        let send_duration = register(
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
        );
        Self {
            started: counter(
                r,
                "mailroom_jobs_started_total",
                "Deliveries this worker started handling (those the sender gate holds back for quota count no outcome).",
            ),
            completed_by: Outcome::ALL.map(|o| completed.with_label_values(&[o.as_str()])),
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
            own_send_duration: (
                transport,
                send_duration.with_label_values(&[transport.as_str()]),
            ),
            send_duration,
        }
    }

    /// The counter of `outcome`.
    pub(super) fn completed(&self, outcome: Outcome) -> &IntCounter {
        let i = Outcome::ALL.iter().position(|o| *o == outcome);
        &self.completed_by[i.expect("ALL lists every outcome")]
    }

    pub(super) fn started(&self) {
        self.started.inc();
    }

    pub(super) fn finished(&self, outcome: Outcome, attempt: u32) {
        self.completed(outcome).inc();
        if matches!(outcome, Outcome::Sent | Outcome::Dead) {
            self.attempts.observe(f64::from(attempt));
        }
    }

    pub(super) fn in_flight_add(&self, delta: i64) {
        self.in_flight.add(delta);
    }

    pub(super) fn send_duration(&self, transport: TransportKind, seconds: f64) {
        match &self.own_send_duration {
            (own, histogram) if *own == transport => histogram.observe(seconds),
            _ => self
                .send_duration
                .with_label_values(&[transport.as_str()])
                .observe(seconds),
        }
    }
}
