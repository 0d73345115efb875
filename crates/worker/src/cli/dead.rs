//! `mailroom dead …`: the dead-letter set.

use mailroom_queue::{DeadJob, DeadSelection};

use super::{CliError, CliResult, connect, job_id, status, table};
use crate::config::Config;

/// `mailroom dead` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum DeadCommand {
    /// Dead jobs, newest first.
    List {
        /// How many to show.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// How many of the newest to skip.
        #[arg(long, default_value_t = 0)]
        offset: usize,
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

/// Which dead jobs: ids, or `--all`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["ids", "all"])))]
pub struct Selection {
    /// Job ids.
    #[arg(value_name = "ID")]
    ids: Vec<String>,
    /// Every dead job.
    #[arg(long)]
    all: bool,
}

impl Selection {
    fn parse(&self) -> Result<DeadSelection, CliError> {
        if self.all {
            return Ok(DeadSelection::All);
        }
        self.ids
            .iter()
            .map(|s| job_id(s))
            .collect::<Result<_, _>>()
            .map(DeadSelection::Ids)
    }
}

/// Runs a `mailroom dead` subcommand.
pub async fn run(config: &Config, cmd: DeadCommand) -> CliResult {
    let queue = connect(config).await?;
    match cmd {
        DeadCommand::List {
            limit,
            offset,
            json,
        } => {
            let jobs = queue.dead_list(offset, limit).await.map_err(super::redis)?;
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
            let n = queue
                .dead_retry(which.parse()?)
                .await
                .map_err(super::redis)?;
            println!("retried {n}");
        }
        DeadCommand::Purge(which) => {
            let n = queue
                .dead_purge(which.parse()?)
                .await
                .map_err(super::redis)?;
            println!("purged {n}");
        }
    }
    Ok(())
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
                table::cut(s.last_error.as_deref().unwrap_or("-"), 80),
            ]
        })
        .collect();
    table::columns(&["ID", "DIED", "ATTEMPTS", "REASON"], &rows)
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
