//! The dead-letter set: list, show, retry and purge.

use chrono::{DateTime, Utc};
use mailroom_jobs::JobId;
use redis::AsyncCommands;

use crate::QueueError;
use crate::queue::{Queue, now_ms};
use crate::scripts::{call, run};
use crate::status::{JobStatus, ms_to_time, read_record};

/// A dead-lettered job: its status (with the reason in `last_error`) and its payload.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeadJob {
    /// The status record.
    pub status: JobStatus,
    /// The payload as it was stored (it may be the malformed JSON that killed the job).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<String>,
}

/// Which dead jobs an operation applies to.
#[derive(Debug, Clone)]
pub enum DeadSelection {
    /// These ids.
    Ids(Vec<JobId>),
    /// Every dead job.
    All,
    /// Every dead job the filter matches.
    Matching(DeadFilter),
}

/// Conditions on dead jobs; a job matches when it meets every condition that is set (the
/// default filter matches every dead job).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadFilter {
    /// The sender, read from the payload's `from`: an address (case and display name are
    /// ignored) or `*@domain`.
    pub sender: Option<String>,
    /// A piece of the reason (`last_error`), ASCII case ignored.
    pub reason: Option<String>,
    /// Only jobs that died at or before this time.
    pub died_before: Option<DateTime<Utc>>,
    /// Only jobs that died at or after this time.
    pub died_after: Option<DateTime<Utc>>,
}

impl DeadFilter {
    /// True when no condition is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Dead-set entries scanned per script call; fewer when payloads are read for the sender.
const SCAN_PAGE: usize = 200;
const SCAN_PAGE_WITH_SENDER: usize = 50;

impl Queue {
    /// Dead jobs, newest first, `limit` from `offset`.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn dead_list(&self, offset: usize, limit: usize) -> Result<Vec<DeadJob>, QueueError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut c = self.conn();
        let ids: Vec<String> = c
            .zrevrange(
                &self.keys().dead,
                isize::try_from(offset).unwrap_or(isize::MAX),
                isize::try_from(offset + limit - 1).unwrap_or(isize::MAX),
            )
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let Ok(id) = id.parse::<JobId>() else {
                continue;
            };
            if let Some(d) = self.dead_show(id).await? {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// Ids of the dead jobs matching `filter`, newest first: `limit` matches after skipping
    /// `offset` matches. The dead-letter set is scanned in pages by a script that matches the
    /// reason and the sender inside Redis, so only matching ids cross the network and no call
    /// holds Redis for long; jobs that die while the scan runs are not included.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn dead_find(
        &self,
        filter: &DeadFilter,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<JobId>, QueueError> {
        let mut found = Vec::new();
        if limit == 0 {
            return Ok(found);
        }
        let i = &self.inner;
        let max = filter
            .died_before
            .map_or_else(now_ms, |t| t.timestamp_millis())
            .to_string();
        let min = filter
            .died_after
            .map_or_else(|| "-inf".to_owned(), |t| t.timestamp_millis().to_string());
        let reason = filter
            .reason
            .as_deref()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let sender = filter
            .sender
            .as_deref()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let page = if sender.is_empty() {
            SCAN_PAGE
        } else {
            SCAN_PAGE_WITH_SENDER
        };
        let (mut skipped, mut at) = (0, 0);
        loop {
            let mut inv = call(&i.scripts.dead_scan, &i.keys);
            inv.arg(&i.keys.prefix)
                .arg(&max)
                .arg(&min)
                .arg(at)
                .arg(page)
                .arg(&reason)
                .arg(&sender);
            let reply: Vec<String> = run(&inv, &mut self.conn()).await?;
            let Some((scanned, ids)) = reply.split_first() else {
                return Err(QueueError::Protocol(
                    "empty reply from dead_scan.lua".into(),
                ));
            };
            let scanned: usize = scanned
                .parse()
                .map_err(|_| QueueError::Protocol(format!("bad count {scanned:?}")))?;
            for id in ids {
                if skipped < offset {
                    skipped += 1;
                    continue;
                }
                if let Ok(id) = id.parse::<JobId>() {
                    found.push(id);
                }
                if found.len() >= limit {
                    return Ok(found);
                }
            }
            if scanned < page {
                return Ok(found);
            }
            at += scanned;
        }
    }

    /// One dead job, if `id` is in the dead-letter set.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn dead_show(&self, id: JobId) -> Result<Option<DeadJob>, QueueError> {
        let mut c = self.conn();
        let score: Option<i64> = c.zscore(&self.keys().dead, id.to_string()).await?;
        let Some(score) = score else { return Ok(None) };
        let mut h = read_record(&mut c, &self.keys().job(&id.to_string())).await?;
        let payload = h.remove("payload");
        let status = JobStatus::from_hash(id, &h)?.unwrap_or_else(|| JobStatus {
            id,
            state: crate::JobState::Dead,
            attempts: 0,
            deliveries: 0,
            last_error: Some("job record missing".into()),
            created_at: ms_to_time(score),
            updated_at: ms_to_time(score),
            due_at: None,
            started_at: None,
            finished_at: Some(ms_to_time(score)),
            expires_at: None,
            transport_id: None,
            duplicate_ids: Vec::new(),
            thread_id: None,
            sent_as: None,
            suppressed: Vec::new(),
            bounced: Vec::new(),
            metadata: Default::default(),
            tags: Vec::new(),
        });
        Ok(Some(DeadJob { status, payload }))
    }

    /// Puts dead jobs back in the ready stream with their attempts reset; returns how many.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn dead_retry(&self, which: DeadSelection) -> Result<u64, QueueError> {
        self.dead_action("retry", which).await
    }

    /// Deletes dead jobs for good; returns how many.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn dead_purge(&self, which: DeadSelection) -> Result<u64, QueueError> {
        self.dead_action("purge", which).await
    }

    async fn dead_action(&self, action: &str, which: DeadSelection) -> Result<u64, QueueError> {
        let mut total = 0;
        match which {
            DeadSelection::Ids(ids) => {
                for chunk in ids.chunks(500) {
                    let ids: Vec<String> = chunk.iter().map(ToString::to_string).collect();
                    total += self.dead_script(action, &ids).await?;
                }
            }
            DeadSelection::All => {
                let mut c = self.conn();
                let mut skipped = 0isize;
                loop {
                    let ids: Vec<String> =
                        c.zrange(&self.keys().dead, skipped, skipped + 499).await?;
                    if ids.is_empty() {
                        break;
                    }
                    let n = self.dead_script(action, &ids).await?;
                    // Jobs that could not be retried (no payload) stay in the set: step over them.
                    skipped += isize::try_from(ids.len() as u64 - n).unwrap_or(0);
                    total += n;
                }
            }
            DeadSelection::Matching(filter) => {
                let ids = self.dead_find(&filter, 0, usize::MAX).await?;
                for chunk in ids.chunks(500) {
                    let ids: Vec<String> = chunk.iter().map(ToString::to_string).collect();
                    total += self.dead_script(action, &ids).await?;
                }
            }
        }
        Ok(total)
    }

    async fn dead_script(&self, action: &str, ids: &[String]) -> Result<u64, QueueError> {
        let i = &self.inner;
        let mut inv = call(&i.scripts.dead, &i.keys);
        inv.arg(&i.keys.prefix).arg(now_ms()).arg(action);
        for id in ids {
            inv.arg(id);
        }
        run(&inv, &mut self.conn()).await
    }
}
