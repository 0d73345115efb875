//! The worker's HTTP listener (`[http] listen`): `GET /metrics` (Prometheus text format),
//! `GET /livez` (is the worker loop alive?) and `GET /readyz` (can it work: Redis answers and
//! every registered [`ReadyCheck`] passes; see [`crate::health`]). [`router`] builds the
//! routes, so more (e.g. the web enrollment flow) can be merged in; [`Extras`] carries them
//! into [`crate::run_with`]. [`bind`] opens a listener, [`Server`] serves it within the
//! bounds of [`crate::serve`].

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::HttpSection;
use crate::health::{Health, ReadyCheck};
use crate::metrics::Metrics;
use crate::serve::{Limits, serve};

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
/// checks on top of "Redis answers"; and what the worker serves on the onboarding listener
/// (`credentials.onboarding_listen`).
#[derive(Default)]
pub struct Extras {
    /// Extra routes (merged; their paths must not clash with the built-in ones).
    pub routes: Router,
    /// Extra readiness conditions.
    pub checks: Vec<Arc<dyn ReadyCheck>>,
    /// Routes of the onboarding listener (the web enrollment flow), when there is one.
    pub onboarding: Option<Router>,
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
    bind_key("http.listen", config.listen).await
}

/// Binds `addr`, the value of the config key `key`; `None` when it is `off`.
///
/// # Errors
/// The address is taken or not available; the message names `key`.
pub async fn bind_key(key: &str, addr: Option<SocketAddr>) -> anyhow::Result<Option<TcpListener>> {
    let Some(addr) = addr else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr).await.map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
            format!(
                " (another process, perhaps another mailroom, holds it; set {key} to another \
                 address or \"off\")"
            )
        } else {
            String::new()
        };
        anyhow::anyhow!("{key}: cannot listen on {addr}: {e}{hint}")
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
    /// Serves `router` on `listener` within `limits` from a task of its own; `what` names it
    /// in the log.
    ///
    /// # Errors
    /// The listener's address cannot be read.
    pub fn start(
        listener: TcpListener,
        router: Router,
        limits: Limits,
        what: &str,
    ) -> anyhow::Result<Self> {
        let addr = listener
            .local_addr()
            .context("reading the http listener's address")?;
        let stop = CancellationToken::new();
        let task = tokio::spawn(serve(listener, router, limits, stop.clone()));
        tracing::info!(addr = %addr, "http listener serving {what}");
        Ok(Self { addr, stop, task })
    }

    /// The address it listens on (with the real port when port 0 was asked for).
    #[must_use]
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting new connections; [`Server::stop`] also waits for the end.
    pub fn cancel(&self) {
        self.stop.cancel();
    }

    /// Stops accepting, lets requests under way finish for up to a second, then ends.
    pub async fn stop(mut self) {
        self.stop.cancel();
        if tokio::time::timeout(Duration::from_secs(2), &mut self.task)
            .await
            .is_err()
        {
            self.task.abort();
        }
    }
}
