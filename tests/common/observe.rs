//! Reading a queue's state from the tests: waiting for a condition, job states and records,
//! the queue's counts.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use mailroom_jobs::JobId;
use mailroom_queue::{JobState, Queue, QueueStats};

/// Polls `check` every 50 ms until it returns true; fails after `within`.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The state of each job (None for unknown ones).
pub async fn states(queue: &Queue, ids: &[JobId]) -> Vec<Option<JobState>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(queue.status(*id).await.expect("status").map(|s| s.state));
    }
    out
}

pub async fn stats(queue: &Queue) -> QueueStats {
    queue.stats().await.expect("stats")
}

/// Waits until the queue holds `n` dead letters.
pub async fn wait_dead(queue: &Queue, n: u64, within: Duration) {
    eventually(within, &format!("{n} dead jobs"), || async {
        stats(queue).await.dead == n
    })
    .await;
}

/// `fields` of each job's record, in either layout (its job hash, or once sent or expired its
/// done record), in pipelined reads (a record that is gone reads as all `None`).
pub async fn job_fields(queue: &Queue, ids: &[JobId], fields: &[&str]) -> Vec<Vec<Option<String>>> {
    queue
        .record_fields(ids, fields)
        .await
        .expect("read job records")
}

/// How many of `ids` are in each state (`"missing"` for jobs without a record).
pub async fn state_counts(
    queue: &Queue,
    ids: &[JobId],
) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for row in job_fields(queue, ids, &["state"]).await {
        let state = row[0].clone().unwrap_or_else(|| "missing".to_owned());
        *counts.entry(state).or_default() += 1;
    }
    counts
}

/// Whether every one of `ids` is recorded as sent.
pub async fn all_sent(queue: &Queue, ids: &[JobId]) -> bool {
    job_fields(queue, ids, &["state"])
        .await
        .iter()
        .all(|row| row[0].as_deref() == Some("sent"))
}

/// Whether nothing waits or runs: no job ready, scheduled or in flight.
pub async fn idle(queue: &Queue) -> bool {
    let s = stats(queue).await;
    s.ready == 0 && s.scheduled == 0 && s.in_flight == 0
}

/// The jobs of `ids` in flight: queued, with their stream entry pending under a worker's
/// consumer (read, and not yet acknowledged).
pub async fn in_flight(queue: &Queue, ids: &[JobId]) -> HashSet<JobId> {
    let records = job_fields(queue, ids, &["state", "entry"]).await;
    let pending_rows: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
        .arg(queue.key("v2:ready"))
        .arg("workers")
        .arg("-")
        .arg("+")
        .arg(ids.len().max(1))
        .query_async(&mut queue.connection())
        .await
        .expect("read pending entries");
    let held: HashSet<String> = pending_rows.into_iter().map(|(e, ..)| e).collect();
    ids.iter()
        .zip(&records)
        .filter(|(_, row)| {
            row[0].as_deref() == Some("queued") && row[1].as_ref().is_some_and(|e| held.contains(e))
        })
        .map(|(id, _)| *id)
        .collect()
}
