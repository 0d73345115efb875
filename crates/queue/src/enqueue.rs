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

/// About the bytes of a job's stored payload: its bodies, its attachments in base64, and room
/// for its headers.
fn payload_estimate(job: &EmailJob) -> usize {
    job.v1().size_lower_bound() + 512
}

/// Splits `jobs` into the runs of one script call each: at most [`SCRIPT_JOBS`] jobs and,
/// unless a single job is larger, [`SCRIPT_BYTES`] of payload (measured by `size`).
pub(crate) fn split<T>(jobs: &[T], size: impl Fn(&T) -> usize) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, job) in jobs.iter().enumerate() {
        let b = size(job);
        if i > start && (i - start == SCRIPT_JOBS || bytes + b > SCRIPT_BYTES) {
            runs.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += b;
    }
    if start < jobs.len() {
        runs.push(start..jobs.len());
    }
    runs
}

impl Queue {
    /// Enqueues one job.
    ///
    /// # Errors
    /// Redis unreachable: the job was not queued.
    pub async fn enqueue(&self, job: &EmailJob) -> Result<Enqueued, QueueError> {
        let mut out = self.enqueue_many(std::slice::from_ref(job)).await?;
        out.pop()
            .ok_or_else(|| QueueError::Protocol("empty enqueue reply".into()))
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
        let replies: Vec<Result<Vec<(String, i64)>, QueueError>> = futures::stream::iter(runs)
            .map(|run| self.enqueue_run(&jobs[run]))
            .buffered(IN_FLIGHT)
            .collect()
            .await;
        let mut out = Vec::with_capacity(jobs.len());
        for reply in replies {
            for (id, dup) in reply? {
                let id = id
                    .parse()
                    .map_err(|_| QueueError::Protocol(format!("bad job id {id:?} in reply")))?;
                out.push(Enqueued {
                    id,
                    duplicate: dup == 1,
                });
            }
        }
        crate::replicas::confirm(self, mark).await?;
        Ok(out)
    }

    /// One `enqueue.lua` call for a run of jobs.
    async fn enqueue_run(&self, jobs: &[EmailJob]) -> Result<Vec<(String, i64)>, QueueError> {
        let i = &self.inner;
        let mut inv = call(&i.scripts.enqueue, &i.keys);
        inv.arg(&i.keys.prefix)
            .arg(now_ms())
            .arg(i.config.dedup_ttl.as_secs().max(1));
        // Per job, as `enqueue.lua` takes them: id, idempotency key, payload, due and expiry
        // (ms, 0 for none), meta (empty for none).
        for job in jobs {
            inv.arg(job.id().to_string())
                .arg(job.idempotency_key().unwrap_or(""))
                .arg(job.to_json())
                .arg(job.send_at().map_or(0, |t| t.timestamp_millis()))
                .arg(job.expires_at().map_or(0, |t| t.timestamp_millis()))
                .arg(Meta::json_of(job).unwrap_or_default());
        }
        run(&inv, &mut self.conn()).await
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
