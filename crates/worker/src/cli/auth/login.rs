//! `mailroom auth login`: the installed-app flow. A loopback listener receives Google's
//! redirect; `state` and PKCE are checked, the code is exchanged, and the sender's refresh
//! token is stored encrypted.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use secrecy::ExposeSecret;
use tokio::sync::{mpsc, oneshot};

use super::keys;
use crate::cli::{CliError, CliResult, connect, table};
use crate::config::{Config, CredentialKind};
use crate::credentials::{ClientSecrets, TokenStore};
use crate::onboarding::{self, EnrollError, Enroller};

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

pub(super) async fn login(config: &Config, args: LoginArgs) -> CliResult {
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
