//! The registered workers as an operator sees them: each consumer's last heartbeat (from
//! `{NAME}:workers`) and the deliveries it holds (its pending count in the ready stream's
//! consumer group, `XINFO CONSUMERS`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use crate::keys::GROUP;
use crate::{Queue, QueueError};

/// One registered worker.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WorkerInfo {
    /// Its consumer name in the group.
    pub name: String,
    /// Its last heartbeat.
    pub heartbeat_at: Option<DateTime<Utc>>,
    /// Deliveries it was given and has not acknowledged.
    pub in_flight: u64,
}

impl Queue {
    /// Every worker in `{NAME}:workers`, by name, with its pending count; two round trips.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn workers(&self) -> Result<Vec<WorkerInfo>, QueueError> {
        let mut conn = self.conn();
        let beats: HashMap<String, i64> = redis::cmd("HGETALL")
            .arg(&self.keys().workers)
            .query_async(&mut conn)
            .await?;
        let consumers: redis::RedisResult<Vec<HashMap<String, redis::Value>>> = redis::cmd("XINFO")
            .arg("CONSUMERS")
            .arg(&self.keys().ready)
            .arg(GROUP)
            .query_async(&mut conn)
            .await;
        // No group yet (a fresh Redis) means nobody holds anything.
        let pending: HashMap<String, u64> = consumers
            .unwrap_or_default()
            .into_iter()
            .filter_map(|c| {
                let name = redis::from_redis_value_ref::<String>(c.get("name")?).ok()?;
                let n = redis::from_redis_value_ref::<u64>(c.get("pending")?).ok()?;
                Some((name, n))
            })
            .collect();
        let mut workers: Vec<WorkerInfo> = beats
            .into_iter()
            .map(|(name, ms)| WorkerInfo {
                in_flight: pending.get(&name).copied().unwrap_or(0),
                heartbeat_at: DateTime::from_timestamp_millis(ms),
                name,
            })
            .collect();
        workers.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(workers)
    }
}
