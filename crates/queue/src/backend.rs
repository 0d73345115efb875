//! The apalis backend: feeds a worker with deliveries from the queue, absorbs Redis outages,
//! keeps leases alive, and hands back what it holds when the worker stops.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use apalis_core::backend::finalize::Ephemeral;
use apalis_core::backend::{Backend, BackendConfig};
use apalis_core::task::Task;
use apalis_core::worker::context::WorkerContext;
use futures::FutureExt;
use futures::future::BoxFuture;
use mailroom_jobs::{EmailJob, JobId};
use tokio::task::JoinHandle;
use tower_layer::Identity;

use crate::activity::Event;
use crate::backoff::fetch_backoff;
use crate::fetch::Fetcher;
use crate::keeper::{heartbeat, keep};
use crate::keys::GROUP;
use crate::lease::LeaseSlot;
use crate::queue::Queue;
use crate::scripts::{call, run};
use crate::settle::Notes;
use crate::tracker::Tracker;
use crate::{QueueConfig, QueueError};

/// A fetch round runs on a task of its own, so the next batch is fetched while the worker
/// still works through the current one.
type Round = JoinHandle<(Fetcher, Result<Vec<Task<Box<EmailJob>>>, QueueError>)>;

/// The queue as an apalis [`Backend`]: build a worker with
/// `WorkerBuilder::new(name).backend(RedisBackend::new(queue, name).await?)`.
/// Handlers take the job, boxed (`Box<EmailJob>`: a job is about 600 bytes, and a task moves
/// several times on its way to its handler), and a [`Lease`](crate::Lease) argument, and
/// record the job's outcome through the lease.
pub struct RedisBackend {
    queue: Queue,
    consumer: String,
    tracker: Tracker,
    fetcher: Option<Fetcher>,
    round: Option<Round>,
    buffer: VecDeque<Task<Box<EmailJob>>>,
    /// The next round starts once at most this many tasks wait: as many as the last round
    /// brought, and at least `batch`.
    refill_at: usize,
    /// Whether the buffer ran dry while a round was on its way, since the last round started.
    starved: bool,
    /// Whether any task has gone to a handler yet (the first round starves no one).
    fed: bool,
    backoff: Option<Pin<Box<tokio::time::Sleep>>>,
    failures: u32,
    keeper: JoinHandle<()>,
    close: Option<BoxFuture<'static, ()>>,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("queue", &self.queue)
            .field("consumer", &self.consumer)
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}

impl RedisBackend {
    /// Registers a worker named `name` (a unique consumer `name-<ulid>` is derived from it, so
    /// restarts under the same name always work) and opens its blocking-read connection.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn new(queue: Queue, name: &str) -> Result<Self, QueueError> {
        let consumer = format!("{name}-{}", JobId::new());
        let tracker = Tracker::new(queue.clone(), consumer.clone());
        let fetcher = Fetcher::open(queue.clone(), consumer.clone(), tracker.clone()).await?;
        heartbeat(&queue, &consumer).await?;
        let keeper = tokio::spawn(keep(queue.clone(), consumer.clone(), tracker.clone()));
        let refill_at = queue.config().batch;
        Ok(Self {
            queue,
            consumer,
            tracker,
            fetcher: Some(fetcher),
            round: None,
            buffer: VecDeque::new(),
            refill_at,
            starved: false,
            fed: false,
            backoff: None,
            failures: 0,
            keeper,
            close: None,
        })
    }

    /// Bounds the bytes of the jobs this worker holds at once (fetched, waiting for a handler
    /// or being handled), counted as their payload, metadata and tags are stored in Redis.
    /// Fetching stops while the budget is spent; a job larger than the whole budget is still
    /// taken, alone, so none starves. Default 64 MiB.
    #[must_use]
    pub fn max_held_bytes(mut self, bytes: usize) -> Self {
        if let Some(fetcher) = self.fetcher.as_mut() {
            fetcher.max_held_bytes = bytes;
        }
        self
    }

    /// Screens each fetch round's jobs against the suppression list as they start, in one
    /// lookup for the round, and hands each job's answer to its handler on its lease
    /// ([`Lease::screened`](crate::Lease::screened)). Off by default: a worker that screens
    /// its jobs turns it on.
    #[must_use]
    pub fn screen_on_fetch(mut self, screen: bool) -> Self {
        if let Some(fetcher) = self.fetcher.as_mut() {
            fetcher.screen = screen;
        }
        self
    }

    /// The deliveries this worker holds; see [`Queue::release_held`].
    #[must_use]
    pub fn tracker(&self) -> Tracker {
        self.tracker.clone()
    }

    /// The consumer name this worker reads under.
    #[must_use]
    pub fn consumer(&self) -> &str {
        &self.consumer
    }
}

impl RedisBackend {
    /// Starts a fetch round unless one is running or a backoff is pending.
    fn start_round(&mut self) {
        if self.round.is_some() || self.backoff.is_some() {
            return;
        }
        if let Some(mut fetcher) = self.fetcher.take() {
            fetcher.hungry = std::mem::take(&mut self.starved);
            self.round = Some(tokio::spawn(async move {
                let result = fetcher.round().await;
                (fetcher, result)
            }));
        }
    }
}

impl Drop for RedisBackend {
    fn drop(&mut self) {
        self.keeper.abort();
        if let Some(round) = &self.round {
            round.abort();
        }
    }
}

impl Backend for RedisBackend {
    type Task = Task<Box<EmailJob>>;
    type Error = QueueError;

    fn poll_ready(
        &mut self,
        _: &mut Context<'_>,
        _: &WorkerContext,
    ) -> Poll<Result<(), QueueError>> {
        Poll::Ready(Ok(()))
    }

    fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        _: &WorkerContext,
    ) -> Poll<Option<Result<Self::Task, QueueError>>> {
        loop {
            if let Some(task) = self.buffer.pop_front() {
                // The next round starts once at most one round's worth waits, so the handlers
                // do not run dry while a read is on its way (at most two rounds' worth wait
                // here, and a third read may be ahead: see `read_ahead`).
                if self.buffer.len() <= self.refill_at {
                    self.start_round();
                }
                self.fed = true;
                return Poll::Ready(Some(Ok(task)));
            }
            if let Some(sleep) = self.backoff.as_mut() {
                ready!(sleep.as_mut().poll(cx));
                self.backoff = None;
            }
            self.start_round();
            let Some(round) = self.round.as_mut() else {
                unreachable!("a round is running once started")
            };
            let Poll::Ready(joined) = round.poll_unpin(cx) else {
                // Handlers that had jobs wait for this round: the next read may ask for more.
                self.starved = self.fed;
                return Poll::Pending;
            };
            self.round = None;
            let (fetcher, result) = match joined {
                Ok(done) => done,
                // The round panicked: a bug. End the worker rather than run without a fetcher.
                Err(e) => {
                    return Poll::Ready(Some(Err(QueueError::Protocol(format!(
                        "fetch round failed: {e}"
                    )))));
                }
            };
            self.fetcher = Some(fetcher);
            match result {
                Ok(tasks) => {
                    if self.failures > 0 {
                        tracing::info!("redis reachable again; fetching resumed");
                    }
                    self.failures = 0;
                    self.refill_at = tasks.len().max(self.queue.config().batch);
                    self.buffer.extend(tasks);
                }
                Err(e) => {
                    self.queue.record(Event::RedisError, 1);
                    self.failures += 1;
                    let delay = fetch_backoff(self.failures);
                    tracing::warn!(error = %e, retry_in = ?delay, "fetching from redis failed");
                    self.backoff = Some(Box::pin(tokio::time::sleep(delay)));
                }
            }
        }
    }

    fn poll_close(
        &mut self,
        cx: &mut Context<'_>,
        _: &WorkerContext,
    ) -> Poll<Result<(), QueueError>> {
        let close = self.close.get_or_insert_with(|| {
            let round = self.round.take();
            let mut fetcher = self.fetcher.take();
            let mut held: Vec<Task<Box<EmailJob>>> = self.buffer.drain(..).collect();
            let queue = self.queue.clone();
            let consumer = self.consumer.clone();
            let tracker = self.tracker.clone();
            self.keeper.abort();
            async move {
                // A blocking read in progress ends within `block`; with a long `block`, stop
                // waiting after a moment: whatever it then delivers returns after its lease.
                if let Some(mut round) = round {
                    let wait = queue.config().block.min(Duration::from_secs(2));
                    match tokio::time::timeout(wait, &mut round).await {
                        Ok(Ok((done, tasks))) => {
                            held.extend(tasks.unwrap_or_default());
                            fetcher = Some(done);
                        }
                        Ok(Err(_)) => {}
                        Err(_) => round.abort(),
                    }
                }
                if let Some(fetcher) = fetcher.as_mut() {
                    fetcher.release_ahead().await;
                }
                for task in held {
                    let lease = task.ctx().data().get::<LeaseSlot>().and_then(|s| s.0.lock().ok()?.take());
                    if let Some(lease) = lease
                        && let Err(e) = lease.release().await
                    {
                        tracing::warn!(error = %e, "could not hand back a fetched job; it returns after its lease");
                    }
                }
                // Outcomes the handlers left to be written in the background land before the
                // worker counts as stopped (each retries for at most a lease time).
                tracker.flushed().await;
                if let Err(e) = deregister(&queue, &consumer).await {
                    queue.record(Event::RedisError, 1);
                    tracing::warn!(error = %e, "could not deregister the worker");
                }
            }
            .boxed()
        });
        ready!(close.poll_unpin(cx));
        Poll::Ready(Ok(()))
    }
}

impl BackendConfig for RedisBackend {
    type Args = Box<EmailJob>;
    type Id = JobId;
    type Kind = Ephemeral;
    type Config = QueueConfig;
    type Layer = Identity;

    fn config(&self) -> &QueueConfig {
        self.queue.config()
    }

    fn middleware(&mut self, _: &mut WorkerContext) -> Identity {
        Identity::new()
    }
}

async fn deregister(queue: &Queue, consumer: &str) -> Result<(), QueueError> {
    let i = &queue.inner;
    let mut inv = call(&i.scripts.deregister, &i.keys);
    inv.arg(GROUP).arg(consumer);
    let _: i64 = run(&inv, &mut queue.conn()).await?;
    Ok(())
}

impl Queue {
    /// Hands deliveries a stopping worker held (a [`Tracker::snapshot`] taken before its
    /// sends were aborted) back to the ready stream, so they need not wait for their lease to
    /// run out. Deliveries settled meanwhile are left alone. Returns how many went back.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn release_held(
        &self,
        tracker: &Tracker,
        held: &[(String, JobId)],
    ) -> Result<usize, QueueError> {
        let ids: Vec<String> = held.iter().map(|(_, id)| id.to_string()).collect();
        let pairs: Vec<(&str, &str)> = held
            .iter()
            .zip(&ids)
            .map(|((entry, _), id)| (entry.as_str(), id.as_str()))
            .collect();
        release(tracker, &pairs).await
    }
}

/// Hands deliveries (stream entry, job id) held under `tracker`'s consumer back to the ready
/// stream, all at once; those settled meanwhile are left alone. Returns how many went back.
pub(crate) async fn release(tracker: &Tracker, held: &[(&str, &str)]) -> Result<usize, QueueError> {
    let settler = tracker.settler();
    let answers =
        futures::future::join_all(held.iter().map(|(entry, id)| {
            settler.settle(entry, id, "release", ["", "", ""], Notes::default())
        }))
        .await;
    let mut released = 0;
    for answer in answers {
        if answer? >= 0 {
            released += 1;
        }
    }
    Ok(released)
}
