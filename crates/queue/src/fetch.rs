//! The fetcher: promotes due jobs, takes over expired leases, reads new deliveries with a
//! blocking read on its own connection, and starts them.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apalis_core::task::Task;
use apalis_core::task::builder::TaskBuilder;
use apalis_core::task::task_id::TaskId;
use mailroom_jobs::{EmailJob, JobId};
use redis::AsyncCommands;
use redis::streams::{StreamReadOptions, StreamReadReply};

use crate::QueueError;
use crate::activity::Event;
use crate::conn::Conn;
use crate::keys::GROUP;
use crate::lease::{Delivery, Lease, LeaseSlot};
use crate::queue::{Queue, ms, now_ms};
use crate::rows::{Row, Unreadable, rows};
use crate::schedule::Schedule;
use crate::scripts::{call, run};
use crate::tracker::Tracker;

pub(crate) struct Fetcher {
    queue: Queue,
    /// Blocking reads hold a connection; they get their own so acks never wait behind them.
    conn: Conn,
    pub consumer: String,
    tracker: Tracker,
    schedule: Schedule,
    /// Most bytes of jobs (payload, metadata and tags as stored) held at once.
    pub max_held_bytes: usize,
    /// Deliveries read but not started for want of room in the budget, in stream order.
    deferred: VecDeque<(String, String)>,
}

/// Default of [`Fetcher::max_held_bytes`]: 64 MiB.
pub(crate) const DEFAULT_MAX_HELD_BYTES: usize = 64 << 20;

impl Fetcher {
    pub async fn open(
        queue: Queue,
        consumer: String,
        tracker: Tracker,
    ) -> Result<Self, QueueError> {
        let timeout = queue.config().block + Duration::from_secs(5);
        let conn = Conn::open(&queue.inner.target, timeout).await?;
        Ok(Self {
            queue,
            conn,
            consumer,
            tracker,
            schedule: Schedule::default(),
            max_held_bytes: DEFAULT_MAX_HELD_BYTES,
            deferred: VecDeque::new(),
        })
    }

    /// One fetch round: returns the started tasks, possibly none (the read timed out).
    pub async fn round(&mut self) -> Result<Vec<Task<EmailJob>>, QueueError> {
        match self.try_round().await {
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

    async fn try_round(&mut self) -> Result<Vec<Task<EmailJob>>, QueueError> {
        // Nothing new is read while the budget is spent or deferred deliveries wait: they go
        // first, in order, as leases end.
        if self.tracker.held_bytes() >= self.max_held_bytes {
            self.wait_for_room().await;
            return Ok(Vec::new());
        }
        if !self.deferred.is_empty() {
            let entries: Vec<(String, String)> = std::mem::take(&mut self.deferred)
                .into_iter()
                .filter(|(entry, _)| self.tracker.undefer(entry))
                .collect();
            let tasks = self.begin(entries).await?;
            if tasks.is_empty() && !self.deferred.is_empty() {
                self.wait_for_room().await;
            }
            return Ok(tasks);
        }
        let cfg = self.queue.config();
        let (promote_batch, tick, block) =
            (cfg.promote_batch, ms(cfg.schedule_tick), ms(cfg.block));
        let reclaim_every = ms(cfg.lease / 4).min(5_000);
        let now = now_ms();
        if self.schedule.promote_due(now) {
            let (moved, next_due) = self.queue.promote().await?;
            self.schedule
                .promoted(now, moved, promote_batch, next_due, tick);
        }
        let mut entries = Vec::new();
        if self.schedule.reclaim_due(now) {
            entries = self.reclaim().await?;
            self.schedule.reclaimed(now, reclaim_every);
        }
        if entries.is_empty() {
            let wait = self.schedule.read_wait(now_ms(), block);
            entries = self.read(usize::try_from(wait).unwrap_or(0)).await?;
        }
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        self.begin(entries).await
    }

    /// Waits until a lease ends, at most one blocking read's time.
    async fn wait_for_room(&self) {
        let _ = tokio::time::timeout(self.queue.config().block, self.tracker.freed()).await;
    }

    async fn read(&mut self, block_ms: usize) -> Result<Vec<(String, String)>, QueueError> {
        let mut opts = StreamReadOptions::default()
            .group(GROUP, &self.consumer)
            .count(self.queue.config().batch);
        if block_ms > 0 {
            opts = opts.block(block_ms);
        }
        let ready = &self.queue.keys().ready;
        let reply: Option<StreamReadReply> =
            self.conn.xread_options(&[ready], &[">"], &opts).await?;
        Ok(reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .map(|sid| {
                let id = sid.get::<String>("id").unwrap_or_default();
                (sid.id, id)
            })
            .collect())
    }

    async fn reclaim(&mut self) -> Result<Vec<(String, String)>, QueueError> {
        let q = &self.queue;
        let cfg = q.config();
        let mut inv = call(&q.inner.scripts.reclaim, q.keys());
        inv.arg(&q.keys().prefix)
            .arg(now_ms())
            .arg(GROUP)
            .arg(&self.consumer)
            .arg(ms(cfg.lease))
            .arg(cfg.max_deliveries)
            .arg(cfg.batch);
        let flat: Vec<String> = run(&inv, &mut self.conn).await?;
        let (poisoned, flat) = flat.split_first().map_or((0, &[][..]), |(n, rest)| {
            (n.parse::<u64>().unwrap_or(0), rest)
        });
        if poisoned > 0 {
            self.queue.record(Event::Poisoned, poisoned);
            tracing::warn!(
                count = poisoned,
                "dead-lettered jobs delivered too often without an outcome (poison)"
            );
        }
        let claimed: Vec<(String, String)> = flat
            .chunks_exact(2)
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect();
        if !claimed.is_empty() {
            tracing::info!(
                count = claimed.len(),
                "took over deliveries whose lease ran out"
            );
        }
        Ok(claimed)
    }

    async fn begin(
        &mut self,
        entries: Vec<(String, String)>,
    ) -> Result<Vec<Task<EmailJob>>, QueueError> {
        let q = self.queue.clone();
        let mut inv = call(&q.inner.scripts.begin, q.keys());
        inv.arg(&q.keys().prefix)
            .arg(now_ms())
            .arg(GROUP)
            .arg(q.config().retention.as_secs().max(1))
            .arg(&self.consumer)
            .arg(
                self.max_held_bytes
                    .saturating_sub(self.tracker.held_bytes()),
            )
            .arg(u8::from(self.tracker.is_empty()));
        for (entry, id) in &entries {
            inv.arg(entry).arg(id);
        }
        let reply: Vec<redis::Value> = run(&inv, &mut self.conn).await?;
        let mut tasks = Vec::with_capacity(reply.len());
        for row in rows(&reply) {
            match row {
                Ok(row) => {
                    if let Some(task) = self.started(row).await? {
                        tasks.push(task);
                    }
                }
                Err(unreadable) => self.unreadable(unreadable).await?,
            }
        }
        Ok(tasks)
    }

    /// Acts on one row of `begin.lua`'s answer: a task for a job that runs, a count and a log
    /// line for the others.
    async fn started(&mut self, row: Row) -> Result<Option<Task<EmailJob>>, QueueError> {
        let Row {
            entry, id, detail, ..
        } = &row;
        match row.verdict.as_str() {
            "run" => return self.start(row).await,
            "defer" => {
                self.tracker.defer(entry);
                self.deferred.push_back((entry.clone(), id.clone()));
            }
            "skip" => {
                let event = if detail == "cancelled" {
                    Event::Cancelled
                } else {
                    Event::Duplicate
                };
                self.queue.record(event, 1);
                tracing::debug!(job = %id, state = %detail, "delivery skipped: job already {detail}");
            }
            "expired" => {
                self.queue.record(Event::Expired, 1);
                tracing::info!(job = %id, "job expired before it could be sent");
            }
            "malformed" => {
                self.queue.record(Event::Undecodable, 1);
                tracing::error!(job = %id, reason = %detail, "dead-lettered a malformed job record");
            }
            _ => {
                self.queue.record(Event::Missing, 1);
                tracing::warn!(job = %id, entry = %entry, "delivery without a job record dropped");
            }
        }
        Ok(None)
    }

    /// Dead-letters the job of a row that could not be read; a row without even its entry and
    /// id is left pending, to be dead-lettered as poison after its deliveries.
    async fn unreadable(&mut self, row: Unreadable) -> Result<(), QueueError> {
        let Some((entry, id)) = row.entry_and_id else {
            tracing::error!(reason = %row.reason, "a started delivery could not be read");
            return Ok(());
        };
        self.dead_letter(&entry, &id, &row.reason).await
    }

    /// Decodes a started job into a task, or dead-letters it with the decode error.
    async fn start(&mut self, row: Row) -> Result<Option<Task<EmailJob>>, QueueError> {
        let Row {
            entry,
            id,
            detail: payload,
            attempts,
            deliveries,
            created_ms,
            bytes,
            ..
        } = row;
        // The id the record is stored under is the job's id: a payload without one takes it,
        // one that disagrees is dead-lettered (so every delivery renders one Message-ID).
        let decoded = id
            .parse::<JobId>()
            .map_err(|_| format!("malformed job id {id:?}"))
            .and_then(|job_id| {
                EmailJob::from_record(payload.as_bytes(), job_id)
                    .map(|job| (job_id, job))
                    .map_err(|e| format!("malformed payload: {e}"))
            });
        match decoded {
            Ok((job_id, job)) => {
                let delivery = Delivery {
                    entry,
                    id: job_id,
                    attempts,
                    deliveries,
                    enqueued_at: crate::status::ms_to_time(created_ms),
                    bytes,
                };
                let lease = Lease::new(self.queue.clone(), delivery, self.tracker.clone());
                let task = TaskBuilder::new(job)
                    .task_id(TaskId::from_string(job_id.to_string()))
                    .attempt(attempts as usize)
                    .data(LeaseSlot(Arc::new(Mutex::new(Some(lease)))))
                    .build();
                Ok(Some(task))
            }
            Err(reason) => {
                self.dead_letter(&entry, &id, &reason).await?;
                Ok(None)
            }
        }
    }

    /// Dead-letters a started job that cannot run, with `reason`.
    async fn dead_letter(&mut self, entry: &str, id: &str, reason: &str) -> Result<(), QueueError> {
        tracing::error!(job = %id, %reason, "dead-lettering undecodable job");
        let changed = self
            .tracker
            .settler()
            .settle(entry, id, "dead", [reason, "", ""])
            .await?;
        if changed >= 0 {
            self.queue.record(Event::Undecodable, 1);
        }
        Ok(())
    }
}
