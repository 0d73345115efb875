#![doc = include_str!("../README.md")]

pub mod admin;
mod admissions;
pub mod api;
pub mod bounces;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod enroll;
pub mod gate;
pub mod google_http;
pub mod handler;
pub mod health;
pub mod http;
pub mod logline;
pub mod metrics;
pub mod minutes;
pub mod notify;
mod ops;
pub mod outcome;
pub mod pool_choice;
pub mod pools;
pub mod resend_check;
pub mod screen;
pub mod sender_slots;
pub mod serve;
pub mod signal;
pub mod telemetry;
pub mod transport;
pub mod unsubscribe;

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use apalis::prelude::{WorkerBuilder, WorkerBuilderExt};
use mailroom_queue::{Queue, RedisBackend};
use tokio_util::sync::CancellationToken;

pub use config::Config;
pub use handler::{Handler, handle};
pub use metrics::Metrics;

/// Runs a worker until `shutdown` resolves, then stops cleanly: no new jobs are fetched,
/// in-flight sends get up to `worker.shutdown_grace` to finish, and whatever the worker still
/// holds goes back to the queue at once (not after its lease).
///
/// # Errors
/// Redis unreachable at start, the HTTP listener's address taken, or the worker failing for
/// good.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    run_with(config, shutdown, http::Extras::default()).await
}

/// [`run`] with extra routes and readiness checks on the HTTP listener (`[http] listen`),
/// which serves `/metrics`, `/livez` and `/readyz` from before the first fetch until the worker
/// has stopped. Under systemd (`NOTIFY_SOCKET`) it also sends `READY=1` once registered,
/// `WATCHDOG=1` while the worker loop is alive, and `STOPPING=1` when draining starts.
///
/// # Errors
/// As [`run`].
pub async fn run_with(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
    mut extras: http::Extras,
) -> anyhow::Result<()> {
    let listener = http::bind(&config.http).await?;
    let onboarding = http::bind_key(
        "credentials.onboarding_listen",
        config.credentials.onboarding_listen,
    )
    .await?;
    credentials::check_redis_tls_key(&config)?;
    let queue = Queue::connect(config.redis.url.expose(), config.queue_config())
        .await
        .with_context(|| format!("redis unavailable at {}", config.redis.url))?;
    let policy = config.policy()?;
    warn_any_sender(&policy);
    let metrics = Metrics::new(policy.allowed_senders.as_ref(), config.transport.kind);
    metrics.watch_pools(
        pools::Pools::from_config(&config.pools),
        config.sender_limits(),
    );
    let listed: Vec<String> = policy
        .allowed_senders
        .as_ref()
        .map(|list| list.addresses().map(str::to_owned).collect())
        .unwrap_or_default();
    let (handler, gmail) = build_handler(&config, &queue, policy, &metrics, &mut extras)?;
    let counting = CancellationToken::new();
    let minutes = tokio::spawn(minutes::run(
        queue.clone(),
        metrics.clone(),
        counting.clone(),
    ));
    let mut ops = ops::Ops::start(
        listener,
        onboarding,
        &config.http,
        metrics.clone(),
        queue.clone(),
        extras,
    )?;
    let backend = RedisBackend::new(queue.clone(), &config.worker.name)
        .await
        .with_context(|| format!("registering the worker at {}", config.redis.url))?
        .max_held_bytes(config.worker.max_held_bytes)
        .screen_on_fetch(true);
    let tracker = backend.tracker();
    let reading = CancellationToken::new();
    let reader = gmail.filter(|_| config.gmail.read_bounces).map(|gmail| {
        let reader = bounces::BounceReader::new(
            queue.clone(),
            gmail,
            metrics.clone(),
            backend.consumer().to_owned(),
            config.gmail.bounce_poll,
            listed,
        );
        tokio::spawn(reader.run(reading.clone()))
    });
    ops.started();
    tracing::info!(
        consumer = backend.consumer(),
        queue = %config.queue.name,
        redis = %config.redis.url,
        transport = config.transport.kind.as_str(),
        concurrency = config.worker.concurrency,
        "worker started"
    );
    let worker = WorkerBuilder::new(config.worker.name.as_str())
        .backend(backend)
        .concurrency(config.worker.concurrency)
        .data(Arc::new(handler))
        .build(handle);

    let stopping = CancellationToken::new();
    let signal = {
        let stopping = stopping.clone();
        async move {
            shutdown.await;
            stopping.cancel();
            Ok::<(), std::io::Error>(())
        }
    };
    let mut work = Box::pin(worker.run_until(signal));
    let grace = config.shutdown_grace();
    let (result, drained) = drive(&mut work, &ops, &stopping, grace, &tracker).await;
    // What the worker still holds, taken before its sends are aborted (an aborted send drops
    // its lease, which takes the delivery out of the tracker); then it all goes back.
    let held = tracker.snapshot();
    drop(work);
    let released = release(&queue, &tracker, &held).await;
    counting.cancel();
    let _ = minutes.await;
    reading.cancel();
    if let Some(reader) = reader {
        let _ = reader.await;
    }
    ops.stop().await;
    tracing::info!(drained, released, "worker stopped");
    result.context("the worker failed")
}

/// Says at start that `jobs.allowed_senders` is `"*"`: any sender the credentials can act as.
fn warn_any_sender(policy: &mailroom_jobs::Policy) {
    if policy
        .allowed_senders
        .as_ref()
        .is_some_and(mailroom_jobs::SenderAllowlist::allows_any)
    {
        tracing::warn!(
            "jobs.allowed_senders is \"*\": a job may send as any sender the credentials can act as \
             (with domain-wide delegation, any user of the domain); list the senders instead"
        );
    }
}

/// The handler `config` describes, sending through its transport; for Gmail also the sender
/// gate, the credentials' readiness check and, when configured, the web enrollment routes
/// (`extras.onboarding`, for the onboarding listener), and the gmail transport itself (the
/// bounce reader reads through it).
fn build_handler(
    config: &Config,
    queue: &Queue,
    policy: mailroom_jobs::Policy,
    metrics: &Metrics,
    extras: &mut http::Extras,
) -> anyhow::Result<(Handler, Option<Arc<transport::GmailTransport>>)> {
    let refreshed = Arc::new(credentials::CredentialHealth::default());
    let refreshes: credentials::RefreshHook = {
        let (metrics, refreshed) = (metrics.clone(), refreshed.clone());
        Arc::new(move |ok| {
            metrics.token_refresh(crate::metrics::TokenOutcome::of(ok));
            refreshed.record(ok);
        })
    };
    let gmail = if config.transport.kind == config::TransportKind::Gmail {
        Some(
            transport::build_gmail(config, queue, refreshes.clone())
                .context("loading the gmail credentials")?,
        )
    } else {
        None
    };
    let transport: Arc<dyn transport::Transport> = match &gmail {
        Some(gmail) => gmail.clone(),
        None => transport::build(config, queue, refreshes).context("building the transport")?,
    };
    let mut handler = Handler::new(transport, policy, config.retry_policy(), metrics.clone())
        .with_quarantine_give_up(config.credentials.quarantine_give_up)
        .with_suppression(queue.clone())
        .with_unsubscribe(unsubscribe::Unsubscriber::from_config(config)?);
    if config.transport.kind == config::TransportKind::Gmail {
        handler = handler
            .with_gate(gate::Gate::new(queue.clone(), config.sender_limits()))
            .with_sender_concurrency(config.quota.sender_concurrency)
            .with_check_before_resend(config.gmail.check_before_resend)
            .with_pools(pools::Pools::from_config(&config.pools));
        if config.quota.shared_sender_concurrency {
            handler =
                handler.with_shared_sender_concurrency(queue.clone(), config.google.timeout * 4);
        }
        extras
            .checks
            .push(Arc::new(health::CredentialsCheck(refreshed)));
        if config.credentials.kind == config::CredentialKind::AuthorizedUser
            && config.credentials.admin_token_file.is_some()
        {
            let flow = enroll::WebFlow::from_config(config, queue.clone())?;
            extras.onboarding = Some(enroll::routes(flow));
        }
    }
    Ok((handler, gmail))
}

/// Drives the worker loop `work` until it ends or `stopping` is cancelled; then it drains
/// for up to `grace`. Returns the loop's result (`Ok` when the grace ran out) and whether it
/// ended within its time.
async fn drive<E>(
    work: &mut Pin<Box<impl Future<Output = Result<(), E>>>>,
    ops: &ops::Ops,
    stopping: &CancellationToken,
    grace: Duration,
    tracker: &mailroom_queue::Tracker,
) -> (Result<(), E>, bool) {
    let finished = tokio::select! {
        result = ops.health().beating(&mut *work) => Some(result),
        () = stopping.cancelled() => None,
    };
    if let Some(result) = finished {
        return (result, true);
    }
    ops.draining();
    tracing::info!(held = tracker.len(), grace = ?grace, "stopping: fetching stopped, waiting for in-flight sends");
    match tokio::time::timeout(grace, ops.health().beating(&mut *work)).await {
        Ok(result) => (result, true),
        Err(_) => (Ok(()), false),
    }
}

/// Hands back what a stopping worker held, retrying briefly if Redis is away; returns how
/// many deliveries went back.
async fn release(
    queue: &Queue,
    tracker: &mailroom_queue::Tracker,
    held: &[(String, mailroom_jobs::JobId)],
) -> usize {
    for delay in [100, 500, 2000, 0] {
        match queue.release_held(tracker, held).await {
            Ok(released) => return released,
            Err(e) if delay > 0 => {
                tracing::warn!(error = %e, held = held.len(), "handing back held jobs failed; retrying");
                tokio::time::sleep(Duration::from_millis(delay)).await;
            }
            Err(e) => tracing::warn!(
                error = %e,
                held = held.len(),
                "could not hand back held jobs; they return when their lease runs out"
            ),
        }
    }
    0
}
