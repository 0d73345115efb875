#![doc = include_str!("../README.md")]

use chrono::{DateTime, Utc};
pub use mailroom_jobs::{
    Address, Attachment, EmailJob, EmailJobV1, JobId, Policy, SenderAllowlist, ThreadHint,
    ValidationError,
};
pub use mailroom_queue::{Cancelled, Enqueued, JobState, JobStatus, QueueConfig};
use mailroom_queue::{Queue, QueueError};

/// Why a job was not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnqueueError {
    /// The job breaks a rule; nothing was queued. The error names the field.
    #[error("invalid job: {0}")]
    Invalid(#[source] ValidationError),
    /// Job `index` of a batch breaks a rule; nothing of the batch was queued.
    #[error("invalid job at index {index}: {error}")]
    InvalidInBatch {
        /// Position of the job in the batch.
        index: usize,
        /// What is wrong with it.
        #[source]
        error: ValidationError,
    },
    /// Redis could not be reached or refused the request; the job was not queued.
    #[error("queue unavailable: {0}")]
    Unavailable(#[from] QueueError),
}

/// A connection to one mailroom queue. Cheap to clone; clones share the connection.
#[derive(Debug, Clone)]
pub struct Client {
    queue: Queue,
    policy: Policy,
}

impl Client {
    /// Connects to the queue named `queue` (default name: `mailroom`) at `url`:
    /// `redis://host:port/db`, `rediss://…`, `redis+unix:///path` or
    /// `redis+cluster://host1:port,host2:port`.
    ///
    /// # Errors
    /// [`EnqueueError::Unavailable`] when Redis cannot be reached or the URL is unusable.
    pub async fn connect(url: &str, queue: &str) -> Result<Self, EnqueueError> {
        Self::connect_with(url, QueueConfig::named(queue), Policy::default()).await
    }

    /// Connects with a full queue config and a validation policy (recipient limit, size limit,
    /// sender allowlist).
    ///
    /// # Errors
    /// [`EnqueueError::Unavailable`] when Redis cannot be reached or the config is unusable.
    pub async fn connect_with(
        url: &str,
        config: QueueConfig,
        policy: Policy,
    ) -> Result<Self, EnqueueError> {
        Ok(Self {
            queue: Queue::connect(url, config).await?,
            policy,
        })
    }

    /// The validation policy in force.
    #[must_use]
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Validates and enqueues one job.
    ///
    /// # Errors
    /// [`EnqueueError::Invalid`] naming the bad field, or [`EnqueueError::Unavailable`].
    pub async fn send(&self, job: EmailJob) -> Result<Enqueued, EnqueueError> {
        job.validate(&self.policy).map_err(EnqueueError::Invalid)?;
        Ok(self.queue.enqueue(&job).await?)
    }

    /// Validates every job, then enqueues them all atomically: all or none.
    ///
    /// # Errors
    /// [`EnqueueError::InvalidInBatch`] for the first bad job, or [`EnqueueError::Unavailable`].
    pub async fn send_many(&self, jobs: Vec<EmailJob>) -> Result<Vec<Enqueued>, EnqueueError> {
        for (index, job) in jobs.iter().enumerate() {
            job.validate(&self.policy)
                .map_err(|error| EnqueueError::InvalidInBatch { index, error })?;
        }
        Ok(self.queue.enqueue_many(&jobs).await?)
    }

    /// Enqueues `job` to be sent at `at` (its `send_at`).
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn schedule(
        &self,
        mut job: EmailJob,
        at: DateTime<Utc>,
    ) -> Result<Enqueued, EnqueueError> {
        job.v1_mut().send_at = Some(at);
        self.send(job).await
    }

    /// The job's status record; `None` if unknown or trimmed after its retention.
    ///
    /// # Errors
    /// [`EnqueueError::Unavailable`].
    pub async fn status(&self, id: JobId) -> Result<Option<JobStatus>, EnqueueError> {
        Ok(self.queue.status(id).await?)
    }

    /// Cancels a job that has not started sending.
    ///
    /// # Errors
    /// [`EnqueueError::Unavailable`].
    pub async fn cancel(&self, id: JobId) -> Result<Cancelled, EnqueueError> {
        Ok(self.queue.cancel(id).await?)
    }
}
