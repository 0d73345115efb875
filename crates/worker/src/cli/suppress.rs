//! `mailroom suppress add|rm|list|check`: the suppression list, globally or for one mailing
//! list (`--list ID`).

use mailroom_jobs::Address;
use mailroom_queue::{SuppressReason, SuppressScope, Suppression};

use super::{CliError, CliResult, connect, redis, table};
use crate::config::Config;

/// `mailroom suppress` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum SuppressCommand {
    /// Stop sending to ADDRESS (everywhere, or on one list with --list). An address already
    /// suppressed keeps its first reason and time.
    Add {
        /// The address.
        address: String,
        /// Only the mail of this list id (a job's `list.id`).
        #[arg(long, value_name = "ID")]
        list: Option<String>,
        /// Why: unsubscribed, hard_bounce, complaint or manual.
        #[arg(long, default_value = "manual", value_parser = parse_reason)]
        reason: SuppressReason,
    },
    /// Send to ADDRESS again (in the scope given).
    Rm {
        /// The address.
        address: String,
        /// The list id the suppression is for; without it, the global one.
        #[arg(long, value_name = "ID")]
        list: Option<String>,
    },
    /// List the suppressed addresses of a scope (global by default).
    List {
        /// The list id; without it, the global suppressions.
        #[arg(long, value_name = "ID")]
        list: Option<String>,
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Say whether mail to ADDRESS (on list ID) would be dropped, and why. Exit status 0
    /// either way.
    Check {
        /// The address.
        address: String,
        /// The list id of the mail in question.
        #[arg(long, value_name = "ID")]
        list: Option<String>,
        /// Print the answer as JSON.
        #[arg(long)]
        json: bool,
    },
}

fn parse_reason(s: &str) -> Result<SuppressReason, String> {
    s.parse()
}

/// The scope named by `--list`, checked like a job's `list.id`.
fn scope(list: Option<String>) -> Result<SuppressScope, CliError> {
    match list {
        None => Ok(SuppressScope::Global),
        Some(id) => {
            mailroom_jobs::check_list_id(&id)
                .map_err(|e| CliError::Invalid(format!("--list: {e}")))?;
            Ok(SuppressScope::List(id))
        }
    }
}

/// The bare address of `text` (`Jane <jane@example.com>` or `jane@example.com`), in the
/// lower case the list keeps it in.
fn address(text: &str) -> Result<String, CliError> {
    let parsed = Address::parse(text).map_err(|e| CliError::Invalid(format!("ADDRESS: {e}")))?;
    Ok(mailroom_queue::normalize_suppressed(parsed.email()))
}

/// Runs a `mailroom suppress` subcommand.
pub async fn run(config: &Config, cmd: SuppressCommand) -> CliResult {
    let queue = connect(config).await?;
    match cmd {
        SuppressCommand::Add {
            address: a,
            list,
            reason,
        } => {
            let (a, scope) = (address(&a)?, scope(list)?);
            let added = queue.suppress(&scope, &a, reason).await.map_err(redis)?;
            if added {
                println!("suppressed {a} ({scope}): {reason}");
            } else {
                println!("{a} was already suppressed ({scope}); unchanged");
            }
        }
        SuppressCommand::Rm { address: a, list } => {
            let (a, scope) = (address(&a)?, scope(list)?);
            if queue.unsuppress(&scope, &a).await.map_err(redis)? {
                println!("{a} is no longer suppressed ({scope})");
            } else {
                return Err(CliError::Failed(anyhow::anyhow!(
                    "{a} is not suppressed ({scope})"
                )));
            }
        }
        SuppressCommand::List { list, json } => {
            let entries = queue.suppressions(&scope(list)?).await.map_err(redis)?;
            print_entries(&entries, json)?;
        }
        SuppressCommand::Check {
            address: a,
            list,
            json,
        } => {
            let a = address(&a)?;
            if let Some(id) = &list {
                scope(Some(id.clone()))?;
            }
            let found = queue
                .suppressed_among(&[a.as_str()], list.as_deref())
                .await
                .map_err(redis)?;
            if json {
                print_entries(&found, true)?;
            } else if let Some(s) = found.first() {
                println!(
                    "{a} is suppressed ({}): {} since {}",
                    s.scope,
                    s.reason,
                    table::time(s.at)
                );
            } else {
                println!("{a} is not suppressed");
            }
        }
    }
    Ok(())
}

fn print_entries(entries: &[Suppression], json: bool) -> CliResult {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(entries).map_err(anyhow::Error::from)?
        );
        return Ok(());
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|s| {
            vec![
                s.address.clone(),
                s.scope.to_string(),
                s.reason.to_string(),
                table::time(s.at),
            ]
        })
        .collect();
    print!(
        "{}",
        table::columns(&["ADDRESS", "SCOPE", "REASON", "SINCE"], &rows)
    );
    Ok(())
}
