//! The dead-letter set: list, show, retry and purge.

use std::collections::HashMap;

use mailroom_jobs::JobId;
use redis::AsyncCommands;

use crate::QueueError;
use crate::queue::{Queue, now_ms};
use crate::scripts::{call, run};
use crate::status::{JobStatus, ms_to_time};

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
}

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

    /// One dead job, if `id` is in the dead-letter set.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn dead_show(&self, id: JobId) -> Result<Option<DeadJob>, QueueError> {
        let mut c = self.conn();
        let score: Option<i64> = c.zscore(&self.keys().dead, id.to_string()).await?;
        let Some(score) = score else { return Ok(None) };
        let mut h: HashMap<String, String> = c.hgetall(self.keys().job(&id.to_string())).await?;
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
            thread_id: None,
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
