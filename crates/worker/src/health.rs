//! Liveness and readiness: [`Health`] answers `/livez` and `/readyz` (see [`crate::http`]),
//! and [`ReadyCheck`]s say what readiness needs: [`RedisCheck`] (Redis answers) and
//! [`CredentialsCheck`] (token refreshes work).
//!
//! Liveness never depends on Redis or Google: the task that drives the worker loop beats
//! every second ([`Health::beating`]); the loop counts as stuck when no beat came for
//! [`LIVENESS_TIMEOUT`]. Readiness is false while starting and while draining. The clock is
//! tokio's, so tests run on paused time.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use futures::future::BoxFuture;
use mailroom_queue::Queue;
use tokio::time::Instant;

use crate::credentials::CredentialHealth;

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

/// The readiness check over a shared [`CredentialHealth`]: ready unless token refreshes keep
/// failing.
#[derive(Debug, Clone)]
pub struct CredentialsCheck(pub Arc<CredentialHealth>);

impl ReadyCheck for CredentialsCheck {
    fn name(&self) -> &str {
        "credentials"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        let result = self.0.usable();
        Box::pin(async move { result })
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

    #[tokio::test(start_paused = true)]
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

    #[tokio::test(start_paused = true)]
    async fn a_loop_without_beats_is_stalled() {
        let health = Health::with_timeout(Duration::from_millis(100));
        tokio::time::advance(Duration::from_millis(150)).await;
        assert_eq!(health.stalled_for(), None, "not running yet: alive");
        health
            .beating(tokio::time::sleep(Duration::from_millis(20)))
            .await;
        assert_eq!(health.stalled_for(), None, "it beat when it started");
        // The loop's task is not polled any more.
        tokio::time::advance(Duration::from_millis(250)).await;
        let stalled = health.stalled_for().expect("stalled");
        assert!(stalled >= Duration::from_millis(100), "{stalled:?}");
        health.beat();
        assert_eq!(health.stalled_for(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_loop_that_is_polled_keeps_beating() {
        let health = Health::with_timeout(LIVENESS_TIMEOUT);
        health
            .beating(tokio::time::sleep(LIVENESS_TIMEOUT * 3))
            .await;
        assert_eq!(health.stalled_for(), None, "beats every {BEAT_EVERY:?}");
        tokio::time::advance(LIVENESS_TIMEOUT + BEAT_EVERY).await;
        assert!(health.stalled_for().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn the_credentials_check_follows_the_refreshes() {
        let credentials = Arc::new(CredentialHealth::default());
        let check = CredentialsCheck(credentials.clone());
        assert_eq!(check.check().await, Ok(()));
        credentials.record(false);
        let problem = check.check().await.unwrap_err();
        assert!(problem.starts_with("1 token refreshes failed"), "{problem}");
    }
}
