//! Enqueueing: each job's record and stream entry written by `enqueue.lua`, a batch split into
//! script calls of at most [`SCRIPT_JOBS`] jobs and [`SCRIPT_BYTES`] of payload, so that no
//! enqueue holds Redis (and every worker and producer waiting on it) for more than a few
//! milliseconds. The calls of one batch go out pipelined on the queue's connection, in order,
//! each built while Redis runs the one before.

use std::ops::Range;

use futures::StreamExt;
use mailroom_jobs::{EmailJob, JobId};

use crate::QueueError;
use crate::queue::{Queue, now_ms};
use crate::scripts::{call, run};
use crate::status::Meta;

/// Most jobs per `enqueue.lua` call: at the 15–30 µs of Redis time a job of about 1 KB costs
/// there, 100 jobs hold Redis for about 1.5–3 ms.
pub const SCRIPT_JOBS: usize = 100;

/// Most payload bytes per `enqueue.lua` call (a larger job goes alone): copying them into the
/// stream or the record costs Redis time in proportion.
pub const SCRIPT_BYTES: usize = 1 << 20;

/// Script calls of one batch in flight at once.
const IN_FLIGHT: usize = 4;

/// The result of an enqueue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enqueued {
    /// The job's id; for a duplicate, the id of the job enqueued first.
    pub id: JobId,
    /// True when the idempotency key (or the job id) was seen before and nothing new was queued.
    pub duplicate: bool,
}

/// A job as `enqueue.lua` takes it: id, idempotency key (empty for none), payload, due and
/// expiry (ms, 0 for none), meta (empty for none).
pub(crate) struct JobArgs {
    id: String,
    idempotency_key: String,
    payload: Vec<u8>,
    due_ms: i64,
    expires_ms: i64,
    meta: String,
}

impl JobArgs {
    pub fn of(job: &EmailJob) -> Self {
        Self {
            id: job.id().to_string(),
            idempotency_key: job.idempotency_key().unwrap_or("").to_owned(),
            payload: job.to_json(),
            due_ms: job.send_at().map_or(0, |t| t.timestamp_millis()),
            expires_ms: job.expires_at().map_or(0, |t| t.timestamp_millis()),
            meta: Meta::json_of(job).unwrap_or_default(),
        }
    }

    /// The bytes of the stored payload.
    pub fn payload_len(&self) -> usize {
        self.payload.len()
    }

    /// The stored payload.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }
}

/// About the bytes of a job's stored payload: its bodies, its attachments in base64, and room
/// for its headers.
fn payload_estimate(job: &EmailJob) -> usize {
    job.v1().size_lower_bound() + 512
}

/// Splits `jobs` into the runs of one script call each (see [`first_run`]).
pub(crate) fn split<T>(jobs: &[T], size: impl Fn(&T) -> usize) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let mut start = 0;
    while start < jobs.len() {
        let end = start + first_run(&jobs[start..], &size);
        runs.push(start..end);
        start = end;
    }
    runs
}

/// How many of `jobs`, from the front, go in one script call: at most [`SCRIPT_JOBS`] jobs
/// and, unless a single job is larger, [`SCRIPT_BYTES`] of payload (measured by `size`).
pub(crate) fn first_run<T>(jobs: &[T], size: impl Fn(&T) -> usize) -> usize {
    let mut bytes = 0;
    for (i, job) in jobs.iter().enumerate() {
        let b = size(job);
        if i > 0 && (i == SCRIPT_JOBS || bytes + b > SCRIPT_BYTES) {
            return i;
        }
        bytes += b;
    }
    jobs.len()
}

impl Queue {
    /// Enqueues one job. Jobs that concurrent callers enqueue while two script calls are
    /// running wait and share the next call (at most [`SCRIPT_JOBS`] jobs and
    /// [`SCRIPT_BYTES`] of payload); each gets its own answer. A lone job goes at once.
    ///
    /// # Errors
    /// Redis unreachable: the job was not queued; enqueue it again (its id is queued once).
    /// [`QueueError::NotReplicated`]: as for [`Queue::enqueue_many`].
    pub async fn enqueue(&self, job: &EmailJob) -> Result<Enqueued, QueueError> {
        self.gathered(JobArgs::of(job)).await
    }

    /// Enqueues a batch, in order. Each run of up to [`SCRIPT_JOBS`] jobs is queued
    /// atomically (all of its jobs or none); a larger batch is several such runs, so that no
    /// single call holds Redis for long.
    ///
    /// # Errors
    /// Redis unreachable: the batch was not queued, or, for a batch of several runs, only some
    /// of its runs were; enqueue the same jobs again (the same job ids are queued once, those
    /// already queued answer as duplicates). [`QueueError::NotReplicated`] (with
    /// [`QueueConfig::min_replicas_ack`](crate::QueueConfig::min_replicas_ack) above 0): the
    /// batch was queued on the primary but too few replicas have it, so it may be lost if the
    /// primary fails; enqueue it again.
    pub async fn enqueue_many(&self, jobs: &[EmailJob]) -> Result<Vec<Enqueued>, QueueError> {
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let mark = crate::replicas::Mark::before(self);
        // Payloads are serialised as their run is built; runs are cut by an estimate.
        let runs = split(jobs, payload_estimate);
        let replies: Vec<Result<Vec<Enqueued>, QueueError>> = futures::stream::iter(runs)
            .map(|run| self.enqueue_run(&jobs[run]))
            .buffered(IN_FLIGHT)
            .collect()
            .await;
        let mut out = Vec::with_capacity(jobs.len());
        for reply in replies {
            out.extend(reply?);
        }
        crate::replicas::confirm(self, mark).await?;
        Ok(out)
    }

    /// One `enqueue.lua` call for a run of jobs, serialised as the call is built.
    async fn enqueue_run(&self, jobs: &[EmailJob]) -> Result<Vec<Enqueued>, QueueError> {
        let args: Vec<JobArgs> = jobs.iter().map(JobArgs::of).collect();
        self.enqueue_args(&args).await
    }

    /// One `enqueue.lua` call for jobs already serialised, their large payloads staged first
    /// (see [`crate::staging`]).
    pub(crate) async fn enqueue_args(&self, jobs: &[JobArgs]) -> Result<Vec<Enqueued>, QueueError> {
        let staged = self.stage_large(jobs).await?;
        let i = &self.inner;
        let mut inv = call(&i.scripts.enqueue, &i.keys);
        inv.arg(&i.keys.prefix)
            .arg(now_ms())
            .arg(i.config.dedup_ttl.as_secs().max(1));
        for (job, staged) in jobs.iter().zip(&staged) {
            inv.arg(&job.id).arg(&job.idempotency_key);
            match staged {
                Some(marker) => inv.arg(marker),
                None => inv.arg(&job.payload),
            };
            inv.arg(job.due_ms).arg(job.expires_ms).arg(&job.meta);
        }
        let reply: Vec<(String, i64)> = run(&inv, &mut self.conn()).await?;
        reply
            .into_iter()
            .map(|(id, dup)| {
                let id = id
                    .parse()
                    .map_err(|_| QueueError::Protocol(format!("bad job id {id:?} in reply")))?;
                Ok(Enqueued {
                    id,
                    duplicate: dup == 1,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_splits_by_count_and_by_bytes_and_a_large_job_goes_alone() {
        let small = vec![10_usize; 250];
        let runs: Vec<usize> = split(&small, |b| *b).iter().map(|r| r.len()).collect();
        assert_eq!(runs, [100, 100, 50]);

        let mixed = [
            1,
            SCRIPT_BYTES / 2,
            SCRIPT_BYTES / 2,
            SCRIPT_BYTES * 3,
            5,
            5,
        ];
        assert_eq!(split(&mixed, |b| *b), [0..2, 2..3, 3..4, 4..6]);
        assert!(split(&[] as &[usize], |b| *b).is_empty());
    }
}
