//! `mailroom queue …`: queue-wide views.

use mailroom_queue::QueueStats;

use super::{CliResult, connect, table};
use crate::config::Config;

/// `mailroom queue` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum QueueCommand {
    /// Counts of ready, scheduled, in-flight and dead jobs, and the registered workers.
    Stats {
        /// Print the counts as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Runs a `mailroom queue` subcommand.
pub async fn run(config: &Config, cmd: QueueCommand) -> CliResult {
    match cmd {
        QueueCommand::Stats { json } => {
            let queue = connect(config).await?;
            let stats = queue.stats().await.map_err(super::redis)?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&stats).map_err(anyhow::Error::from)?
                );
            } else {
                print!("{}", describe(&config.queue.name, &stats));
            }
            Ok(())
        }
    }
}

/// The stats as a two-column table.
pub fn describe(name: &str, s: &QueueStats) -> String {
    let rows = [
        vec!["queue".to_owned(), name.to_owned()],
        vec!["ready".to_owned(), s.ready.to_string()],
        vec!["scheduled".to_owned(), s.scheduled.to_string()],
        vec!["in flight".to_owned(), s.in_flight.to_string()],
        vec!["dead".to_owned(), s.dead.to_string()],
        vec![
            "oldest ready".to_owned(),
            s.oldest_ready_age
                .map_or_else(|| "-".to_owned(), table::duration),
        ],
        vec!["workers".to_owned(), s.workers.to_string()],
    ];
    table::columns(&["METRIC", "VALUE"], &rows)
}
