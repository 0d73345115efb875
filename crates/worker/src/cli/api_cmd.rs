//! `mailroom api`: serve the HTTP API (see [`crate::api`]); `mailroom api new-key`: mint an
//! API key.

use super::{CliError, CliResult};
use crate::config::Config;

/// Arguments of `mailroom api`.
#[derive(Debug, clap::Args)]
pub struct ApiArgs {
    /// Without a subcommand, serve the API until SIGTERM or SIGINT.
    #[command(subcommand)]
    command: Option<ApiCommand>,
}

impl ApiArgs {
    /// Whether this serves the API (rather than run a one-off subcommand).
    #[must_use]
    pub fn serves(&self) -> bool {
        self.command.is_none()
    }
}

/// `mailroom api` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ApiCommand {
    /// Print a new API key's secret (shown once, never stored) and its line for
    /// `api.keys_file`.
    NewKey {
        /// The key's id, e.g. `billing` (letters, digits, `_`, `-`, `.`).
        id: String,
        /// What the key may do: a comma-separated list of send, read, admin.
        #[arg(long, value_name = "SCOPES")]
        scopes: String,
        /// The only senders the key may send as (comma-separated addresses or `*@domain`);
        /// they narrow `jobs.allowed_senders`, never widen it. Default: that list as it is.
        #[arg(long, value_name = "SENDERS")]
        senders: Option<String>,
    },
}

/// Runs `mailroom api`.
pub async fn run(config: Config, args: ApiArgs) -> CliResult {
    match args.command {
        None => {
            let shutdown = crate::signal::shutdown().map_err(|e| {
                CliError::Failed(anyhow::anyhow!("cannot install signal handlers: {e}"))
            })?;
            crate::api::run(config, shutdown)
                .await
                .map_err(CliError::Failed)
        }
        Some(ApiCommand::NewKey {
            id,
            scopes,
            senders,
        }) => {
            let key = crate::api::keys::new_key(&id, &scopes, senders.as_deref())
                .map_err(CliError::Invalid)?;
            eprintln!(
                "The secret below is shown once; give it to the client as \
                 `Authorization: Bearer SECRET`.\nAppend the line after it to api.keys_file."
            );
            println!("secret: {}", key.secret);
            println!("line:   {}", key.line);
            Ok(())
        }
    }
}
