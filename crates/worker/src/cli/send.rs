//! `mailroom send`: build a job from flags (or read one as JSON), render its template if it
//! names one, validate it with the configured policy, enqueue it and print its id.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use mailroom_jobs::{Address, Attachment, EmailJob, EmailJobV1};

use super::{CliError, CliResult, connect, mime};
use crate::config::Config;

const FLAG_FIELDS: [&str; 21] = [
    "to",
    "cc",
    "bcc",
    "reply_to",
    "subject",
    "text",
    "html",
    "attach",
    "header",
    "idempotency_key",
    "send_at",
    "expires_at",
    "tag",
    "meta",
    "from",
    "template",
    "locale",
    "vars",
    "list",
    "list_unsubscribe",
    "transactional",
];

/// Arguments of `mailroom send`: either the job's fields as flags (`--from` and at least one
/// recipient), or `--json FILE` with a whole job.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["from", "json"])))]
pub struct SendArgs {
    /// Sender, e.g. 'Alerts <alerts@example.com>'.
    #[arg(long, value_name = "ADDRESS")]
    from: Option<String>,
    /// Recipient (repeatable).
    #[arg(long, value_name = "ADDRESS")]
    to: Vec<String>,
    /// Carbon-copy recipient (repeatable).
    #[arg(long, value_name = "ADDRESS")]
    cc: Vec<String>,
    /// Blind carbon-copy recipient (repeatable).
    #[arg(long, value_name = "ADDRESS")]
    bcc: Vec<String>,
    /// Reply-To address (repeatable).
    #[arg(long, value_name = "ADDRESS")]
    reply_to: Vec<String>,
    /// Subject line (any Unicode text).
    #[arg(long, value_name = "TEXT")]
    subject: Option<String>,
    /// Plain-text body.
    #[arg(long, value_name = "TEXT")]
    text: Option<String>,
    /// HTML body.
    #[arg(long, value_name = "HTML")]
    html: Option<String>,
    /// Attach a file (repeatable); its content type comes from the extension.
    #[arg(long, value_name = "PATH")]
    attach: Vec<PathBuf>,
    /// Extra header, 'Name: value' (repeatable).
    #[arg(long, value_name = "'NAME: VALUE'")]
    header: Vec<String>,
    /// Key that makes a repeated send a duplicate instead of a second message.
    #[arg(long, value_name = "KEY")]
    idempotency_key: Option<String>,
    /// Do not send before this time (RFC 3339, e.g. 2030-01-02T09:00:00Z).
    #[arg(long, value_name = "TIME")]
    send_at: Option<String>,
    /// Drop the job if not sent by this time (RFC 3339).
    #[arg(long, value_name = "TIME")]
    expires_at: Option<String>,
    /// Tag for metrics and logs (repeatable).
    #[arg(long, value_name = "TAG")]
    tag: Vec<String>,
    /// Metadata entry key=value (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    meta: Vec<String>,
    /// Render the subject and bodies from this stored template (instead of --subject,
    /// --text, --html).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["subject", "text", "html"])]
    template: Option<String>,
    /// The template's locale (its fallback locale when absent or missing).
    #[arg(long, value_name = "LOCALE", requires = "template")]
    locale: Option<String>,
    /// The template's variables: a file holding a JSON object ('-' for stdin).
    #[arg(long, value_name = "FILE", requires = "template")]
    vars: Option<PathBuf>,
    /// Send on this mailing list: List-Id, one-click unsubscribe, the list's suppressions.
    #[arg(long, value_name = "ID")]
    list: Option<String>,
    /// A mailto: URI listed in List-Unsubscribe beside the one-click link.
    #[arg(long, value_name = "MAILTO", requires = "list")]
    list_unsubscribe: Option<String>,
    /// Send even to suppressed addresses (password resets, receipts: see the README).
    #[arg(long)]
    transactional: bool,
    /// Read the whole job as JSON (wire format, "version": "v1") from FILE, or stdin for '-'.
    #[arg(long, value_name = "FILE", conflicts_with_all = FLAG_FIELDS)]
    json: Option<PathBuf>,
}

fn invalid(field: &str, message: impl std::fmt::Display) -> CliError {
    CliError::Invalid(format!("invalid job: {field}: {message}"))
}

/// Runs `mailroom send`.
pub async fn run(config: &Config, args: SendArgs) -> CliResult {
    let mut job = match &args.json {
        Some(path) => read_json(path)?,
        None => from_flags(&args)?,
    };
    let policy = config.policy()?;
    let queue = connect(config).await?;
    if job.v1().template.is_some() {
        mailroom_enqueue::Client::from_queue(queue.clone(), policy.clone())
            .render(&mut job)
            .await
            .map_err(|e| match e {
                mailroom_enqueue::EnqueueError::Unavailable(e) => super::redis(e),
                other => CliError::Invalid(other.to_string()),
            })?;
    }
    job.validate(&policy)
        .map_err(|e| CliError::Invalid(format!("invalid job: {e}")))?;
    let enqueued = queue.enqueue(&job).await.map_err(super::redis)?;
    println!("{}", enqueued.id);
    if enqueued.duplicate {
        eprintln!("duplicate of {}", enqueued.id);
    }
    Ok(())
}

fn read_json(path: &Path) -> Result<EmailJob, CliError> {
    let mut bytes = Vec::new();
    let read = if path == Path::new("-") {
        std::io::stdin().read_to_end(&mut bytes).map(drop)
    } else {
        std::fs::read(path).map(|b| bytes = b)
    };
    read.map_err(|e| CliError::Invalid(format!("cannot read {}: {e}", path.display())))?;
    EmailJob::from_json(&bytes).map_err(|e| CliError::Invalid(format!("invalid job: {e}")))
}

fn from_flags(args: &SendArgs) -> Result<EmailJob, CliError> {
    let from = args.from.as_deref().unwrap_or_default();
    let mut job = EmailJobV1::builder(address("from", from)?);
    for (field, list) in [
        ("to", &args.to),
        ("cc", &args.cc),
        ("bcc", &args.bcc),
        ("reply_to", &args.reply_to),
    ] {
        for text in list {
            let a = address(field, text)?;
            job = match field {
                "to" => job.to(a),
                "cc" => job.cc(a),
                "bcc" => job.bcc(a),
                _ => job.reply_to(a),
            };
        }
    }
    job = job.subject(args.subject.clone().unwrap_or_default());
    if let Some(text) = &args.text {
        job = job.text(text);
    }
    if let Some(html) = &args.html {
        job = job.html(html);
    }
    for path in &args.attach {
        job = job.attachment(attachment(path)?);
    }
    for header in &args.header {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| invalid("headers", format!("expected 'Name: value', got {header:?}")))?;
        job = job.header(name.trim(), value.trim());
    }
    if let Some(key) = &args.idempotency_key {
        job = job.idempotency_key(key);
    }
    if let Some(at) = &args.send_at {
        job = job.send_at(time("send_at", at)?);
    }
    if let Some(at) = &args.expires_at {
        job = job.expires_at(time("expires_at", at)?);
    }
    for tag in &args.tag {
        job = job.tag(tag);
    }
    for entry in &args.meta {
        let (k, v) = entry
            .split_once('=')
            .ok_or_else(|| invalid("metadata", format!("expected key=value, got {entry:?}")))?;
        job = job.metadata(k.trim(), v);
    }
    if let Some(name) = &args.template {
        let vars = match &args.vars {
            Some(path) => {
                let bytes = if path == Path::new("-") {
                    let mut b = Vec::new();
                    std::io::stdin().read_to_end(&mut b).map(|_| b)
                } else {
                    std::fs::read(path)
                };
                let bytes = bytes
                    .map_err(|e| invalid("vars", format!("cannot read {}: {e}", path.display())))?;
                serde_json::from_slice(&bytes)
                    .map_err(|e| invalid("vars", format!("not a JSON object: {e}")))?
            }
            None => serde_json::Map::new(),
        };
        job = job.template(mailroom_jobs::TemplateRef {
            name: name.clone(),
            version: None,
            locale: args.locale.clone(),
            vars,
            rendered: false,
        });
    }
    if let Some(id) = &args.list {
        job = job.list(mailroom_jobs::MailingList {
            id: id.clone(),
            unsubscribe: args.list_unsubscribe.clone(),
        });
    }
    Ok(job.transactional(args.transactional).build())
}

fn address(field: &str, text: &str) -> Result<Address, CliError> {
    Address::parse(text).map_err(|e| invalid(field, e))
}

fn time(field: &str, text: &str) -> Result<DateTime<Utc>, CliError> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| invalid(field, format!("{text:?} is not an RFC 3339 time: {e}")))
}

fn attachment(path: &Path) -> Result<Attachment, CliError> {
    let bytes = std::fs::read(path).map_err(|e| {
        invalid(
            "attachments",
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let filename = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| {
            invalid(
                "attachments",
                format!("{} is not a file name", path.display()),
            )
        })?;
    Ok(Attachment::new(filename, mime::content_type(path), bytes))
}
