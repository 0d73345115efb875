//! `mailroom dead …`: the dead-letter set.

use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use mailroom_jobs::JobId;
use mailroom_queue::{DeadJob, Queue};

use super::{CliError, CliResult, connect, status, table};
use crate::admin::dead::{self as shared, Action, BULK_CHUNK, DeadQuery};
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
    shared::parse_age(text)
}

impl Filters {
    fn query(&self) -> DeadQuery {
        DeadQuery {
            sender: self.sender.clone(),
            reason: self.reason.clone(),
            older_than: self.older_than,
            newer_than: self.newer_than,
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
        Ok(shared::resolve(queue, &self.ids, &self.filters.query()).await?)
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
            let jobs = shared::list(&queue, &filters.query(), offset, limit).await?;
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
            let id = shared::job_id(&id)?;
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
            println!("retried {n}{}", shared::retried_note(n, ids.len()));
        }
        DeadCommand::Purge(which) => {
            let ids = which.resolve(&queue).await?;
            let n = bulk(&queue, Action::Purge, &ids).await?;
            println!("purged {n}");
        }
    }
    Ok(())
}

/// Retries or purges `ids`, drawing a progress bar on stderr when it is a terminal; returns
/// how many jobs were acted on.
async fn bulk(queue: &Queue, action: Action, ids: &[JobId]) -> Result<u64, CliError> {
    let bar = (ids.len() > BULK_CHUNK && std::io::stderr().is_terminal()).then_some(ids.len());
    let acted = shared::bulk(queue, action, ids, |done| {
        if let Some(total) = bar {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{}", progress(done, total, 30));
            let _ = err.flush();
        }
    })
    .await?;
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
