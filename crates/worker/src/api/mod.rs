//! `mailroom api`: the HTTP API on a listener of its own (`[api] listen`), for services in
//! any language and for operators. It shares the queue crate and the config with the worker,
//! and the listener's hardening ([`crate::serve`]) with every other listener.
//!
//! - `keys`: the key file, scopes and per-key sender allowlists; `auth`: who is calling;
//! - `messages`: `POST /v1/messages` and `/v1/messages/batch`; `jobs`: `GET` and `DELETE
//!   /v1/messages/{id}`; `queue`: `GET /v1/queue`; `dead`: `/v1/dead…`; `senders`:
//!   `GET /v1/senders`; `templates`: `/v1/templates…`; `unsubscribe`: `/u/{token}`, the
//!   one-click unsubscribe link (no key);
//! - `problem`: errors as `application/problem+json`; `metrics`: the API's `/metrics`;
//! - `doc`: the OpenAPI document; `schema`: the schemas of answers that come from the queue
//!   crate;
//! - `console`: the operator console, server-rendered HTML at `/`.

pub mod auth;
pub mod console;
pub mod dead;
pub mod doc;
pub mod jobs;
pub mod keys;
pub mod messages;
pub mod metrics;
pub mod problem;
pub mod queue;
pub mod schema;
pub mod senders;
pub mod templates;
pub mod unsubscribe;

use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use mailroom_enqueue::Client;
use mailroom_queue::Queue;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

use crate::config::Config;
use keys::ApiKeys;
use metrics::HttpMetrics;

/// What the handlers share. One allocation: axum clones the state for every request (and
/// for each layer it passes), so a clone is one reference count.
#[derive(Debug, Clone)]
pub struct ApiState(Arc<Shared>);

/// The parts of [`ApiState`], reached through it.
#[derive(Debug)]
pub struct Shared {
    /// The keys of `api.keys_file`.
    pub keys: Arc<ApiKeys>,
    /// Enqueues and cancels, with the policy of `[jobs]`.
    pub client: Client,
    /// Reads the queue (status, stats, dead letters, senders).
    pub queue: Queue,
    /// The configuration.
    pub config: Arc<Config>,
    /// The API's metrics.
    pub metrics: HttpMetrics,
    /// Opens one-click unsubscribe tokens (`[unsubscribe]`), when configured.
    pub unsubscribe: Option<Arc<crate::unsubscribe::Unsubscriber>>,
    /// The console's session key and enrollment flow.
    pub console: Arc<console::Console>,
}

impl std::ops::Deref for ApiState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl ApiState {
    /// Connects to the queue of `config` with `keys`.
    ///
    /// # Errors
    /// Redis unreachable, or a bad `[jobs]` policy.
    pub async fn connect(config: Config, keys: ApiKeys) -> anyhow::Result<Self> {
        let policy = config.policy()?;
        crate::credentials::check_redis_tls_key(&config)?;
        let url = config.redis.url.expose();
        let client = Client::connect_with(url, config.queue_config(), policy)
            .await
            .with_context(|| format!("redis unavailable at {}", config.redis.url))?;
        let queue = Queue::connect(url, config.queue_config())
            .await
            .with_context(|| format!("redis unavailable at {}", config.redis.url))?;
        let console = console::Console::from_config(&config, &queue)?;
        Ok(Self(Arc::new(Shared {
            keys: Arc::new(keys),
            console: Arc::new(console),
            client,
            queue,
            unsubscribe: crate::unsubscribe::Unsubscriber::from_config(&config)?.map(Arc::new),
            config: Arc::new(config),
            metrics: HttpMetrics::new(),
        })))
    }
}

/// Every route of the API, within its body limits, counted, with `X-Request-Id` echoed (or
/// minted) and every error answer as `application/problem+json`.
pub fn router(state: ApiState) -> Router {
    let api = &state.config.api;
    let single = DefaultBodyLimit::max(api.max_body_bytes);
    let v1 = Router::new()
        .route("/v1/messages", post(messages::send).layer(single))
        .route(
            "/v1/messages/batch",
            post(messages::send_batch).layer(DefaultBodyLimit::max(api.max_batch_bytes)),
        )
        .route("/v1/messages/{id}", get(jobs::status).delete(jobs::cancel))
        .route("/v1/queue", get(queue::stats))
        .route("/v1/dead", get(dead::list))
        .route("/v1/dead/retry", post(dead::retry).layer(single))
        .route("/v1/dead/purge", post(dead::purge).layer(single))
        .route("/v1/senders", get(senders::list))
        .route("/v1/templates", get(templates::list))
        .route(
            "/v1/templates/{name}",
            get(templates::get)
                .put(templates::put)
                .delete(templates::delete)
                .layer(single),
        )
        .route(
            "/v1/templates/{name}/preview",
            post(templates::preview).layer(single),
        )
        .route("/v1/openapi.json", get(doc::openapi))
        .route(
            "/u/{token}",
            get(unsubscribe::confirm).post(unsubscribe::unsubscribe),
        )
        .route("/livez", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(state.clone())
        .merge(console::routes(&state));
    let metrics = state.metrics.clone();
    v1.route("/metrics", get(metrics::render).with_state(metrics.clone()))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::track,
        ))
}

/// `GET /readyz`: 200 while Redis answers.
async fn readyz(State(state): State<ApiState>) -> impl IntoResponse {
    let text = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
    match state.queue.ping().await {
        Ok(()) => (StatusCode::OK, text, "ready\n".to_owned()),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            text,
            format!("not ready\nredis: {e}\n"),
        ),
    }
}

/// The API's router as the listener serves it: the bounds of `[http]` and `[api]`, then
/// every answer (those of the bounds included) given a request id and, for errors, the
/// problem format.
fn served(state: ApiState) -> Router {
    let limits = state.config.api.limits(&state.config.http);
    crate::serve::bound(router(state), limits)
        .layer(axum::middleware::from_fn(problem::normalize))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// Runs `mailroom api` until `shutdown` resolves.
///
/// # Errors
/// `[api] listen` off or taken, the key file missing, open to others or malformed, or Redis
/// unreachable at start.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let keys_file = config.api.keys_file.clone().ok_or_else(|| {
        anyhow::anyhow!(
            "api.keys_file: not set; create a key with `mailroom api new-key ID --scopes send,read` \
             and put its line in a file"
        )
    })?;
    let keys = ApiKeys::load(&keys_file, config.credentials.allow_group_readable_secrets)
        .map_err(anyhow::Error::msg)?;
    if keys.is_empty() {
        tracing::warn!(file = %keys_file.display(), "api.keys_file holds no key: every request is refused");
    }
    let listener = crate::http::bind_key("api.listen", config.api.listen)
        .await?
        .ok_or_else(|| anyhow::anyhow!("api.listen: is off; `mailroom api` needs a listener"))?;
    let state = ApiState::connect(config, keys).await?;
    serve(listener, state, shutdown).await
}

/// Serves the API on `listener` until `shutdown` resolves; then requests under way get a
/// second to finish.
///
/// # Errors
/// The listener's address cannot be read.
pub async fn serve(
    listener: TcpListener,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let addr = listener
        .local_addr()
        .context("reading the api listener's address")?;
    let limits = state.config.api.limits(&state.config.http);
    tracing::info!(
        addr = %addr,
        keys = state.keys.len(),
        queue = %state.config.queue.name,
        redis = %state.config.redis.url,
        "http api listening"
    );
    let stop = CancellationToken::new();
    let serving = tokio::spawn(crate::serve::serve_bounded(
        listener,
        served(state),
        limits,
        stop.clone(),
    ));
    shutdown.await;
    stop.cancel();
    let _ = serving.await;
    tracing::info!("http api stopped");
    Ok(())
}
