//! The operations side of a running worker ([`Ops`]): the HTTP listener with its health, the
//! onboarding listener (the web enrollment flow, when configured), the task that refreshes the queue gauges from Redis every `[http] refresh`, and the systemd
//! notifications (`READY=1`, the watchdog, `STOPPING=1`), from start-up to the end of the
//! drain.

use std::sync::Arc;
use std::time::Duration;

use mailroom_queue::Queue;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::config::HttpSection;
use crate::health::{Health, RedisCheck};
use crate::http::{Extras, HttpState, Server, router};
use crate::metrics::Metrics;
use crate::notify;

/// The operations side of a running worker: the listener, its health, the metrics refresher
/// and the systemd notifications. Driven by [`crate::run_with`].
pub(crate) struct Ops {
    health: Health,
    metrics: Metrics,
    queue: Queue,
    refresh: Duration,
    server: Option<Server>,
    onboarding: Option<Server>,
    tasks: Vec<JoinHandle<()>>,
}

impl Ops {
    /// Starts serving on `listener` (if any), with Redis and `extras`' checks for readiness,
    /// and `extras`' onboarding routes on `onboarding` (if both are there).
    pub(crate) fn start(
        listener: Option<TcpListener>,
        onboarding: Option<TcpListener>,
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
                Some(Server::start(
                    listener,
                    router(state).merge(extras.routes),
                    config.limits(),
                    "/metrics, /livez, /readyz",
                )?)
            }
            None => None,
        };
        let onboarding = match (onboarding, extras.onboarding) {
            (Some(listener), Some(routes)) => Some(Server::start(
                listener,
                routes,
                config.limits(),
                "the enrollment flow: /oauth2/start, /oauth2/callback",
            )?),
            _ => None,
        };
        Ok(Self {
            health,
            metrics,
            queue,
            refresh: config.refresh,
            server,
            onboarding,
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
            self.tasks.push(spawn_refresher(
                self.metrics.clone(),
                self.queue.clone(),
                self.refresh,
            ));
        }
        notify::ready();
        self.tasks
            .extend(notify::spawn_watchdog(self.health.clone()));
    }

    /// Draining starts: not ready, `STOPPING=1`.
    pub(crate) fn draining(&self) {
        self.health.set_draining();
        notify::stopping();
    }

    /// Ends the listener and the background tasks.
    pub(crate) async fn stop(mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
        if let Some(server) = self.server.take() {
            server.stop().await;
        }
        if let Some(server) = self.onboarding.take() {
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
        for server in self.server.iter().chain(&self.onboarding) {
            server.cancel();
        }
    }
}

/// A task that reads the queue's stats into `metrics` every `every`.
fn spawn_refresher(metrics: Metrics, queue: Queue, every: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            metrics.refresh(&queue).await;
        }
    })
}
