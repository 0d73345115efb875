//! A delivered job's lease: the handle a worker uses to record the job's outcome.

use std::sync::{Arc, Mutex};

use apalis_core::task::Task;
use apalis_core::task::from_request::FromRequest;
use chrono::{DateTime, Utc};
use mailroom_jobs::{EmailJob, JobId};

use crate::QueueError;
use crate::activity::Event;
use crate::backoff::ConnectionRetry;
use crate::done::Kept;
use crate::prescreen::RoundScreening;
use crate::queue::Queue;
use crate::settle::{Notes, Outcome};
use crate::suppression::Suppression;
use crate::tracker::Tracker;

/// One delivery of a job to this worker. Record exactly one outcome with [`Lease::sent`],
/// [`Lease::retry_at`], [`Lease::dead`] or [`Lease::release`]; each is one atomic script that
/// records the outcome and acknowledges the delivery together. A lease dropped without an
/// outcome is redelivered after the queue's lease time.
#[derive(Debug)]
pub struct Lease {
    queue: Queue,
    entry: String,
    id: JobId,
    attempts: u32,
    deliveries: u32,
    enqueued_at: DateTime<Utc>,
    tracker: Tracker,
    /// The recipients the suppression list dropped (JSON), recorded with a `sent`.
    suppressed: Option<String>,
    /// What the job's done record keeps of it (metadata, tags, expiry).
    kept: Kept,
    /// Its fetch round's lookup in the suppression list, and the job's place in it.
    screened: Option<(RoundScreening, usize)>,
}

/// What the fetcher learned about a delivery when it started it.
#[derive(Debug)]
pub(crate) struct Delivery {
    pub entry: String,
    pub id: JobId,
    pub attempts: u32,
    pub deliveries: u32,
    pub enqueued_at: DateTime<Utc>,
    /// The job's payload, metadata and tags as stored, counted against the worker's budget.
    pub bytes: usize,
    /// What the job's done record keeps of it once sent.
    pub kept: Kept,
    /// Its fetch round's lookup in the suppression list, and the job's place in it.
    pub screened: Option<(RoundScreening, usize)>,
}

impl Lease {
    pub(crate) fn new(queue: Queue, d: Delivery, tracker: Tracker) -> Self {
        tracker.add(&d.entry, d.id, d.bytes);
        Self {
            queue,
            entry: d.entry,
            id: d.id,
            attempts: d.attempts,
            deliveries: d.deliveries,
            enqueued_at: d.enqueued_at,
            tracker,
            suppressed: None,
            kept: d.kept,
            screened: d.screened,
        }
    }

    /// Notes the recipients the suppression list dropped from the job before it was sent to
    /// the rest: `suppressed` (JSON of the suppressions, as [`Lease::suppressed`] takes it) is
    /// written to the record's `suppressed` with the job's [`Lease::sent`].
    pub fn note_suppressed(&mut self, suppressed: String) {
        self.suppressed = Some(suppressed);
    }

    /// The job's recipients on the suppression list, looked up when this worker fetched it
    /// (the lookup of its whole fetch round, see [`RedisBackend::screen_on_fetch`], waited
    /// for here if it has not answered yet); `None` when it was not looked up then
    /// (transactional, screening off, or the lookup failed).
    ///
    /// [`RedisBackend::screen_on_fetch`]: crate::RedisBackend::screen_on_fetch
    pub async fn screened(&self) -> Option<Vec<Suppression>> {
        match &self.screened {
            Some((round, place)) => round.answer(*place).await,
            None => None,
        }
    }

    /// When the job was enqueued (a dead-letter retry keeps the original time).
    #[must_use]
    pub fn enqueued_at(&self) -> DateTime<Utc> {
        self.enqueued_at
    }

    /// The job's id.
    #[must_use]
    pub fn job_id(&self) -> JobId {
        self.id
    }

    /// Failed attempts before this one.
    #[must_use]
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// How many times the job has been delivered, this delivery included.
    #[must_use]
    pub fn deliveries(&self) -> u32 {
        self.deliveries
    }

    /// Records the job as sent (with the transport's message and thread ids) and acknowledges it.
    /// When another delivery of the job was recorded as sent first (this worker's lease ran
    /// out and both copies went out), the record keeps the first transport id and lists this
    /// one in `duplicate_ids`, and the duplicate is counted in
    /// [`QueueActivity::duplicate_sends`](crate::QueueActivity::duplicate_sends).
    ///
    /// # Errors
    /// Redis stayed unreachable for a whole lease time.
    pub async fn sent(
        self,
        transport_id: Option<&str>,
        thread_id: Option<&str>,
    ) -> Result<(), QueueError> {
        self.sent_as(transport_id, thread_id, None).await
    }

    /// [`Lease::sent`], recording also the mailbox that sent the job (`sent_as`) when its
    /// From is a sender pool's address.
    ///
    /// # Errors
    /// As [`Lease::sent`].
    pub async fn sent_as(
        self,
        transport_id: Option<&str>,
        thread_id: Option<&str>,
        sent_as: Option<&str>,
    ) -> Result<(), QueueError> {
        let retention = self.retention();
        let answer = self
            .finish_as(
                sent_as.unwrap_or(""),
                "sent",
                [
                    &retention,
                    transport_id.unwrap_or(""),
                    thread_id.unwrap_or(""),
                ],
            )
            .await?;
        self.note_sent(answer, transport_id);
        Ok(())
    }

    /// Counts and logs a `sent` that found the job already recorded as sent (answer 1).
    fn note_sent(&self, answer: i64, transport_id: Option<&str>) {
        if answer == 1 {
            self.queue.record(Event::DuplicateSend, 1);
            tracing::warn!(
                job = %self.id,
                transport_id = transport_id.unwrap_or(""),
                "job sent twice: another delivery was recorded as sent first (its lease had run out)"
            );
        }
    }

    /// [`Lease::sent_as`] without waiting for Redis: the outcome joins the worker's next batch
    /// of outcomes and the caller's concurrency slot is free at once. The delivery stays held
    /// (renewed, and counted in the byte budget) until it is written, and the worker's backend
    /// waits for every such write before it stops; see [`Tracker::flushed`]. When Redis cannot
    /// be reached, a task of its own retries as [`Lease::sent_as`] does; a failure is logged:
    /// the delivery then stays pending, and once its lease runs out its next delivery finds the
    /// job's done record or, when the record did not land either, sends it again.
    pub fn sent_in_background(
        self,
        transport_id: Option<&str>,
        thread_id: Option<&str>,
        sent_as: Option<&str>,
    ) {
        let writing = self.tracker.writing();
        let retention = self.retention();
        let args = [
            retention.as_str(),
            transport_id.unwrap_or(""),
            thread_id.unwrap_or(""),
        ];
        let outcome = Outcome::new(
            &self.entry,
            &self.id.to_string(),
            "sent",
            args,
            self.notes("sent", sent_as.unwrap_or("")),
        );
        let owned = |s: Option<&str>| s.map(str::to_owned);
        let (transport_id, thread_id, sent_as) =
            (owned(transport_id), owned(thread_id), owned(sent_as));
        let settler = self.tracker.settler().clone();
        // The lease goes (out of the tracker) before `writing` does: `Tracker::flushed` returns
        // once the last write is done, and by then nothing of it may still be held.
        settler.settle_then(
            outcome,
            Box::new(move |answer| match answer {
                Ok(answer) => {
                    self.note_sent(answer, transport_id.as_deref());
                    drop(self);
                    drop(writing);
                }
                Err(e) if e.is_connection() => {
                    tracing::warn!(job = %self.id, error = %e, "recording outcome failed; retrying");
                    tokio::spawn(async move {
                        // `sent_as` logs a failure itself; nobody is left to hand it to.
                        let _ = self
                            .sent_as(
                                transport_id.as_deref(),
                                thread_id.as_deref(),
                                sent_as.as_deref(),
                            )
                            .await;
                        drop(writing);
                    });
                }
                Err(e) => {
                    self.failed("sent", &e);
                    drop(self);
                    drop(writing);
                }
            }),
        );
    }

    /// Schedules the job again at `at`, recording `error`; `spend_attempt` is false for delays
    /// that are not the job's fault (rate limits). Returns the attempts after the change.
    ///
    /// # Errors
    /// Redis stayed unreachable for a whole lease time.
    pub async fn retry_at(
        self,
        at: DateTime<Utc>,
        error: &str,
        spend_attempt: bool,
    ) -> Result<u32, QueueError> {
        let due = at.timestamp_millis().to_string();
        let spend = if spend_attempt { "1" } else { "0" };
        let n = self.finish("retry", [&due, error, spend]).await?;
        Ok(u32::try_from(n).unwrap_or(0))
    }

    /// Moves the job to the dead-letter set with `reason`.
    ///
    /// # Errors
    /// Redis stayed unreachable for a whole lease time.
    pub async fn dead(self, reason: &str) -> Result<(), QueueError> {
        self.finish("dead", [reason, "", ""]).await.map(drop)
    }

    /// Finishes the job unsent because every recipient is suppressed; `suppressed` (JSON of
    /// the recipients and their suppressions) is kept in its status, which then expires after
    /// `retention` like a sent job's.
    ///
    /// # Errors
    /// Redis stayed unreachable for a whole lease time.
    pub async fn suppressed(self, suppressed: &str) -> Result<(), QueueError> {
        let retention = self.retention();
        self.finish("suppressed", [&retention, suppressed, ""])
            .await
            .map(drop)
    }

    /// Hands the job back to the ready stream unsent, without spending an attempt.
    ///
    /// # Errors
    /// Redis stayed unreachable for a whole lease time.
    pub async fn release(self) -> Result<(), QueueError> {
        self.finish("release", ["", "", ""]).await.map(drop)
    }

    /// Runs the outcome script, retrying connection failures with backoff for up to one lease
    /// time (the delivery cannot be redelivered while Redis is away anyway).
    async fn finish(&self, outcome: &'static str, args: [&str; 3]) -> Result<i64, QueueError> {
        self.finish_as("", outcome, args).await
    }

    /// [`Lease::finish`] with the mailbox that sent a pool's job.
    async fn finish_as(
        &self,
        sent_as: &str,
        outcome: &'static str,
        args: [&str; 3],
    ) -> Result<i64, QueueError> {
        let mut retry = ConnectionRetry::within(self.queue.config().lease);
        let id = self.id.to_string();
        loop {
            match self
                .tracker
                .settler()
                .settle(
                    &self.entry,
                    &id,
                    outcome,
                    args,
                    self.notes(outcome, sent_as),
                )
                .await
            {
                Err(e) if e.is_connection() && retry.has_time() => {
                    tracing::warn!(job = %self.id, error = %e, "recording outcome failed; retrying");
                    retry.wait().await;
                }
                Err(e) => {
                    self.failed(outcome, &e);
                    return Err(e);
                }
                done => return done,
            }
        }
    }

    /// What `outcome` records beside the delivery (for a `sent`, the suppressed recipients).
    fn notes<'a>(&'a self, outcome: &str, sent_as: &'a str) -> Notes<'a> {
        Notes {
            suppressed: self.suppressed.as_deref().filter(|_| outcome == "sent"),
            sent_as,
            deliveries: self.deliveries,
            attempts: self.attempts,
            created_ms: self.enqueued_at.timestamp_millis(),
            kept: Some(&self.kept),
        }
    }

    /// The queue's retention, in seconds, as a `sent` records it.
    fn retention(&self) -> String {
        self.queue.config().retention.as_secs().max(1).to_string()
    }

    /// Logs an outcome that could not be recorded.
    fn failed(&self, outcome: &str, e: &QueueError) {
        tracing::error!(
            job = %self.id, outcome, error = %e,
            "recording the outcome failed; the delivery stays pending and is taken over once its lease runs out"
        );
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.tracker.remove(&self.entry);
    }
}

/// Carries the lease inside an apalis task until the handler takes it out.
#[derive(Debug, Clone)]
pub(crate) struct LeaseSlot(pub Arc<Mutex<Option<Lease>>>);

/// The lease was already taken from this task (extracted twice).
#[derive(Debug, thiserror::Error)]
#[error("the task's lease was already taken")]
pub struct LeaseTaken;

impl FromRequest<Task<Box<EmailJob>>> for Lease {
    type Error = LeaseTaken;

    async fn from_request(task: &Task<Box<EmailJob>>) -> Result<Self, Self::Error> {
        task.ctx()
            .data()
            .get::<LeaseSlot>()
            .and_then(|slot| {
                slot.0
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .take()
            })
            .ok_or(LeaseTaken)
    }
}
