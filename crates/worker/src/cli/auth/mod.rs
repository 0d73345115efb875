//! `mailroom auth …`: enroll senders (`login`), and look after their credentials (`list`,
//! `check`, `revoke`, `rotate-key`, `new-key`).
//!
//! No command prints a token or a secret, except `new-key`, whose whole purpose is to print
//! a new key for the operator to store.

mod login;

use std::sync::Arc;

use mailroom_queue::normalize_sender;

use super::{CliError, CliResult, connect, table};
use crate::admin::senders;
use crate::config::{Config, CredentialKind};
use crate::credentials::{
    AuthorizedUserSource, GMAIL_METADATA_SCOPE, RefreshHook, ServiceAccountSource, StoreError,
    TokenKeys, TokenSource, TokenStore,
};
use crate::enroll::{self, Revoked};
use crate::google_http::build_http_client;
use crate::transport::GmailTransport;

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
    /// Get an access token for every sender (or SENDER) and report; lifts the quarantine of
    /// those that work. Exits 1 if any fails.
    Check {
        /// Check only this sender.
        sender: Option<String>,
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
        AuthCommand::Check { sender } => check(config, sender.as_deref()).await,
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
    let store = TokenStore::new(queue, keys(config)?);
    let stored = match store.get(&sender).await {
        Ok(Some(stored)) => stored,
        Ok(None) => return Err(CliError::Invalid(format!("no stored token for {sender}"))),
        Err(e @ (StoreError::Key { .. } | StoreError::Corrupt { .. })) => {
            return Err(CliError::Failed(anyhow::anyhow!(
                "{e}; `mailroom auth revoke --local {sender}` deletes it without revoking"
            )));
        }
        Err(e) => return Err(store_failure(&e)),
    };
    let http = build_http_client(&config.google).map_err(|e| CliError::Failed(e.into()))?;
    let said = enroll::revoke_token(&http, &config.google.revoke_url, &stored.refresh_token)
        .await
        .map_err(|e| {
            CliError::Failed(anyhow::anyhow!(
                "revoking the token of {sender} at Google failed: {e}; it is still stored (run \
                 again, or use --local to only delete it)"
            ))
        })?;
    store.remove(&sender).await.map_err(|e| store_failure(&e))?;
    match said {
        Revoked::Revoked => println!("revoked the token of {sender} and deleted it"),
        Revoked::AlreadyInvalid => {
            println!("the token of {sender} was already invalid at Google; deleted it");
        }
    }
    Ok(())
}

async fn check(config: &Config, sender: Option<&str>) -> CliResult {
    let queue = connect(config).await?;
    let hook: RefreshHook = Arc::new(|_ok| {});
    let (source, senders): (Arc<dyn TokenSource>, Vec<String>) = match config.credentials.kind {
        CredentialKind::AuthorizedUser => {
            let source = AuthorizedUserSource::from_config(config, queue.clone(), hook)
                .map_err(|e| CliError::Invalid(e.to_string()))?;
            let senders = match sender {
                Some(s) => vec![normalize_sender(s)],
                None => source
                    .store()
                    .list()
                    .await
                    .map_err(|e| store_failure(&e))?
                    .into_iter()
                    .map(|i| i.sender)
                    .collect(),
            };
            (Arc::new(source), senders)
        }
        CredentialKind::ServiceAccount => {
            let source = ServiceAccountSource::from_config(config, hook)
                .map_err(|e| CliError::Invalid(e.to_string()))?;
            let senders = match sender {
                Some(s) => vec![normalize_sender(s)],
                None => senders::exact_senders(config)?,
            };
            (Arc::new(source), senders)
        }
    };
    if senders.is_empty() {
        return Err(CliError::Invalid(match config.credentials.kind {
            CredentialKind::AuthorizedUser => {
                "no stored tokens to check; run `mailroom auth login`".to_owned()
            }
            CredentialKind::ServiceAccount => {
                "no sender to check: [jobs] allowed_senders names no exact address; give SENDER"
                    .to_owned()
            }
        }));
    }
    let sent_access = sent_access_check(config, &source)?;
    let mut rows = Vec::with_capacity(senders.len());
    let mut failed = 0;
    for sender in &senders {
        let token = match (source.token(sender).await, &sent_access) {
            (Ok(_), Some(gmail)) => gmail.check_sent_access(sender).await.map_err(|e| {
                format!("{e} (gmail.check_before_resend needs the scope {GMAIL_METADATA_SCOPE})")
            }),
            (Ok(_), None) => Ok(()),
            (Err(e), _) => Err(e.to_string()),
        };
        let result = match token {
            Ok(()) => match queue.release_sender(sender).await {
                Ok(true) => "ok (quarantine lifted)".to_owned(),
                Ok(false) => "ok".to_owned(),
                Err(e) => format!("ok, but lifting the quarantine failed: {e}"),
            },
            Err(e) => {
                failed += 1;
                e
            }
        };
        rows.push(vec![sender.clone(), result]);
    }
    print!("{}", table::columns(&["SENDER", "RESULT"], &rows));
    if failed > 0 {
        return Err(CliError::Failed(anyhow::anyhow!(
            "{failed} of {} senders have no working credentials",
            senders.len()
        )));
    }
    Ok(())
}

/// With `gmail.check_before_resend`, a Gmail client to check that each sender's token may
/// list its SENT messages (the `gmail.metadata` scope).
fn sent_access_check(
    config: &Config,
    source: &Arc<dyn TokenSource>,
) -> Result<Option<GmailTransport>, CliError> {
    if !config.gmail.check_before_resend {
        return Ok(None);
    }
    GmailTransport::new(
        &config.google.api_base,
        Arc::clone(source),
        config.google.timeout,
    )
    .map(Some)
    .map_err(|e| CliError::Invalid(format!("cannot load CA certificates: {e}")))
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
