//! A job's stored payload, for an operator looking at one job (the console's job page); the
//! payload is deleted once a job is finished, so a sent job has none.

use mailroom_jobs::JobId;

use crate::{Queue, QueueError};

impl Queue {
    /// The payload of job `id` as stored (lossily as UTF-8), if its record still holds one.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn payload(&self, id: JobId) -> Result<Option<String>, QueueError> {
        let bytes: Option<Vec<u8>> = redis::cmd("HGET")
            .arg(self.keys().job(&id.to_string()))
            .arg("payload")
            .query_async(&mut self.conn())
            .await?;
        Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }
}
