//! `mailroom dead …`: the dead-letter set.

use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use chrono::Utc;
use mailroom_jobs::JobId;
use mailroom_queue::{DeadFilter, DeadJob, DeadSelection, Queue};

use super::{CliError, CliResult, connect, job_id, status, table};
use crate::config::Config;

/// `mailroom dead` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum DeadCommand {
    /// Dead jobs, newest first, optionally filtered.
    List {
        /// How many to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// How many of the newest matching jobs to skip.
        #[arg(long, default_value_t = 0)]
        offset: usize,
        /// Which jobs.
        #[command(flatten)]
        filters: Filters,
        /// Print the jobs as JSON.
        #[arg(long)]
        json: bool,
    },
    /// One dead job: its status, the reason it died and its payload.
    Show {
        /// The job id.
        id: String,
        /// Print the job as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Put dead jobs back in the queue with their attempts reset.
    Retry(Selection),
    /// Delete dead jobs for good.
    Purge(Selection),
}

/// Conditions on dead jobs; every one given must hold.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Filters {
    /// Only jobs from this sender (the payload's `from`): an address, or `*@domain`.
    #[arg(long, value_name = "ADDR")]
    sender: Option<String>,
    /// Only jobs whose reason contains this text (ASCII case ignored).
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
    /// Only jobs that died at least this long ago, e.g. `1h` or `3days`.
    #[arg(long, value_name = "AGE", value_parser = age)]
    older_than: Option<Duration>,
    /// Only jobs that died at most this long ago, e.g. `10m`.
    #[arg(long, value_name = "AGE", value_parser = age)]
    newer_than: Option<Duration>,
}

fn age(text: &str) -> Result<Duration, String> {
    humantime_serde::re::humantime::parse_duration(text)
        .map_err(|e| format!("{e} (write e.g. 90s, 10m, 1h, 3days)"))
}

impl Filters {
    fn filter(&self) -> DeadFilter {
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

/// Which dead jobs: ids, or `--all` and/or filters (every job matching them).
#[derive(Debug, clap::Args)]
#[command(group(
    clap::ArgGroup::new("which")
        .required(true)
        .multiple(true)
        .args(["ids", "all", "sender", "reason", "older_than", "newer_than"])
))]
pub struct Selection {
    /// Job ids.
    #[arg(value_name = "ID", conflicts_with_all = ["all", "sender", "reason", "older_than", "newer_than"])]
    ids: Vec<String>,
    /// Every dead job (narrowed by the filters, if any are given).
    #[arg(long)]
    all: bool,
    /// Which jobs, instead of ids.
    #[command(flatten)]
    filters: Filters,
}

impl Selection {
    /// The ids the selection names, resolved against the dead-letter set for `--all` and
    /// filters.
    async fn resolve(&self, queue: &Queue) -> Result<Vec<JobId>, CliError> {
        if self.ids.is_empty() {
            return queue
                .dead_find(&self.filters.filter(), 0, usize::MAX)
                .await
                .map_err(super::redis);
        }
        self.ids.iter().map(|s| job_id(s)).collect()
    }
}

/// Runs a `mailroom dead` subcommand.
pub async fn run(config: &Config, cmd: DeadCommand) -> CliResult {
    let queue = connect(config).await?;
    match cmd {
        DeadCommand::List {
            limit,
            offset,
            filters,
            json,
        } => {
            let ids = queue
                .dead_find(&filters.filter(), offset, limit)
                .await
                .map_err(super::redis)?;
            let mut jobs = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(job) = queue.dead_show(id).await.map_err(super::redis)? {
                    jobs.push(job);
                }
            }
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&jobs).map_err(anyhow::Error::from)?
                );
            } else if jobs.is_empty() {
                println!("no dead jobs");
            } else {
                print!("{}", list(&jobs));
            }
        }
        DeadCommand::Show { id, json } => {
            let id = job_id(&id)?;
            let Some(job) = queue.dead_show(id).await.map_err(super::redis)? else {
                return Err(CliError::Failed(anyhow::anyhow!(
                    "job {id} is not in the dead-letter set"
                )));
            };
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&job).map_err(anyhow::Error::from)?
                );
            } else {
                print!("{}", show(&job));
            }
        }
        DeadCommand::Retry(which) => {
            let ids = which.resolve(&queue).await?;
            let n = bulk(&queue, Action::Retry, &ids).await?;
            let note = if (n as usize) < ids.len() {
                format!(
                    " of {} selected (the others are no longer dead, or have no payload to send)",
                    ids.len()
                )
            } else {
                String::new()
            };
            println!("retried {n}{note}");
        }
        DeadCommand::Purge(which) => {
            let ids = which.resolve(&queue).await?;
            let n = bulk(&queue, Action::Purge, &ids).await?;
            println!("purged {n}");
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Retry,
    Purge,
}

/// Jobs per script call of a bulk retry or purge.
const BULK_CHUNK: usize = 100;

/// Retries or purges `ids` in chunks, drawing a progress bar on stderr when it is a terminal;
/// returns how many jobs were acted on.
async fn bulk(queue: &Queue, action: Action, ids: &[JobId]) -> Result<u64, CliError> {
    let bar = (ids.len() > BULK_CHUNK && std::io::stderr().is_terminal()).then_some(ids.len());
    let mut done = 0;
    let mut acted = 0;
    for chunk in ids.chunks(BULK_CHUNK) {
        let which = DeadSelection::Ids(chunk.to_vec());
        acted += match action {
            Action::Retry => queue.dead_retry(which).await,
            Action::Purge => queue.dead_purge(which).await,
        }
        .map_err(super::redis)?;
        done += chunk.len();
        if let Some(total) = bar {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{}", progress(done, total, 30));
            let _ = err.flush();
        }
    }
    if bar.is_some() {
        eprintln!();
    }
    Ok(acted)
}

/// `[#####     ] done/total`, `width` cells wide.
fn progress(done: usize, total: usize, width: usize) -> String {
    let filled = (done * width)
        .checked_div(total)
        .unwrap_or(width)
        .min(width);
    format!(
        "[{}{}] {done}/{total}",
        "#".repeat(filled),
        " ".repeat(width - filled)
    )
}

/// The sender of a payload (its `from`), if it decodes.
fn sender(payload: Option<&str>) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct From {
        from: Option<String>,
    }
    serde_json::from_str::<From>(payload?).ok()?.from
}

fn list(jobs: &[DeadJob]) -> String {
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            let s = &j.status;
            vec![
                s.id.to_string(),
                table::time(s.finished_at.unwrap_or(s.updated_at)),
                s.attempts.to_string(),
                table::cut(
                    &sender(j.payload.as_deref()).unwrap_or_else(|| "-".to_owned()),
                    40,
                ),
                table::cut(s.last_error.as_deref().unwrap_or("-"), 80),
            ]
        })
        .collect();
    table::columns(&["ID", "DIED", "ATTEMPTS", "FROM", "REASON"], &rows)
}

fn show(job: &DeadJob) -> String {
    let mut out = status::describe(&job.status);
    let payload = job.payload.as_deref().map_or_else(
        || "(not kept)".to_owned(),
        |p| {
            serde_json::from_str::<serde_json::Value>(p)
                .and_then(|v| serde_json::to_string_pretty(&v))
                .unwrap_or_else(|_| p.to_owned())
        },
    );
    out.push_str("payload\n");
    out.push_str(&payload);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_bars_fill_in_proportion() {
        assert_eq!(progress(0, 4, 4), "[    ] 0/4");
        assert_eq!(progress(2, 4, 4), "[##  ] 2/4");
        assert_eq!(progress(4, 4, 4), "[####] 4/4");
    }

    #[test]
    fn senders_are_read_from_payloads() {
        assert_eq!(
            sender(Some(r#"{"version":"v1","from":"A <a@example.com>"}"#)).as_deref(),
            Some("A <a@example.com>")
        );
        assert_eq!(sender(Some("{not json")), None);
        assert_eq!(sender(None), None);
    }
}
