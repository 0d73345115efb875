//! `mailroom queue …`: queue-wide views.

use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

use mailroom_queue::{Queue, QueueStats};

use super::{CliError, CliResult, connect, table};
use crate::config::Config;

/// `mailroom queue` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum QueueCommand {
    /// Counts of ready, scheduled, in-flight and dead jobs, the age of the oldest ready job,
    /// jobs ever enqueued, and the registered workers.
    Stats {
        /// Print the counts as JSON.
        #[arg(long)]
        json: bool,
        /// Redraw every SECS seconds (default 2) until Ctrl-C.
        #[arg(
            long,
            value_name = "SECS",
            num_args = 0..=1,
            default_missing_value = "2",
            value_parser = clap::value_parser!(u64).range(1..)
        )]
        watch: Option<u64>,
    },
}

/// Runs a `mailroom queue` subcommand.
pub async fn run(config: &Config, cmd: QueueCommand) -> CliResult {
    match cmd {
        QueueCommand::Stats { json, watch } => {
            let queue = connect(config).await?;
            let Some(every) = watch else {
                return print_stats(&queue, &config.queue.name, json, None).await;
            };
            let redraw = Redraw {
                every,
                clear: !json && std::io::stdout().is_terminal(),
            };
            let mut tick = tokio::time::interval(Duration::from_secs(every));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // One Ctrl-C listener for the whole watch, so an interrupt that arrives while a
            // table is being read or drawn is not lost.
            let interrupted = tokio::signal::ctrl_c();
            tokio::pin!(interrupted);
            loop {
                tokio::select! {
                    _ = &mut interrupted => return Ok(()),
                    _ = tick.tick() => {}
                }
                tokio::select! {
                    _ = &mut interrupted => return Ok(()),
                    drawn = print_stats(&queue, &config.queue.name, json, Some(redraw)) => drawn?,
                }
            }
        }
    }
}

/// How `--watch` redraws.
#[derive(Debug, Clone, Copy)]
struct Redraw {
    /// Seconds between two draws.
    every: u64,
    /// Clear the screen first (stdout is a terminal); else each table follows the last.
    clear: bool,
}

/// Reads the stats and prints them once, or as one frame of `--watch`.
async fn print_stats(queue: &Queue, name: &str, json: bool, redraw: Option<Redraw>) -> CliResult {
    let stats = queue.stats().await.map_err(super::redis)?;
    let out = if json {
        serde_json::to_string(&stats).map_err(anyhow::Error::from)? + "\n"
    } else {
        describe(name, &stats)
    };
    let mut stdout = std::io::stdout().lock();
    let now = table::time(chrono::Utc::now());
    let written = match redraw {
        // Home the cursor and clear the screen, then draw.
        Some(Redraw { every, clear: true }) => write!(
            stdout,
            "\x1b[H\x1b[2J{now}  (every {every}s; Ctrl-C stops)\n\n{out}"
        ),
        Some(Redraw { clear: false, .. }) if !json => write!(stdout, "{now}\n{out}\n"),
        _ => write!(stdout, "{out}"),
    };
    written
        .and_then(|()| stdout.flush())
        .map_err(|e| CliError::Failed(anyhow::anyhow!("writing to stdout: {e}")))
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
        vec!["enqueued (all time)".to_owned(), s.enqueued.to_string()],
        vec!["workers".to_owned(), s.workers.to_string()],
    ];
    table::columns(&["METRIC", "VALUE"], &rows)
}
