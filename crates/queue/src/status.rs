//! The per-job status record, as stored in the job's hash.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, TimeZone, Utc};
use mailroom_jobs::JobId;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

use crate::QueueError;
use crate::conn::Conn;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum JobState {
    /// Waiting in the ready stream.
    Queued,
    /// Waiting for its `send_at`.
    Scheduled,
    /// Delivered to a worker, being sent.
    InFlight,
    /// Sent; `transport_id` says under which id.
    Sent,
    /// Failed for now; waiting for its next attempt at `due_at`.
    Retrying,
    /// Given up; in the dead-letter set with `last_error`.
    Dead,
    /// Its `expires_at` passed before it could be sent.
    Expired,
    /// Cancelled before sending.
    Cancelled,
    /// Not sent: every recipient is on the suppression list; `suppressed` says why.
    Suppressed,
}

impl JobState {
    /// The name used in Redis and in output.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Scheduled => "scheduled",
            Self::InFlight => "in_flight",
            Self::Sent => "sent",
            Self::Retrying => "retrying",
            Self::Dead => "dead",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
            Self::Suppressed => "suppressed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [
            Self::Queued,
            Self::Scheduled,
            Self::InFlight,
            Self::Sent,
            Self::Retrying,
            Self::Dead,
            Self::Expired,
            Self::Cancelled,
            Self::Suppressed,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }

    /// True once nothing more will happen to the job (short of a dead-letter retry).
    #[must_use]
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Sent | Self::Dead | Self::Expired | Self::Cancelled | Self::Suppressed
        )
    }
}

impl std::fmt::Display for JobState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything the queue knows about one job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobStatus {
    /// The job.
    pub id: JobId,
    /// Where it is.
    pub state: JobState,
    /// Failed send attempts so far (rate-limit delays do not count).
    pub attempts: u32,
    /// Times it was handed to a worker.
    pub deliveries: u32,
    /// The last error, for retrying, dead and expired jobs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// When the record last changed.
    pub updated_at: DateTime<Utc>,
    /// When a scheduled or retrying job becomes due.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    /// When the last delivery started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached a final state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    /// When it stops being worth sending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// The transport's id for the sent message (Gmail message id, outbox file name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport_id: Option<String>,
    /// The transport ids of later sends of the same job, when it went out more than once
    /// (both copies sent after a lease takeover); `transport_id` is the first one's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub duplicate_ids: Vec<String>,
    /// The transport's thread id, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    /// The mailbox that sent the job, when its From is a sender pool's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sent_as: Option<String>,
    /// The recipients the suppression list kept the job from: all of a `suppressed` job's,
    /// or those dropped from a `sent` job that went to the rest.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<crate::Suppression>,
    /// The recipients Gmail reported undeliverable after the job was sent (bounces read back
    /// from the sender's mailbox), each with its status code and diagnostic.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub bounced: Vec<crate::Bounce>,
    /// The job's metadata, echoed.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// The job's tags, echoed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

/// The job's metadata and tags, stored beside its status so they outlive the payload.
#[derive(Debug, Default, Serialize, Deserialize)]
pub(crate) struct Meta {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl Meta {
    /// The `meta` a job's record keeps (`{"metadata":…,"tags":…}`), `None` for a job with
    /// neither (most jobs: no record field, nothing to encode).
    pub fn json_of(job: &mailroom_jobs::EmailJob) -> Option<String> {
        let v1 = job.v1();
        if v1.metadata.is_empty() && v1.tags.is_empty() {
            return None;
        }
        serde_json::to_string(&MetaOf {
            metadata: &v1.metadata,
            tags: &v1.tags,
        })
        .ok()
    }
}

/// [`Meta`] as written, borrowed from the job rather than copied out of it.
#[derive(Serialize)]
struct MetaOf<'a> {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    metadata: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    tags: &'a [String],
}

/// The fields of the job record at `key`, read leniently: bytes that are not UTF-8 (a payload
/// written by a careless producer, say) read as U+FFFD instead of failing the whole read, so
/// such a job's status and dead letter can still be shown.
pub(crate) async fn read_record(
    conn: &mut Conn,
    key: &str,
) -> Result<HashMap<String, String>, QueueError> {
    let raw: HashMap<Vec<u8>, Vec<u8>> = conn.hgetall(key).await?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Ok(raw.iter().map(|(k, v)| (text(k), text(v))).collect())
}

pub(crate) fn ms_to_time(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

impl JobStatus {
    /// Builds a status from the fields of a job hash; `None` when the hash is empty.
    pub(crate) fn from_hash(
        id: JobId,
        h: &HashMap<String, String>,
    ) -> Result<Option<Self>, QueueError> {
        let Some(state) = h.get("state") else {
            return Ok(None);
        };
        let state = JobState::parse(state)
            .ok_or_else(|| QueueError::Protocol(format!("job {id}: unknown state {state:?}")))?;
        let int = |k: &str| h.get(k).and_then(|v| v.parse::<i64>().ok());
        let time = |k: &str| int(k).map(ms_to_time);
        let text = |k: &str| h.get(k).filter(|v| !v.is_empty()).cloned();
        let meta: Meta = h
            .get("meta")
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or_default();
        Ok(Some(Self {
            id,
            state,
            attempts: int("attempts").unwrap_or(0).try_into().unwrap_or(0),
            deliveries: int("deliveries").unwrap_or(0).try_into().unwrap_or(0),
            last_error: text("last_error"),
            created_at: time("created_at").unwrap_or_default(),
            updated_at: time("updated_at")
                .or_else(|| time("finished_at"))
                .or_else(|| time("created_at"))
                .unwrap_or_default(),
            due_at: time("due_at"),
            started_at: time("started_at"),
            finished_at: time("finished_at"),
            expires_at: time("expires_at"),
            transport_id: text("transport_id"),
            duplicate_ids: h
                .get("duplicate_ids")
                .and_then(|ids| serde_json::from_str(ids).ok())
                .unwrap_or_default(),
            thread_id: text("thread_id"),
            sent_as: text("sent_as"),
            suppressed: h
                .get("suppressed")
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_default(),
            bounced: h
                .get("bounced")
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_default(),
            metadata: meta.metadata,
            tags: meta.tags,
        }))
    }
}
