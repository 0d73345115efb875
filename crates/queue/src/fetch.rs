//! The fetcher: promotes due jobs, takes over expired leases, reads new deliveries with a
//! blocking read on its own connection, and starts them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use apalis_core::task::Task;
use apalis_core::task::builder::TaskBuilder;
use apalis_core::task::task_id::TaskId;
use mailroom_jobs::EmailJob;

use crate::QueueError;
use crate::activity::Event;
use crate::decode::{Decoded, decode_all};
use crate::fetch_conn::FetchConn;
use crate::keys::GROUP;
use crate::lease::{Delivery, Lease, LeaseSlot};
use crate::prescreen::{RoundScreening, prescreen};
use crate::queue::{Queue, ms, now_ms};
use crate::read_ahead::ReadAhead;
use crate::read_size::{Demand, next_count};
use crate::schedule::Schedule;
use crate::settle::Notes;
use crate::start::{Read, Record, judge, load_payloads, records, stream_reads};
use crate::takeover::takeover;
use crate::tracker::Tracker;
use crate::verdict::Verdict;

/// What a delivery's record says, beside its job, and what its fetch round's screening found.
struct Counts {
    attempts: u32,
    deliveries: u32,
    created_ms: i64,
    bytes: usize,
    screened: Option<(RoundScreening, usize)>,
}

pub(crate) struct Fetcher {
    queue: Queue,
    /// Blocking reads hold a connection; they get their own so acks never wait behind them.
    conn: FetchConn,
    pub consumer: String,
    tracker: Tracker,
    schedule: Schedule,
    /// Most bytes of jobs (payload, metadata and tags as stored) held at once.
    pub max_held_bytes: usize,
    /// Deliveries read but not started for want of room in the budget, in stream order.
    deferred: VecDeque<Read>,
    /// The next batch, read while a full one starts.
    ahead: ReadAhead,
    /// Whether each round's jobs are screened against the suppression list as they start.
    pub screen: bool,
    /// How many deliveries the next read asks for (see [`crate::read_size`]).
    count: usize,
    /// Whether the handlers ran out of jobs while the last read was on its way (set by the
    /// backend as it starts a round).
    pub hungry: bool,
}

/// Default of [`Fetcher::max_held_bytes`]: 64 MiB.
pub(crate) const DEFAULT_MAX_HELD_BYTES: usize = 64 << 20;

impl Fetcher {
    pub async fn open(
        queue: Queue,
        consumer: String,
        tracker: Tracker,
    ) -> Result<Self, QueueError> {
        let conn = FetchConn::open(&queue).await?;
        let count = queue.config().batch;
        Ok(Self {
            queue,
            conn,
            consumer,
            tracker,
            schedule: Schedule::default(),
            max_held_bytes: DEFAULT_MAX_HELD_BYTES,
            deferred: VecDeque::new(),
            ahead: ReadAhead::default(),
            screen: false,
            count,
            hungry: false,
        })
    }

    /// One fetch round: returns the started tasks, possibly none (the read timed out).
    pub async fn round(&mut self) -> Result<Vec<Task<Box<EmailJob>>>, QueueError> {
        let round = self.try_round().await;
        self.conn.end_round().await;
        match round {
            Err(QueueError::Redis(e))
                if e.code() == Some("NOGROUP") || e.to_string().contains("NOGROUP") =>
            {
                tracing::warn!("consumer group missing (redis restarted empty?); recreating it");
                self.queue.ensure_group().await?;
                Ok(Vec::new())
            }
            other => other,
        }
    }

    async fn try_round(&mut self) -> Result<Vec<Task<Box<EmailJob>>>, QueueError> {
        // Nothing new is read while the budget is spent or deferred deliveries wait: they go
        // first, in order, as leases end.
        if self.tracker.held_bytes() >= self.max_held_bytes {
            self.wait_for_room().await;
            return Ok(Vec::new());
        }
        if !self.deferred.is_empty() {
            let entries: Vec<Read> = std::mem::take(&mut self.deferred)
                .into_iter()
                .filter(|r| self.tracker.undefer(&r.entry))
                .collect();
            let tasks = self.begin(entries).await?;
            if tasks.is_empty() && !self.deferred.is_empty() {
                self.wait_for_room().await;
            }
            return Ok(tasks);
        }
        let cfg = self.queue.config();
        let (promote_batch, tick, block, batch) = (
            cfg.promote_batch,
            ms(cfg.schedule_tick),
            ms(cfg.block),
            cfg.batch,
        );
        let reclaim_every = ms(cfg.lease / 4).min(5_000);
        let now = now_ms();
        if self.schedule.promote_due(now) {
            let (moved, next_due) = self.queue.promote().await?;
            self.schedule
                .promoted(now, moved, promote_batch, next_due, tick);
        }
        if self.schedule.reclaim_due(now) {
            let claimed = takeover(&self.queue, &mut self.conn, &self.consumer).await?;
            self.schedule.reclaimed(now, reclaim_every);
            if !claimed.is_empty() {
                return self.begin(claimed).await;
            }
        }
        if let Some(ahead) = self.ahead.take(&self.tracker).await {
            let (reads, records) = ahead?;
            self.read_ahead_after(reads.len(), batch);
            return self.begin_with(reads, records).await;
        }
        let wait = self.schedule.read_wait(now_ms(), block);
        let read = self.read_cmd(usize::try_from(wait).unwrap_or(0));
        let entries = stream_reads(read.query_async(&mut self.conn).await?);
        self.read_ahead_after(entries.len(), batch);
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        self.begin(entries).await
    }

    /// After a read of `read` deliveries: a full batch means more are likely waiting, so the
    /// next batch is read while this one starts (asking for more when this read was full).
    fn read_ahead_after(&mut self, read: usize, batch: usize) {
        let demand = Demand {
            hungry: self.hungry,
            roomy: self.tracker.held_bytes() < self.max_held_bytes / 4,
        };
        self.count = next_count(read, self.count, demand, self.queue.config());
        if read >= batch {
            self.ahead
                .start(&self.queue, self.read_cmd(0), self.tracker.clone());
        }
    }

    /// Hands back the deliveries read ahead and not started: the worker is stopping.
    pub async fn release_ahead(&mut self) {
        self.ahead.release(&self.tracker).await;
    }

    /// Waits until a lease ends, at most one blocking read's time.
    async fn wait_for_room(&self) {
        let _ = tokio::time::timeout(self.queue.config().block, self.tracker.freed()).await;
    }

    /// The read of the next batch, blocking for at most `block_ms` (0: not at all).
    fn read_cmd(&self, block_ms: usize) -> redis::Cmd {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(GROUP)
            .arg(&self.consumer)
            .arg("COUNT")
            .arg(self.count);
        if block_ms > 0 {
            cmd.arg("BLOCK").arg(block_ms);
        }
        cmd.arg("STREAMS").arg(&self.queue.keys().ready).arg(">");
        cmd
    }

    /// Starts read deliveries: one pipelined read of their records, then a verdict for each
    /// (see [`crate::start`]).
    async fn begin(&mut self, reads: Vec<Read>) -> Result<Vec<Task<Box<EmailJob>>>, QueueError> {
        let records = records(&mut self.conn, self.queue.keys(), &reads).await?;
        self.begin_with(reads, records).await
    }

    /// Starts read deliveries whose records were read.
    async fn begin_with(
        &mut self,
        reads: Vec<Read>,
        records: Vec<Record>,
    ) -> Result<Vec<Task<Box<EmailJob>>>, QueueError> {
        let now = now_ms();
        let mut budget = self
            .max_held_bytes
            .saturating_sub(self.tracker.held_bytes());
        let mut alone = self.tracker.is_empty();
        let mut deferring = false;
        // Deliveries that run, with what their records say.
        let mut run_list = Vec::with_capacity(reads.len());
        let mut settles = Vec::new();
        for (r, (record, stored)) in reads.into_iter().zip(records) {
            match judge(&r, &record, now) {
                Verdict::Run {
                    attempts,
                    deliveries,
                    created_ms,
                } => {
                    let bytes = stored.unwrap_or_else(|| r.payload.as_ref().map_or(0, Vec::len));
                    if stored.is_some() && (deferring || (!alone && bytes > budget)) {
                        deferring = true;
                        self.tracker.defer(&r.entry);
                        self.deferred.push_back(r);
                        continue;
                    }
                    alone = false;
                    budget = budget.saturating_sub(bytes);
                    let deliveries = deliveries.saturating_add(r.delivered);
                    let counts = Counts {
                        attempts,
                        deliveries,
                        created_ms,
                        bytes,
                        screened: None,
                    };
                    run_list.push((r, counts));
                }
                Verdict::Skip(state) => {
                    let event = if state == "cancelled" {
                        Event::Cancelled
                    } else {
                        Event::Duplicate
                    };
                    self.queue.record(event, 1);
                    tracing::debug!(job = %r.id, %state, "delivery skipped: job already {state}");
                    settles.push((r, "skip"));
                }
                Verdict::Missing => {
                    self.queue.record(Event::Missing, 1);
                    tracing::warn!(job = %r.id, entry = %r.entry, "delivery without a job record dropped");
                    settles.push((r, "skip"));
                }
                Verdict::Expired => {
                    self.queue.record(Event::Expired, 1);
                    tracing::info!(job = %r.id, "job expired before it could be sent");
                    settles.push((r, "expired"));
                }
                Verdict::Malformed(reason) => {
                    self.dead_letter(&r.entry, &r.id, &reason).await?;
                }
            }
        }
        self.settle_unstarted(settles).await?;
        let waiting = run_list.iter_mut().map(|(r, _)| r);
        load_payloads(&mut self.conn, self.queue.keys(), waiting).await?;
        let pending = run_list
            .iter_mut()
            .map(|(r, _)| (r.id.clone(), r.payload.take()))
            .collect();
        let decoded = decode_all(pending).await;
        let round = self
            .screen
            .then(|| prescreen(&self.queue, &decoded))
            .flatten();
        let mut tasks = Vec::with_capacity(run_list.len());
        for (place, ((r, mut counts), decoded)) in run_list.into_iter().zip(decoded).enumerate() {
            counts.screened = round.clone().map(|round| (round, place));
            if let Some(task) = self.start(r.entry, &r.id, decoded, counts).await? {
                tasks.push(task);
            }
        }
        Ok(tasks)
    }

    /// Acknowledges deliveries that do not run (`skip`, `expired`), together.
    async fn settle_unstarted(&self, settles: Vec<(Read, &'static str)>) -> Result<(), QueueError> {
        if settles.is_empty() {
            return Ok(());
        }
        let retention = self.queue.config().retention.as_secs().max(1).to_string();
        let settler = self.tracker.settler();
        let done = futures::future::join_all(settles.iter().map(|(r, outcome)| {
            settler.settle(
                &r.entry,
                &r.id,
                outcome,
                [&retention, "", ""],
                Notes::default(),
            )
        }))
        .await;
        done.into_iter().try_for_each(|d| d.map(drop))
    }

    /// Makes a decoded job a task, or dead-letters it with the decode error.
    async fn start(
        &mut self,
        entry: String,
        id: &str,
        decoded: Decoded,
        counts: Counts,
    ) -> Result<Option<Task<Box<EmailJob>>>, QueueError> {
        match decoded {
            Ok((job_id, job)) => {
                let delivery = Delivery {
                    entry,
                    id: job_id,
                    attempts: counts.attempts,
                    deliveries: counts.deliveries,
                    enqueued_at: crate::status::ms_to_time(counts.created_ms),
                    bytes: counts.bytes,
                    kept: crate::done::Kept::of(&job),
                    screened: counts.screened,
                };
                let lease = Lease::new(self.queue.clone(), delivery, self.tracker.clone());
                let task = TaskBuilder::new(job)
                    .task_id(TaskId::from_string(job_id.to_string()))
                    .attempt(counts.attempts as usize)
                    .data(LeaseSlot(Arc::new(Mutex::new(Some(lease)))))
                    .build();
                Ok(Some(task))
            }
            Err(reason) => {
                self.dead_letter(&entry, id, &reason).await?;
                Ok(None)
            }
        }
    }

    /// Dead-letters a delivered job that cannot run, with `reason`.
    async fn dead_letter(&mut self, entry: &str, id: &str, reason: &str) -> Result<(), QueueError> {
        tracing::error!(job = %id, %reason, "dead-lettering undecodable job");
        let changed = self
            .tracker
            .settler()
            .settle(entry, id, "dead", [reason, "", ""], Notes::default())
            .await?;
        if changed >= 0 {
            self.queue.record(Event::Undecodable, 1);
        }
        Ok(())
    }
}
