//! Schemas of the answers the API passes through from the queue crate (a job's status, the
//! queue's stats, a dead letter) for the OpenAPI document. The answers themselves are the
//! queue crate's types serialized as `mailroom … --json` prints them; these types only
//! describe them (`additionalProperties: false`, so the schemathesis run catches a field
//! added there and not here).
#![allow(dead_code)]

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// Where a job is in its life.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = JobState)]
pub enum JobStateDoc {
    /// Waiting in the ready stream.
    Queued,
    /// Waiting for its `send_at`.
    Scheduled,
    /// Being sent.
    InFlight,
    /// Sent.
    Sent,
    /// Waiting for its next attempt.
    Retrying,
    /// Given up; a dead letter.
    Dead,
    /// Its `expires_at` passed first.
    Expired,
    /// Cancelled before sending.
    Cancelled,
    /// Not sent: every recipient is on the suppression list (`suppressed` says why).
    Suppressed,
}

/// Why a recipient is suppressed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = SuppressReason)]
pub enum SuppressReasonDoc {
    /// The recipient unsubscribed.
    Unsubscribed,
    /// A permanent delivery failure.
    HardBounce,
    /// The recipient marked mail as spam.
    Complaint,
    /// An operator added it.
    Manual,
}

/// Where a suppression applies.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = SuppressScope)]
pub enum SuppressScopeDoc {
    /// Every message.
    Global,
    /// The messages of one list (`list` names it).
    List,
}

/// A suppressed address.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Suppression)]
pub struct SuppressionDoc {
    /// The address, lower case.
    address: String,
    /// Where it applies.
    scope: SuppressScopeDoc,
    /// The list id, for a list's suppression.
    #[schema(required = false)]
    list: Option<String>,
    /// Why.
    reason: SuppressReasonDoc,
    /// Since when.
    at: DateTime<Utc>,
}

/// A recipient a sent job bounced for (read back from the sender's mailbox).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Bounce)]
pub struct BounceDoc {
    /// The address that failed, lower case.
    recipient: String,
    /// The enhanced status code, e.g. `5.1.1` (5.x.x: a hard bounce, the address is
    /// suppressed; 4.x.x: a soft bounce, recorded only).
    status: String,
    /// The remote server's answer, e.g. `smtp; 550-5.1.1 The email account … does not exist.`
    diagnostic: String,
    /// When the bounce was recorded.
    at: DateTime<Utc>,
}

/// Everything the queue knows about one job (`mailroom status --json`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = JobStatus)]
pub struct JobStatusDoc {
    /// The job id.
    id: String,
    /// Where it is.
    state: JobStateDoc,
    /// Failed send attempts so far.
    attempts: u32,
    /// Times it was handed to a worker.
    deliveries: u32,
    /// The last error.
    last_error: Option<String>,
    /// When it was enqueued.
    created_at: DateTime<Utc>,
    /// When the record last changed.
    updated_at: DateTime<Utc>,
    /// When a scheduled or retrying job becomes due.
    due_at: Option<DateTime<Utc>>,
    /// When the last delivery started.
    started_at: Option<DateTime<Utc>>,
    /// When it reached a final state.
    finished_at: Option<DateTime<Utc>>,
    /// When it stops being worth sending.
    expires_at: Option<DateTime<Utc>>,
    /// The transport's id for the sent message (the Gmail message id).
    transport_id: Option<String>,
    /// The transport's thread id.
    thread_id: Option<String>,
    /// The mailbox that sent the job, when its `from` is a sender pool's address.
    sent_as: Option<String>,
    /// The recipients the suppression list kept the job from, with their reasons: every
    /// recipient of a `suppressed` job, or those dropped from a `sent` job that went to the
    /// rest.
    #[schema(required = false)]
    suppressed: Vec<SuppressionDoc>,
    /// The recipients Gmail reported undeliverable after the job was sent (with
    /// `gmail.read_bounces`).
    #[schema(required = false)]
    bounced: Vec<BounceDoc>,
    /// The job's metadata.
    #[schema(required = false)]
    metadata: BTreeMap<String, String>,
    /// The job's tags.
    #[schema(required = false)]
    tags: Vec<String>,
}

/// The queue's counts (`mailroom queue stats --json`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = QueueStats)]
pub struct QueueStatsDoc {
    /// Jobs waiting in the ready stream.
    ready: u64,
    /// Jobs waiting for their send time or next attempt.
    scheduled: u64,
    /// Jobs being sent.
    in_flight: u64,
    /// Dead letters.
    dead: u64,
    /// Age of the oldest ready job, in seconds.
    oldest_ready_age: Option<f64>,
    /// When the oldest ready job was queued.
    oldest_ready_at: Option<DateTime<Utc>>,
    /// Registered workers.
    workers: u64,
    /// Jobs ever enqueued.
    enqueued: u64,
}

/// A dead letter (`mailroom dead list --json`): its status, the reason in `last_error`, and
/// the payload as stored.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DeadJob)]
pub struct DeadJobDoc {
    /// The status record.
    status: JobStatusDoc,
    /// The payload as stored (it may be the malformed JSON that killed the job).
    payload: Option<String>,
}
