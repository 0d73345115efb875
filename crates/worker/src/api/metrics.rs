//! The API's own `/metrics`: `mailroom_http_requests_total{route,code}` and
//! `mailroom_http_request_duration_seconds{route}`, where `route` is the matched path
//! template (`/v1/messages/{id}`), never the raw path, so a client cannot mint series; and
//! `mailroom_unsubscribes_total{outcome}` for `POST /u/TOKEN`.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{Encoder as _, HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

/// The route label of requests that matched no route.
pub const UNMATCHED: &str = "unmatched";

/// The API's metrics, in a registry of their own. One allocation: the tracking layer's state
/// is cloned for every request.
#[derive(Debug, Clone)]
pub struct HttpMetrics(Arc<Families>);

/// The families of [`HttpMetrics`].
#[derive(Debug)]
struct Families {
    registry: Registry,
    requests: IntCounterVec,
    duration: HistogramVec,
    unsubscribes: IntCounterVec,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl HttpMetrics {
    /// Fresh counters.
    ///
    /// # Panics
    /// Never: the families are valid and registered once.
    #[must_use]
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "mailroom_http_requests_total",
                "Requests answered by the HTTP API, by route template and status code.",
            ),
            &["route", "code"],
        )
        .expect("valid counter");
        let duration = HistogramVec::new(
            HistogramOpts::new(
                "mailroom_http_request_duration_seconds",
                "Time to answer a request of the HTTP API, by route template.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ]),
            &["route"],
        )
        .expect("valid histogram");
        registry
            .register(Box::new(requests.clone()))
            .expect("registered once");
        registry
            .register(Box::new(duration.clone()))
            .expect("registered once");
        let unsubscribes = IntCounterVec::new(
            Opts::new(
                "mailroom_unsubscribes_total",
                "One-click unsubscribe requests (POST /u/TOKEN) answered, by outcome.",
            ),
            &["outcome"],
        )
        .expect("valid counter");
        for o in crate::metrics::UnsubscribeOutcome::ALL {
            unsubscribes.with_label_values(&[o.as_str()]);
        }
        registry
            .register(Box::new(unsubscribes.clone()))
            .expect("registered once");
        Self(Arc::new(Families {
            registry,
            requests,
            duration,
            unsubscribes,
        }))
    }

    /// Counts one answered unsubscribe request.
    pub fn unsubscribe(&self, outcome: crate::metrics::UnsubscribeOutcome) {
        self.0
            .unsubscribes
            .with_label_values(&[outcome.as_str()])
            .inc();
    }

    /// Counts one answer.
    pub fn observe(&self, route: &str, code: StatusCode, seconds: f64) {
        self.0
            .requests
            .with_label_values(&[route, code.as_str()])
            .inc();
        self.0.duration.with_label_values(&[route]).observe(seconds);
    }

    /// The Prometheus text format.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        let _ = prometheus::TextEncoder::new().encode(&self.0.registry.gather(), &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

/// Times and counts a request under its matched route (or [`UNMATCHED`]).
pub async fn track(State(metrics): State<HttpMetrics>, request: Request, next: Next) -> Response {
    // The matched path is shared (a reference count), not copied.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let started = Instant::now();
    let response = next.run(request).await;
    let route = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    metrics.observe(route, response.status(), started.elapsed().as_secs_f64());
    response
}

/// `GET /metrics`.
pub async fn render(State(metrics): State<HttpMetrics>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
        metrics.render(),
    )
}
