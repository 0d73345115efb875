//! `mailroom auth …`: enroll senders (`login`), and look after their credentials (`list`,
//! `check`, `revoke`, `rotate-key`, `new-key`).
//!
//! No command prints a token or a secret, except `new-key`, whose whole purpose is to print
//! a new key for the operator to store.

mod login;

use std::sync::Arc;

use mailroom_queue::normalize_sender;

use super::{CliError, CliResult, connect, table};
use crate::admin::{credentials, senders};
use crate::config::Config;
use crate::credentials::{StoreError, TokenKeys, TokenStore};

pub use login::LoginArgs;
use login::login;

/// `mailroom auth` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AuthCommand {
    /// Sign in to Google as a sender in a browser and store its refresh token, encrypted
    /// (`[credentials] kind = "authorized_user"`).
    Login(LoginArgs),
    /// Senders with credentials: kind, last refresh and health.
    List {
        /// Print the senders as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a sender's stored token at Google, then delete it.
    Revoke {
        /// The sender's address.
        sender: String,
        /// Only delete the stored token; do not ask Google to revoke it.
        #[arg(long)]
        local: bool,
    },
    /// Get an access token for every sender (or SENDER, or each member of the pool
    /// --pool ADDRESS) and report; lifts the quarantine of those that work. Exits 1 if any
    /// fails.
    Check {
        /// Check only this sender.
        #[arg(conflicts_with = "pool")]
        sender: Option<String>,
        /// Check each member of the sender pool with this address: a token can be had and,
        /// with `gmail.check_send_as`, the address is a verified send-as alias of the member.
        #[arg(long, value_name = "ADDRESS")]
        pool: Option<String>,
    },
    /// Re-encrypt every stored token under the current (first) token key.
    RotateKey,
    /// Print a new random token key line `ID:base64` on stdout, to put first in the key file.
    NewKey {
        /// The new key's id, e.g. `k2` (letters, digits, `_`, `-`, `.`).
        id: String,
    },
}

/// Runs a `mailroom auth` subcommand.
pub async fn run(config: &Config, cmd: AuthCommand) -> CliResult {
    match cmd {
        AuthCommand::Login(args) => login(config, args).await,
        AuthCommand::List { json } => list(config, json).await,
        AuthCommand::Revoke { sender, local } => revoke(config, &sender, local).await,
        AuthCommand::Check { sender, pool } => {
            check(config, sender.as_deref(), pool.as_deref()).await
        }
        AuthCommand::RotateKey => rotate(config).await,
        AuthCommand::NewKey { id } => {
            crate::credentials::check_key_id(&id).map_err(CliError::Invalid)?;
            println!("{}", TokenKeys::generate_line(&id));
            Ok(())
        }
    }
}

fn keys(config: &Config) -> Result<Arc<TokenKeys>, CliError> {
    TokenKeys::from_config(&config.credentials)
        .map(Arc::new)
        .map_err(|e| CliError::Invalid(e.to_string()))
}

fn store_failure(e: &StoreError) -> CliError {
    CliError::Failed(anyhow::anyhow!("{e}"))
}

async fn list(config: &Config, json: bool) -> CliResult {
    let queue = connect(config).await?;
    let rows = senders::rows(config, &queue).await?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).map_err(anyhow::Error::from)?
        );
        return Ok(());
    }
    if rows.is_empty() {
        eprintln!("no senders with credentials yet; run `mailroom auth login`");
        return Ok(());
    }
    let cells: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| {
            vec![
                r.sender,
                r.kind.to_owned(),
                r.last_refresh.map_or_else(|| "-".to_owned(), table::time),
                format!("{}/{}", r.quota.minute.used, r.quota.minute.limit),
                format!("{}/{}", r.quota.day.used, r.quota.day.limit),
                r.health,
            ]
        })
        .collect();
    print!(
        "{}",
        table::columns(
            &["SENDER", "KIND", "LAST REFRESH", "MINUTE", "DAY", "HEALTH"],
            &cells
        )
    );
    Ok(())
}

async fn revoke(config: &Config, sender: &str, local: bool) -> CliResult {
    let sender = normalize_sender(sender);
    let queue = connect(config).await?;
    if local {
        let removed = TokenStore::without_keys(queue)
            .remove(&sender)
            .await
            .map_err(|e| store_failure(&e))?;
        if !removed {
            return Err(CliError::Invalid(format!("no stored token for {sender}")));
        }
        println!("deleted the stored token of {sender} (not revoked at Google)");
        return Ok(());
    }
    println!("{}", credentials::revoke(config, &queue, &sender).await?);
    Ok(())
}

async fn check(config: &Config, sender: Option<&str>, pool: Option<&str>) -> CliResult {
    let queue = connect(config).await?;
    let checked = match pool {
        Some(address) => crate::admin::pool_check::check_pool(config, &queue, address).await?,
        None => credentials::check(config, &queue, sender).await?,
    };
    let failed = checked.iter().filter(|c| !c.ok).count();
    let rows: Vec<Vec<String>> = checked
        .iter()
        .map(|c| vec![c.sender.clone(), c.result.clone()])
        .collect();
    print!("{}", table::columns(&["SENDER", "RESULT"], &rows));
    if failed > 0 {
        return Err(CliError::Failed(anyhow::anyhow!(
            "{failed} of {} senders have no working credentials",
            checked.len()
        )));
    }
    Ok(())
}

async fn rotate(config: &Config) -> CliResult {
    let keys = keys(config)?;
    let current = keys.current_id().to_owned();
    let queue = connect(config).await?;
    let rotation = TokenStore::new(queue, keys)
        .rotate()
        .await
        .map_err(|e| store_failure(&e))?;
    println!(
        "re-encrypted {} token(s) under key {current}; {} already used it",
        rotation.rotated, rotation.already_current
    );
    Ok(())
}
