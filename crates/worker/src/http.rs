//! The worker's HTTP listener (`[http] listen`): `GET /metrics` (Prometheus text format),
//! `GET /livez` (is the worker loop alive?) and `GET /readyz` (can it work: Redis answers and
//! every registered [`ReadyCheck`] passes). [`router`] builds the routes, so more (e.g. OAuth
//! onboarding) can be merged in; [`Extras`] carries them into [`crate::run_with`].
//!
//! Liveness never depends on Redis or Google: the task that drives the worker loop beats
//! every second ([`Health::beating`]); `/livez` fails when no beat came for
//! [`LIVENESS_TIMEOUT`]. Readiness is false while starting and while draining.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use futures::future::BoxFuture;
use mailroom_queue::Queue;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::HttpSection;
use crate::metrics::Metrics;

/// How long `/livez` tolerates the worker loop going without a beat before answering 503.
pub const LIVENESS_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the worker loop beats.
pub const BEAT_EVERY: Duration = Duration::from_secs(1);
/// How long one readiness check may take before it counts as failed.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(1);

/// A condition `/readyz` requires, e.g. "Redis answers" or "the Gmail credentials load".
pub trait ReadyCheck: Send + Sync {
    /// A short name shown in `/readyz` output when the check fails.
    fn name(&self) -> &str;
    /// `Ok` when ready; `Err` says what is wrong (no secrets). Runs on every `/readyz`
    /// request, under a [`CHECK_TIMEOUT`].
    fn check(&self) -> BoxFuture<'_, Result<(), String>>;
}

/// Redis answers `PING`.
#[derive(Debug, Clone)]
pub struct RedisCheck(pub Queue);

impl ReadyCheck for RedisCheck {
    fn name(&self) -> &str {
        "redis"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.0.ping().await.map_err(|e| e.to_string()) })
    }
}

/// Liveness and readiness of a worker; cheap to clone.
#[derive(Clone)]
pub struct Health(Arc<HealthInner>);

struct HealthInner {
    origin: Instant,
    /// How long the loop may go without a beat.
    timeout: Duration,
    /// Milliseconds since `origin` of the last beat.
    last_beat: AtomicU64,
    /// The worker loop runs (beats are expected).
    looping: AtomicBool,
    started: AtomicBool,
    draining: AtomicBool,
    checks: RwLock<Vec<Arc<dyn ReadyCheck>>>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("started", &self.0.started.load(Ordering::Relaxed))
            .field("draining", &self.0.draining.load(Ordering::Relaxed))
            .field("stalled_for", &self.stalled_for())
            .finish_non_exhaustive()
    }
}

impl Default for Health {
    fn default() -> Self {
        Self::new()
    }
}

impl Health {
    /// A worker that is starting: alive, not ready, no checks.
    #[must_use]
    pub fn new() -> Self {
        Self::with_timeout(LIVENESS_TIMEOUT)
    }

    fn with_timeout(timeout: Duration) -> Self {
        Self(Arc::new(HealthInner {
            origin: Instant::now(),
            timeout,
            last_beat: AtomicU64::new(0),
            looping: AtomicBool::new(false),
            started: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            checks: RwLock::new(Vec::new()),
        }))
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.0.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Records that the worker loop made progress.
    pub fn beat(&self) {
        self.0.last_beat.store(self.now_ms(), Ordering::Relaxed);
    }

    /// Polls `fut` (the worker loop) and beats every [`BEAT_EVERY`] from the same task, so
    /// the beats stop when that task stops being polled.
    pub async fn beating<F: Future>(&self, fut: F) -> F::Output {
        self.beat();
        self.0.looping.store(true, Ordering::Relaxed);
        let mut fut = std::pin::pin!(fut);
        let mut tick = tokio::time::interval(BEAT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                out = &mut fut => return out,
                _ = tick.tick() => self.beat(),
            }
        }
    }

    /// How long the worker loop has gone without a beat, when that is more than
    /// [`LIVENESS_TIMEOUT`]; `None` while it is alive (or not yet running).
    #[must_use]
    pub fn stalled_for(&self) -> Option<Duration> {
        if !self.0.looping.load(Ordering::Relaxed) {
            return None;
        }
        let since = Duration::from_millis(
            self.now_ms()
                .saturating_sub(self.0.last_beat.load(Ordering::Relaxed)),
        );
        (since > self.0.timeout).then_some(since)
    }

    /// Start-up is over: readiness now depends on the checks.
    pub fn set_started(&self) {
        self.0.started.store(true, Ordering::Relaxed);
    }

    /// The worker drains for shutdown: not ready any more.
    pub fn set_draining(&self) {
        self.0.draining.store(true, Ordering::Relaxed);
    }

    /// Adds a condition `/readyz` requires.
    pub fn add_check(&self, check: Arc<dyn ReadyCheck>) {
        self.0
            .checks
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .push(check);
    }

    /// `Ok` when ready, else every reason it is not (`name: problem`).
    ///
    /// # Errors
    /// The reasons, one per failed condition.
    pub async fn readiness(&self) -> Result<(), Vec<String>> {
        if self.0.draining.load(Ordering::Relaxed) {
            return Err(vec!["draining: the worker is shutting down".to_owned()]);
        }
        if !self.0.started.load(Ordering::Relaxed) {
            return Err(vec![
                "starting: the worker is not registered yet".to_owned(),
            ]);
        }
        let checks = self
            .0
            .checks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let results = futures::future::join_all(checks.iter().map(|c| async move {
            match tokio::time::timeout(CHECK_TIMEOUT, c.check()).await {
                Ok(Ok(())) => None,
                Ok(Err(problem)) => Some(format!("{}: {problem}", c.name())),
                Err(_) => Some(format!("{}: no answer within {CHECK_TIMEOUT:?}", c.name())),
            }
        }))
        .await;
        let failed: Vec<String> = results.into_iter().flatten().collect();
        if failed.is_empty() {
            Ok(())
        } else {
            Err(failed)
        }
    }
}

/// What the routes of [`router`] read.
#[derive(Debug, Clone)]
pub struct HttpState {
    /// Rendered by `/metrics`.
    pub metrics: Metrics,
    /// Answered by `/livez` and `/readyz`.
    pub health: Health,
}

/// The routes `GET /metrics`, `GET /livez` and `GET /readyz`. Merge more routes into the
/// result with [`Router::merge`].
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/livez", get(livez))
        .route("/readyz", get(readyz))
        .with_state(state)
}

async fn metrics(State(state): State<HttpState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, prometheus::TEXT_FORMAT)],
        state.metrics.render(),
    )
}

const TEXT: [(header::HeaderName, &str); 1] = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];

async fn livez(State(state): State<HttpState>) -> impl IntoResponse {
    match state.health.stalled_for() {
        None => (StatusCode::OK, TEXT, "ok\n".to_owned()),
        Some(stalled) => (
            StatusCode::SERVICE_UNAVAILABLE,
            TEXT,
            format!(
                "stuck: the worker loop has not run for {:.1}s\n",
                stalled.as_secs_f64()
            ),
        ),
    }
}

async fn readyz(State(state): State<HttpState>) -> impl IntoResponse {
    match state.health.readiness().await {
        Ok(()) => (StatusCode::OK, TEXT, "ready\n".to_owned()),
        Err(problems) => {
            let mut body = "not ready\n".to_owned();
            for p in problems {
                let _ = writeln!(body, "{p}");
            }
            (StatusCode::SERVICE_UNAVAILABLE, TEXT, body)
        }
    }
}

/// What an embedding adds to the listener: routes merged into [`router`]'s, and readiness
/// checks on top of "Redis answers".
#[derive(Default)]
pub struct Extras {
    /// Extra routes (merged; their paths must not clash with the built-in ones).
    pub routes: Router,
    /// Extra readiness conditions.
    pub checks: Vec<Arc<dyn ReadyCheck>>,
}

impl std::fmt::Debug for Extras {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extras")
            .field(
                "checks",
                &self.checks.iter().map(|c| c.name()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// Binds the listener `[http] listen` asks for; `None` when it is `off`.
///
/// # Errors
/// The address is taken or not available; the message names `http.listen`.
pub async fn bind(config: &HttpSection) -> anyhow::Result<Option<TcpListener>> {
    let Some(addr) = config.listen else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            " (another process, perhaps another mailroom, holds it; set http.listen to another address or \"off\")"
        } else {
            ""
        };
        anyhow::anyhow!("http.listen: cannot listen on {addr}: {e}{hint}")
    })?;
    Ok(Some(listener))
}

/// A running listener; [`Server::stop`] ends it.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Server {
    /// Serves `router` on `listener` from a task of its own.
    ///
    /// # Errors
    /// The listener's address cannot be read.
    pub fn start(listener: TcpListener, router: Router) -> anyhow::Result<Self> {
        let addr = listener
            .local_addr()
            .context("reading the http listener's address")?;
        let stop = CancellationToken::new();
        let until = stop.clone().cancelled_owned();
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router)
                .with_graceful_shutdown(until)
                .await
            {
                tracing::error!(error = %e, "the http listener failed");
            }
        });
        tracing::info!(addr = %addr, "http listener serving /metrics, /livez, /readyz");
        Ok(Self { addr, stop, task })
    }

    /// The address it listens on (with the real port when port 0 was asked for).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, lets requests under way finish for up to a second, then ends.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if tokio::time::timeout(Duration::from_secs(1), &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}

/// The operations side of a running worker: the listener, its health, the metrics refresher
/// and the systemd notifications. Driven by [`crate::run_with`].
pub(crate) struct Ops {
    health: Health,
    metrics: Metrics,
    queue: Queue,
    refresh: Duration,
    server: Option<Server>,
    tasks: Vec<JoinHandle<()>>,
}

impl Ops {
    /// Starts serving on `listener` (if any), with Redis and `extras`' checks for readiness.
    pub(crate) fn start(
        listener: Option<TcpListener>,
        config: &HttpSection,
        metrics: Metrics,
        queue: Queue,
        extras: Extras,
    ) -> anyhow::Result<Self> {
        let health = Health::new();
        health.add_check(Arc::new(RedisCheck(queue.clone())));
        for check in extras.checks {
            health.add_check(check);
        }
        metrics.watch_queue(&queue);
        let server = match listener {
            Some(listener) => {
                let state = HttpState {
                    metrics: metrics.clone(),
                    health: health.clone(),
                };
                Some(Server::start(listener, router(state).merge(extras.routes))?)
            }
            None => None,
        };
        Ok(Self {
            health,
            metrics,
            queue,
            refresh: config.refresh,
            server,
            tasks: Vec::new(),
        })
    }

    /// The worker's health.
    pub(crate) fn health(&self) -> &Health {
        &self.health
    }

    /// The worker is registered: ready, `READY=1`, metrics refreshed from Redis, watchdog on.
    pub(crate) fn started(&mut self) {
        self.health.set_started();
        if self.server.is_some() {
            let (metrics, queue, every) = (self.metrics.clone(), self.queue.clone(), self.refresh);
            self.tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    metrics.refresh(&queue).await;
                }
            }));
        }
        crate::notify::ready();
        self.tasks
            .extend(crate::notify::spawn_watchdog(self.health.clone()));
    }

    /// Draining starts: not ready, `STOPPING=1`.
    pub(crate) fn draining(&self) {
        self.health.set_draining();
        crate::notify::stopping();
    }

    /// Ends the listener and the background tasks.
    pub(crate) async fn stop(mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
    }
}

impl Drop for Ops {
    /// A worker that failed half-way through starting leaves nothing running.
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
        if let Some(server) = &self.server {
            server.stop.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(&'static str, Result<(), String>, Duration);

    impl ReadyCheck for Fixed {
        fn name(&self) -> &str {
            self.0
        }

        fn check(&self) -> BoxFuture<'_, Result<(), String>> {
            Box::pin(async move {
                tokio::time::sleep(self.2).await;
                self.1.clone()
            })
        }
    }

    #[tokio::test]
    async fn readiness_needs_the_start_every_check_and_no_drain() {
        let health = Health::new();
        let starting = health.readiness().await.unwrap_err();
        assert!(starting[0].starts_with("starting: "), "{starting:?}");
        health.set_started();
        assert_eq!(health.readiness().await, Ok(()));

        health.add_check(Arc::new(Fixed("fine", Ok(()), Duration::ZERO)));
        health.add_check(Arc::new(Fixed(
            "broken",
            Err("no token".into()),
            Duration::ZERO,
        )));
        health.add_check(Arc::new(Fixed(
            "slow",
            Ok(()),
            CHECK_TIMEOUT + Duration::from_millis(500),
        )));
        let failed = health.readiness().await.unwrap_err();
        assert_eq!(
            failed,
            ["broken: no token", "slow: no answer within 1s"],
            "every failed check, in order"
        );

        health.set_draining();
        let draining = health.readiness().await.unwrap_err();
        assert!(draining[0].starts_with("draining: "), "{draining:?}");
    }

    #[tokio::test]
    async fn a_loop_without_beats_is_stalled() {
        let health = Health::with_timeout(Duration::from_millis(100));
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(health.stalled_for(), None, "not running yet: alive");
        health
            .beating(tokio::time::sleep(Duration::from_millis(20)))
            .await;
        assert_eq!(health.stalled_for(), None, "it beat when it started");
        // The loop's task is not polled any more.
        tokio::time::sleep(Duration::from_millis(250)).await;
        let stalled = health.stalled_for().expect("stalled");
        assert!(stalled >= Duration::from_millis(100), "{stalled:?}");
        health.beat();
        assert_eq!(health.stalled_for(), None);
    }
}
