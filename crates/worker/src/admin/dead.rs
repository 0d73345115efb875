//! The dead-letter set as an operator sees it: filters ([`DeadQuery`]), a page of dead jobs
//! ([`list`]), a selection resolved to ids ([`resolve`]) and bulk retry or purge ([`bulk`]).

use std::time::Duration;

use chrono::Utc;
use mailroom_jobs::JobId;
use mailroom_queue::{DeadFilter, DeadJob, DeadSelection, Queue};

use super::AdminError;

/// Conditions on dead jobs; every one given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadQuery {
    /// Only jobs from this sender (the payload's `from`): an address, or `*@domain`.
    pub sender: Option<String>,
    /// Only jobs whose reason contains this text (ASCII case ignored).
    pub reason: Option<String>,
    /// Only jobs that died at least this long ago.
    pub older_than: Option<Duration>,
    /// Only jobs that died at most this long ago.
    pub newer_than: Option<Duration>,
}

/// Parses an age such as `90s`, `10m`, `1h` or `3days`.
///
/// # Errors
/// The text is not a duration; the message says how to write one.
pub fn parse_age(text: &str) -> Result<Duration, String> {
    humantime_serde::re::humantime::parse_duration(text.trim())
        .map_err(|e| format!("{e} (write e.g. 90s, 10m, 1h, 3days)"))
}

impl DeadQuery {
    /// Whether no condition is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The queue's filter, ages taken from now.
    #[must_use]
    pub fn filter(&self) -> DeadFilter {
        let now = Utc::now();
        let ago = |d: Duration| {
            chrono::Duration::from_std(d)
                .ok()
                .and_then(|d| now.checked_sub_signed(d))
                .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC)
        };
        DeadFilter {
            sender: self.sender.clone(),
            reason: self.reason.clone(),
            died_before: self.older_than.map(ago),
            died_after: self.newer_than.map(ago),
        }
    }
}

/// The dead jobs `query` matches, newest first, `limit` of them after skipping `offset`.
///
/// # Errors
/// Redis unreachable.
pub async fn list(
    queue: &Queue,
    query: &DeadQuery,
    offset: usize,
    limit: usize,
) -> Result<Vec<DeadJob>, AdminError> {
    let ids = queue.dead_find(&query.filter(), offset, limit).await?;
    let mut jobs = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(job) = queue.dead_show(id).await? {
            jobs.push(job);
        }
    }
    Ok(jobs)
}

/// Parses a job id as every command and endpoint does.
///
/// # Errors
/// [`AdminError::Invalid`] with the parser's message.
pub fn job_id(text: &str) -> Result<JobId, AdminError> {
    text.trim()
        .parse()
        .map_err(|e| AdminError::Invalid(format!("{e}")))
}

/// The ids a selection names: `ids` if any are given, else every dead job `query` matches.
///
/// # Errors
/// A bad id, or Redis unreachable.
pub async fn resolve(
    queue: &Queue,
    ids: &[String],
    query: &DeadQuery,
) -> Result<Vec<JobId>, AdminError> {
    if ids.is_empty() {
        return Ok(queue.dead_find(&query.filter(), 0, usize::MAX).await?);
    }
    ids.iter().map(|s| job_id(s)).collect()
}

/// What [`bulk`] does to each job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Back into the queue, attempts reset.
    Retry,
    /// Deleted for good.
    Purge,
}

/// Jobs per script call of a bulk retry or purge.
pub const BULK_CHUNK: usize = 100;

/// Retries or purges `ids` in chunks of [`BULK_CHUNK`], calling `progress(done)` after each;
/// returns how many jobs were acted on.
///
/// # Errors
/// Redis unreachable (the chunks before the failure stay done).
pub async fn bulk(
    queue: &Queue,
    action: Action,
    ids: &[JobId],
    mut progress: impl FnMut(usize),
) -> Result<u64, AdminError> {
    let mut done = 0;
    let mut acted = 0;
    for chunk in ids.chunks(BULK_CHUNK) {
        let which = DeadSelection::Ids(chunk.to_vec());
        acted += match action {
            Action::Retry => queue.dead_retry(which).await,
            Action::Purge => queue.dead_purge(which).await,
        }?;
        done += chunk.len();
        progress(done);
    }
    Ok(acted)
}

/// What `retry` says when fewer jobs came back than were selected.
#[must_use]
pub fn retried_note(retried: u64, selected: usize) -> String {
    if usize::try_from(retried).unwrap_or(usize::MAX) < selected {
        format!(
            " of {selected} selected (the others are no longer dead, or have no payload to send)"
        )
    } else {
        String::new()
    }
}
