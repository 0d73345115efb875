#![doc = include_str!("../README.md")]

mod render;

use chrono::{DateTime, Utc};
pub use mailroom_jobs::{
    Address, Attachment, EmailJob, EmailJobV1, JobId, MailingList, Policy, SenderAllowlist,
    Template, TemplateParts, TemplateRef, ThreadHint, ValidationError,
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
    /// `redis://host:port/db`, `rediss://…`, `redis+unix:///path`,
    /// `redis+cluster://host1:port,host2:port` or
    /// `redis+sentinel://host1:26379,host2:26379/MASTER_NAME`. TLS URLs (`rediss…`) trust the
    /// system's store here; a private CA or a client certificate goes in
    /// [`QueueConfig::tls`] with [`Client::connect_with`].
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

    /// A client over an open queue handle, validating against `policy`.
    #[must_use]
    pub fn from_queue(queue: Queue, policy: Policy) -> Self {
        Self { queue, policy }
    }

    /// Renders the job's template, if it names one, into the job (see
    /// [`EmailJob::apply_template`]); [`Client::send`] does it before it validates.
    ///
    /// # Errors
    /// [`EnqueueError::Invalid`] naming the field (`template.name`, `vars.NAME`), or
    /// [`EnqueueError::Unavailable`].
    pub async fn render(&self, job: &mut EmailJob) -> Result<(), EnqueueError> {
        render::render_template(&self.queue, job)
            .await
            .map_err(|f| match f {
                render::RenderFailure::Invalid(e) => EnqueueError::Invalid(e),
                render::RenderFailure::Queue(e) => EnqueueError::Unavailable(e),
            })
    }

    /// The validation policy in force.
    #[must_use]
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Renders the job's template, if any, then validates and enqueues it.
    ///
    /// # Errors
    /// [`EnqueueError::Invalid`] naming the bad field, or [`EnqueueError::Unavailable`].
    pub async fn send(&self, mut job: EmailJob) -> Result<Enqueued, EnqueueError> {
        self.render(&mut job).await?;
        job.validate(&self.policy).map_err(EnqueueError::Invalid)?;
        Ok(self.queue.enqueue(&job).await?)
    }

    /// Renders every job's template and validates every job (one bad job: nothing is
    /// queued), then enqueues them in order, in atomic runs of
    /// [`SCRIPT_JOBS`](mailroom_queue::SCRIPT_JOBS) jobs, so that a large batch never holds
    /// Redis for more than a few milliseconds.
    ///
    /// # Errors
    /// [`EnqueueError::InvalidInBatch`] for the first bad job (nothing queued), or
    /// [`EnqueueError::Unavailable`]: for a batch of several runs, its first runs may have been
    /// queued; send the same jobs again and those answer as duplicates, the rest is queued.
    pub async fn send_many(&self, mut jobs: Vec<EmailJob>) -> Result<Vec<Enqueued>, EnqueueError> {
        for (index, job) in jobs.iter_mut().enumerate() {
            match render::render_template(&self.queue, job).await {
                Ok(()) => {}
                Err(render::RenderFailure::Invalid(error)) => {
                    return Err(EnqueueError::InvalidInBatch { index, error });
                }
                Err(render::RenderFailure::Queue(e)) => return Err(e.into()),
            }
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
