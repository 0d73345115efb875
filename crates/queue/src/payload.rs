//! A job's stored payload, for an operator looking at one job (the console's job page). A job
//! waiting in the stream carries its payload in its stream entry, one waiting outside it
//! (scheduled, retrying, dead, or over 64 KiB) in its record; the payload is deleted once a
//! job is finished, so a sent job has none.

use mailroom_jobs::JobId;
use redis::Value;

use crate::{Queue, QueueError};

impl Queue {
    /// The payload of job `id` as stored (lossily as UTF-8), if it still has one.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn payload(&self, id: JobId) -> Result<Option<String>, QueueError> {
        let (stored, entry): (Option<Vec<u8>>, Option<String>) = redis::cmd("HMGET")
            .arg(self.keys().job(&id.to_string()))
            .arg("payload")
            .arg("entry")
            .query_async(&mut self.conn())
            .await?;
        let bytes = match (stored, entry) {
            (Some(bytes), _) => Some(bytes),
            (None, Some(entry)) => self.entry_payload(&entry).await?,
            (None, None) => None,
        };
        Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// The payload a stream entry carries (field `p`), if the entry is there and has one.
    async fn entry_payload(&self, entry: &str) -> Result<Option<Vec<u8>>, QueueError> {
        let rows: Vec<(String, Vec<(String, Value)>)> = redis::cmd("XRANGE")
            .arg(&self.keys().ready)
            .arg(entry)
            .arg(entry)
            .query_async(&mut self.conn())
            .await?;
        Ok(rows
            .into_iter()
            .flat_map(|(_, fields)| fields)
            .find(|(name, _)| name == "p")
            .and_then(|(_, v)| match v {
                Value::BulkString(b) => Some(b),
                _ => None,
            }))
    }
}
