//! `mailroom auth login`: enrollment with the installed-app flow. A loopback listener receives
//! Google's redirect; once its `state` matches, the shared finish step
//! ([`Enroller::finish`]) exchanges the code and stores the sender's refresh token encrypted.

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
use tokio::task::JoinHandle;

use super::keys;
use crate::cli::{CliError, CliResult, connect, table};
use crate::config::{Config, CredentialKind};
use crate::credentials::{ClientSecrets, TokenStore};
use crate::enroll::{self, Authorization, EnrollError, Enrolled, Enroller, Redirect, same_secret};

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
struct Answer {
    redirect: Redirect,
    reply: oneshot::Sender<Response>,
}

async fn receive(
    State(tx): State<mpsc::Sender<Answer>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let (reply, page) = oneshot::channel();
    let redirect = Redirect::new(params);
    if tx.send(Answer { redirect, reply }).await.is_err() {
        return enroll::error_page(StatusCode::GONE, "mailroom is no longer waiting.");
    }
    page.await.unwrap_or_else(|_| {
        enroll::error_page(StatusCode::GONE, "mailroom stopped before answering.")
    })
}

/// The loopback listener, serving until [`Loopback::stop`].
struct Loopback {
    redirect_uri: String,
    answers: mpsc::Receiver<Answer>,
    stop: oneshot::Sender<()>,
    server: JoinHandle<std::io::Result<()>>,
}

impl Loopback {
    /// Listens on `127.0.0.1:port` (0: a free port).
    async fn start(port: u16) -> Result<Self, CliError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| {
                CliError::Failed(anyhow::anyhow!("cannot listen on 127.0.0.1:{port}: {e}"))
            })?;
        let port = listener
            .local_addr()
            .map_err(|e| CliError::Failed(e.into()))?
            .port();
        let (tx, answers) = mpsc::channel::<Answer>(4);
        let (stop, stopped) = oneshot::channel::<()>();
        let app = Router::new().route("/", get(receive)).with_state(tx);
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Ok(Self {
            redirect_uri: format!("http://127.0.0.1:{port}/"),
            answers,
            stop,
            server,
        })
    }

    /// Stops, letting the last page reach the browser first.
    async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(2), self.server).await;
    }
}

pub(super) async fn login(config: &Config, args: LoginArgs) -> CliResult {
    let enroller = enroller(config, &args).await?;
    let port = args.port.unwrap_or(config.credentials.login_port);
    let mut loopback = Loopback::start(port).await?;
    let auth = enroller
        .authorization(&loopback.redirect_uri)
        .map_err(|e| CliError::Invalid(e.to_string()))?;
    eprintln!(
        "Open this URL in a browser and sign in as the sender:\n\n    {}\n",
        auth.url
    );
    if !args.no_browser {
        open_browser(auth.url.as_str());
    }
    eprintln!(
        "Waiting for Google's redirect to {} (up to {}; Ctrl-C gives up)…",
        loopback.redirect_uri,
        table::duration(args.timeout)
    );
    let outcome = wait(&enroller, &mut loopback, auth, &args).await;
    loopback.stop().await;
    report(&outcome?);
    Ok(())
}

/// The enroller `[credentials]` (or `--client-secrets`) describes.
async fn enroller(config: &Config, args: &LoginArgs) -> Result<Enroller, CliError> {
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
    Enroller::new(
        TokenStore::new(queue, keys),
        secrets,
        &config.google,
        &policy,
    )
    .map(|e| {
        e.with_hosted_domain(config.credentials.hosted_domain.as_deref())
            .with_read_scope(config.gmail.read_scope())
            .with_settings_scope(config.gmail.check_send_as)
    })
    .map_err(|e| CliError::Invalid(e.to_string()))
}

/// Waits for the redirect that carries `auth`'s state (ignoring others) and finishes the
/// enrollment with it; the browser gets the page of the outcome.
async fn wait(
    enroller: &Enroller,
    loopback: &mut Loopback,
    auth: Authorization,
    args: &LoginArgs,
) -> Result<Enrolled, CliError> {
    let deadline = tokio::time::Instant::now() + args.timeout;
    loop {
        let Ok(next) = tokio::time::timeout_at(deadline, loopback.answers.recv()).await else {
            return Err(CliError::Failed(anyhow::anyhow!(
                "no answer from the browser within {}",
                table::duration(args.timeout)
            )));
        };
        let Some(Answer { redirect, reply }) = next else {
            return Err(CliError::Failed(anyhow::anyhow!(
                "the loopback listener stopped"
            )));
        };
        if !redirect
            .state()
            .is_some_and(|s| same_secret(s, auth.state.expose_secret()))
        {
            eprintln!("warning: ignored a redirect whose state does not match this login");
            let _ = reply.send(enroll::error_page(
                StatusCode::BAD_REQUEST,
                "This answer does not belong to the sign-in mailroom is waiting for (the state \
                 does not match). Use the URL mailroom printed.",
            ));
            continue;
        }
        let result = enroller
            .finish(&redirect, auth.verifier, &loopback.redirect_uri, args.force)
            .await;
        let _ = reply.send(enroll::finished_page(&result));
        return result.map_err(|e| match e {
            EnrollError::NotAllowed(_) => CliError::Invalid(e.to_string()),
            e => CliError::Failed(e.into()),
        });
    }
}

/// Tells the operator what was stored and what became of the quarantine.
fn report(enrolled: &Enrolled) {
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
}

/// Tries to open `url` in the desktop's browser; failures are ignored (the URL is printed).
fn open_browser(url: &str) {
    let _ = browser_command(url, std::env::vars_os().map(|(k, _)| k)).spawn();
}

/// The command that opens `url`, without any `MAILROOM*` variable of `vars` (the token keys,
/// a Redis password): the browser and whatever it starts never see them.
fn browser_command(
    url: &str,
    vars: impl Iterator<Item = std::ffi::OsString>,
) -> std::process::Command {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let mut command = std::process::Command::new(opener);
    command
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    for name in vars.filter(|k| k.to_string_lossy().starts_with("MAILROOM")) {
        command.env_remove(name);
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_browser_starts_without_mailroom_variables() {
        let vars = [
            "MAILROOM_TOKEN_KEYS",
            "MAILROOM__REDIS__URL",
            "HOME",
            "DISPLAY",
        ]
        .map(std::ffi::OsString::from);
        let command = browser_command("https://accounts.example/auth", vars.into_iter());
        let removed: Vec<_> = command
            .get_envs()
            .filter(|(_, value)| value.is_none())
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        assert_eq!(removed, ["MAILROOM_TOKEN_KEYS", "MAILROOM__REDIS__URL"]);
    }
}
