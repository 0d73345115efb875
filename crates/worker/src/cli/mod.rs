//! The `mailroom` command line: `run` the worker, `send` a job, look after the queue
//! (`status`, `queue stats`, `dead …`) and senders' Gmail credentials (`auth …`).
//!
//! Exit status: 0 on success, 2 for invalid input (arguments, a job, the config), 1 when Redis
//! is unavailable or anything else fails.
//!
//! - `api_cmd`: `mailroom api` (the HTTP API) and `mailroom api new-key`;
//! - `send`: `mailroom send` (`mime`: content types of `--attach` files);
//! - `status`, `queue`, `dead`: a job's state, queue statistics, the dead letters;
//! - `config_cmd`: `mailroom config check`;
//! - `auth`: `mailroom auth …` (`login` enrolls a sender);
//! - `suppress`: `mailroom suppress add|rm|list|check` (the suppression list);
//! - `template`: `mailroom template put|get|list|rm|preview` (stored templates);
//! - `table`: aligned key/value blocks and column tables.

mod api_cmd;
mod auth;
pub mod config_cmd;
mod dead;
mod mime;
mod queue;
mod send;
pub mod status;
mod suppress;
pub mod table;
mod template;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mailroom_queue::Queue;

use crate::config::{self, Config};

/// mailroom: the outbound-mail worker and its queue tools.
#[derive(Debug, Parser)]
#[command(name = "mailroom", version)]
#[command(
    after_help = "Exit status: 0 ok, 2 invalid input (arguments, job, config), 1 Redis unavailable or other failure.\n\
Every config key can be overridden with MAILROOM__SECTION__KEY, e.g. MAILROOM__REDIS__URL."
)]
pub struct Cli {
    /// TOML config file; defaults apply without one, and MAILROOM__SECTION__KEY variables
    /// override both.
    #[arg(
        long,
        short = 'c',
        global = true,
        env = "MAILROOM_CONFIG",
        value_name = "FILE"
    )]
    pub config: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a worker until SIGTERM or SIGINT.
    Run,
    /// Serve the HTTP API until SIGTERM or SIGINT (`[api]`), or mint an API key.
    Api(api_cmd::ApiArgs),
    /// Validate a job and enqueue it; prints its id.
    Send(Box<send::SendArgs>),
    /// Show where a job is.
    Status(status::StatusArgs),
    /// Queue-wide commands.
    #[command(subcommand)]
    Queue(queue::QueueCommand),
    /// Inspect, retry or purge dead-lettered jobs.
    #[command(subcommand)]
    Dead(dead::DeadCommand),
    /// Check the configuration.
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// Enroll senders and look after their Gmail credentials.
    #[command(subcommand)]
    Auth(auth::AuthCommand),
    /// The suppression list: addresses mail is not sent to (unless a job is transactional).
    #[command(subcommand)]
    Suppress(suppress::SuppressCommand),
    /// Stored templates: put, get, list, rm, preview.
    #[command(subcommand)]
    Template(template::TemplateCommand),
}

/// Why a command failed, and so its exit status.
#[derive(Debug)]
pub enum CliError {
    /// Bad input (exit 2): the message names what to fix.
    Invalid(String),
    /// Redis unavailable or anything else (exit 1).
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for CliError {
    fn from(e: anyhow::Error) -> Self {
        Self::Failed(e)
    }
}

impl From<crate::admin::AdminError> for CliError {
    fn from(e: crate::admin::AdminError) -> Self {
        match e {
            crate::admin::AdminError::Invalid(message) => Self::Invalid(message),
            other => Self::Failed(anyhow::anyhow!("{other}")),
        }
    }
}

impl From<config::ConfigError> for CliError {
    fn from(e: config::ConfigError) -> Self {
        Self::Invalid(format!("config: {e}"))
    }
}

/// The result of a command.
pub type CliResult = Result<(), CliError>;

/// Runs the parsed command line and returns the process's exit status.
#[must_use]
pub fn main(cli: Cli) -> ExitCode {
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Invalid(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(CliError::Failed(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn dispatch(cli: Cli) -> CliResult {
    let config = config::load(cli.config.as_deref())?;
    let serving = matches!(cli.command, Command::Run)
        || matches!(&cli.command, Command::Api(a) if a.serves());
    let quiet = serving.then_some(config.log.level.as_str());
    crate::telemetry::init(&config.log, quiet.unwrap_or("warn"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(anyhow::anyhow!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        match cli.command {
            Command::Run => {
                let shutdown = crate::signal::shutdown().map_err(|e| {
                    CliError::Failed(anyhow::anyhow!("cannot install signal handlers: {e}"))
                })?;
                // The worker runs as a task of the runtime, not on this thread (`block_on`'s):
                // apalis polls every handler future from the worker's own future, which on
                // this thread had to be woken across threads (a futex and a context switch)
                // as each job finished.
                tokio::spawn(crate::run(config, shutdown))
                    .await
                    .map_err(|e| CliError::Failed(anyhow::anyhow!("the worker stopped: {e}")))?
                    .map_err(CliError::Failed)
            }
            Command::Api(args) => api_cmd::run(config, args).await,
            Command::Send(args) => send::run(&config, *args).await,
            Command::Status(args) => status::run(&config, args).await,
            Command::Queue(cmd) => queue::run(&config, cmd).await,
            Command::Dead(cmd) => dead::run(&config, cmd).await,
            Command::Config(cmd) => config_cmd::run(&config, cmd),
            Command::Auth(cmd) => auth::run(&config, cmd).await,
            Command::Suppress(cmd) => suppress::run(&config, cmd).await,
            Command::Template(cmd) => template::run(&config, cmd).await,
        }
    })
}

/// Connects to the configured queue, or fails with a message naming the (redacted) URL.
pub(crate) async fn connect(config: &Config) -> Result<Queue, CliError> {
    crate::credentials::check_redis_tls_key(config)
        .map_err(|e| CliError::Invalid(e.to_string()))?;
    Queue::connect(config.redis.url.expose(), config.queue_config())
        .await
        .map_err(|e| {
            CliError::Failed(anyhow::anyhow!(
                "redis unavailable at {}: {e}",
                config.redis.url
            ))
        })
}

/// Parses a job id argument.
pub(crate) fn job_id(text: &str) -> Result<mailroom_jobs::JobId, CliError> {
    Ok(crate::admin::dead::job_id(text)?)
}

/// A Redis failure after the connection was made.
pub(crate) fn redis(e: mailroom_queue::QueueError) -> CliError {
    CliError::Failed(anyhow::anyhow!("{e}"))
}
