//! `mailroom auth …`: enroll senders (`login`), and look after their credentials (`list`,
//! `check`, `revoke`, `rotate-key`, `new-key`).
//!
//! No command prints a token or a secret, except `new-key`, whose whole purpose is to print
//! a new key for the operator to store.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use mailroom_queue::{SenderState, normalize_sender};
use secrecy::ExposeSecret;
use tokio::sync::{mpsc, oneshot};

use super::{CliError, CliResult, connect, table};
use crate::config::{Config, CredentialKind};
use crate::credentials::{
    AuthorizedUserSource, ClientSecrets, RefreshHook, ServiceAccountSource, StoreError, TokenKeys,
    TokenSource, TokenStore, build_http_client,
};
use crate::onboarding::{self, EnrollError, Enroller, Revoked};

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

/// Arguments of `mailroom auth login`.
#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// The OAuth client's client_secret.json (a Desktop app); default `[credentials]
    /// client_secrets`.
    #[arg(long, value_name = "FILE")]
    client_secrets: Option<PathBuf>,
    /// Loopback port for Google's redirect; 0 picks a free one. Default `[credentials]
    /// login_port`.
    #[arg(long)]
    port: Option<u16>,
    /// Do not try to open a browser; only print the URL.
    #[arg(long)]
    no_browser: bool,
    /// Store the token even if the account is not in `[jobs] allowed_senders`.
    #[arg(long)]
    force: bool,
    /// How long to wait for the browser.
    #[arg(long, hide = true, default_value = "5m", value_parser = humantime_serde::re::humantime::parse_duration)]
    timeout: Duration,
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

/// A redirect that reached the loopback listener, and where to send the browser's page.
struct Redirect {
    params: HashMap<String, String>,
    reply: oneshot::Sender<Response>,
}

async fn loopback(
    State(tx): State<mpsc::Sender<Redirect>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let (reply, page) = oneshot::channel();
    if tx.send(Redirect { params, reply }).await.is_err() {
        return onboarding::error_page(StatusCode::GONE, "mailroom is no longer waiting.");
    }
    page.await.unwrap_or_else(|_| {
        onboarding::error_page(StatusCode::GONE, "mailroom stopped before answering.")
    })
}

async fn login(config: &Config, args: LoginArgs) -> CliResult {
    let secrets = ClientSecrets::from_config(args.client_secrets.as_deref(), &config.credentials)
        .map_err(|e| CliError::Invalid(e.to_string()))?;
    let keys = keys(config)?;
    let policy = config.policy()?;
    if config.credentials.kind != CredentialKind::AuthorizedUser {
        eprintln!(
            "note: [credentials] kind is {}; the worker uses stored tokens only with kind = \
             \"authorized_user\"",
            config.credentials.kind.as_str()
        );
    }
    let queue = connect(config).await?;
    let enroller = Enroller::new(
        TokenStore::new(queue, keys),
        secrets,
        &config.google,
        &policy,
    )
    .map_err(|e| CliError::Invalid(e.to_string()))?;

    let port = args.port.unwrap_or(config.credentials.login_port);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| CliError::Failed(anyhow::anyhow!("cannot listen on 127.0.0.1:{port}: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| CliError::Failed(e.into()))?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}/");
    let auth = enroller
        .authorization(&redirect_uri)
        .map_err(|e| CliError::Invalid(e.to_string()))?;

    let (tx, mut rx) = mpsc::channel::<Redirect>(4);
    let (stop, stopped) = oneshot::channel::<()>();
    let app = Router::new().route("/", get(loopback)).with_state(tx);
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });

    eprintln!(
        "Open this URL in a browser and sign in as the sender:\n\n    {}\n",
        auth.url
    );
    if !args.no_browser {
        open_browser(auth.url.as_str());
    }
    eprintln!(
        "Waiting for Google's redirect to {redirect_uri} (up to {}; Ctrl-C gives up)…",
        table::duration(args.timeout)
    );

    let deadline = tokio::time::Instant::now() + args.timeout;
    let verifier = auth.verifier;
    let outcome = loop {
        let Ok(next) = tokio::time::timeout_at(deadline, rx.recv()).await else {
            break Err(CliError::Failed(anyhow::anyhow!(
                "no answer from the browser within {}",
                table::duration(args.timeout)
            )));
        };
        let Some(Redirect { params, reply }) = next else {
            break Err(CliError::Failed(anyhow::anyhow!(
                "the loopback listener stopped"
            )));
        };
        let param = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let state_ok =
            param("state").is_some_and(|s| onboarding::same_secret(s, auth.state.expose_secret()));
        if !state_ok {
            eprintln!("warning: ignored a redirect whose state does not match this login");
            let _ = reply.send(onboarding::error_page(
                StatusCode::BAD_REQUEST,
                "This answer does not belong to the sign-in mailroom is waiting for (the state \
                 does not match). Use the URL mailroom printed.",
            ));
            continue;
        }
        if let Some(error) = param("error") {
            let e = EnrollError::Denied(onboarding::describe_denial(
                error,
                param("error_description"),
            ));
            let _ = reply.send(onboarding::error_page(
                StatusCode::BAD_REQUEST,
                &e.to_string(),
            ));
            break Err(CliError::Failed(e.into()));
        }
        let Some(code) = param("code") else {
            let _ = reply.send(onboarding::error_page(
                StatusCode::BAD_REQUEST,
                "Google's answer has no authorization code.",
            ));
            break Err(CliError::Failed(anyhow::anyhow!(
                "Google's redirect had no authorization code"
            )));
        };
        match enroller
            .complete(code, verifier, &redirect_uri, args.force)
            .await
        {
            Ok(enrolled) => {
                let _ = reply.send(onboarding::confirmation(&enrolled));
                break Ok(enrolled);
            }
            Err(e) => {
                let _ = reply.send(onboarding::error_page(
                    StatusCode::BAD_REQUEST,
                    &e.to_string(),
                ));
                break Err(match e {
                    EnrollError::NotAllowed(_) => CliError::Invalid(e.to_string()),
                    e => CliError::Failed(e.into()),
                });
            }
        }
    };
    // Let the page reach the browser before the listener goes.
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
    let enrolled = outcome?;
    if enrolled.released {
        eprintln!("lifted the quarantine of {}", enrolled.email);
    }
    if let Some(e) = &enrolled.release_error {
        eprintln!(
            "warning: could not lift the quarantine of {}: {e}; run `mailroom auth check {}`",
            enrolled.email, enrolled.email
        );
    }
    println!("stored a token for {}", enrolled.email);
    Ok(())
}

/// Tries to open `url` in the desktop's browser; failures are ignored (the URL is printed).
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let _ = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

/// One row of `mailroom auth list`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
struct Row {
    sender: String,
    kind: &'static str,
    last_refresh: Option<chrono::DateTime<chrono::Utc>>,
    health: String,
}

fn health(state: Option<&SenderState>, fallback: String) -> String {
    if let Some(s) = state {
        if let Some(reason) = &s.quarantined {
            return format!("quarantined: {reason}");
        }
        if let Some(until) = s
            .paused_until_ms
            .and_then(chrono::DateTime::from_timestamp_millis)
        {
            let reason = s.pause_reason.as_deref().unwrap_or("rate limited");
            return format!("paused until {}: {reason}", table::time(until));
        }
    }
    fallback
}

async fn list(config: &Config, json: bool) -> CliResult {
    let queue = connect(config).await?;
    let states: BTreeMap<String, SenderState> = queue
        .sender_states()
        .await
        .map_err(super::redis)?
        .into_iter()
        .map(|s| (normalize_sender(&s.sender), s))
        .collect();
    let mut rows = Vec::new();
    match config.credentials.kind {
        CredentialKind::AuthorizedUser => {
            let kind = CredentialKind::AuthorizedUser.as_str();
            let infos = TokenStore::without_keys(queue)
                .list()
                .await
                .map_err(|e| store_failure(&e))?;
            for info in &infos {
                let fallback = match (&info.last_error, info.refreshed_at) {
                    (Some(e), _) => format!("failing: {e}"),
                    (None, Some(_)) => "ok".to_owned(),
                    (None, None) => "never refreshed".to_owned(),
                };
                rows.push(Row {
                    sender: info.sender.clone(),
                    kind,
                    last_refresh: info.refreshed_at,
                    health: health(states.get(&info.sender), fallback),
                });
            }
            for (sender, state) in &states {
                if !infos.iter().any(|i| &i.sender == sender) {
                    rows.push(Row {
                        sender: sender.clone(),
                        kind,
                        last_refresh: None,
                        health: health(Some(state), "no stored token".to_owned()),
                    });
                }
            }
        }
        CredentialKind::ServiceAccount => {
            let kind = CredentialKind::ServiceAccount.as_str();
            let mut senders: Vec<String> = exact_senders(config);
            senders.extend(states.keys().cloned());
            senders.sort();
            senders.dedup();
            for sender in senders {
                rows.push(Row {
                    health: health(states.get(&sender), "ok".to_owned()),
                    sender,
                    kind,
                    last_refresh: None,
                });
            }
        }
    }
    rows.sort_by(|a, b| a.sender.cmp(&b.sender));
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
                r.health,
            ]
        })
        .collect();
    print!(
        "{}",
        table::columns(&["SENDER", "KIND", "LAST REFRESH", "HEALTH"], &cells)
    );
    Ok(())
}

/// The exact addresses of `[jobs] allowed_senders` (not the `*@domain` patterns).
fn exact_senders(config: &Config) -> Vec<String> {
    config
        .jobs
        .allowed_senders
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.starts_with("*@") && p.contains('@'))
        .map(normalize_sender)
        .collect()
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
    let said = onboarding::revoke_token(&http, &config.google.revoke_url, &stored.refresh_token)
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
    let (source, senders): (Box<dyn TokenSource>, Vec<String>) = match config.credentials.kind {
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
            (Box::new(source), senders)
        }
        CredentialKind::ServiceAccount => {
            let source = ServiceAccountSource::from_config(config, hook)
                .map_err(|e| CliError::Invalid(e.to_string()))?;
            let senders = match sender {
                Some(s) => vec![normalize_sender(s)],
                None => exact_senders(config),
            };
            (Box::new(source), senders)
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
    let mut rows = Vec::with_capacity(senders.len());
    let mut failed = 0;
    for sender in &senders {
        let result = match source.token(sender).await {
            Ok(_) => match queue.release_sender(sender).await {
                Ok(true) => "ok (quarantine lifted)".to_owned(),
                Ok(false) => "ok".to_owned(),
                Err(e) => format!("ok, but lifting the quarantine failed: {e}"),
            },
            Err(e) => {
                failed += 1;
                e.to_string()
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
