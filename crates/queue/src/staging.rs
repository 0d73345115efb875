//! Large payloads staged outside Lua. `enqueue.lua` would otherwise receive each payload as a
//! script argument, and Redis's Lua hashes every byte of a string it is handed: about 2 ms per
//! MiB during which Redis serves no one else, so one 25 MB job would hold every worker and
//! producer for a tenth of a second. A payload over [`STAGE_OVER`] is written first, with a
//! plain `HSET` (one copy, no Lua), into a key of its own with a TTL; the script call names
//! that key instead of carrying the payload, and makes the job's record of it by `RENAME`.

use std::time::Duration;

use mailroom_jobs::JobId;

use crate::QueueError;
use crate::enqueue::JobArgs;
use crate::queue::Queue;

/// Payloads larger than this are staged: the size above which `enqueue.lua` keeps a payload in
/// the job's record rather than in its stream entry (64 KiB), so a staged job is stored as it
/// would have been.
pub(crate) const STAGE_OVER: usize = 64 * 1024;

/// How long a staged payload waits for its script call: only a producer that died between
/// the two leaves one behind, and Redis drops it after this.
const STAGE_TTL: Duration = Duration::from_secs(3600);

/// What each job of a script call passes as its payload argument: `None` for the payload
/// itself, or the `@staged:TOKEN` that names where it waits.
pub(crate) type Staged = Vec<Option<String>>;

impl Queue {
    /// Stages the payloads of `jobs` over [`STAGE_OVER`], all in one transaction (each staged
    /// key is written with its TTL, or not at all).
    ///
    /// # Errors
    /// Redis unreachable: nothing was enqueued (a staged payload left behind expires).
    pub(crate) async fn stage_large(&self, jobs: &[JobArgs]) -> Result<Staged, QueueError> {
        let mut staged = vec![None; jobs.len()];
        if jobs.iter().all(|j| j.payload_len() <= STAGE_OVER) {
            return Ok(staged);
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        for (job, marker) in jobs.iter().zip(staged.iter_mut()) {
            if job.payload_len() <= STAGE_OVER {
                continue;
            }
            let token = JobId::new().to_string();
            let key = self.inner.keys.staged(&token);
            pipe.hset(&key, "payload", job.payload())
                .ignore()
                .expire(&key, STAGE_TTL.as_secs() as i64)
                .ignore();
            *marker = Some(format!("@staged:{token}"));
        }
        let () = pipe.query_async(&mut self.conn()).await?;
        Ok(staged)
    }
}
