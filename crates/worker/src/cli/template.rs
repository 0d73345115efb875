//! `mailroom template put|get|list|rm|preview`: the stored templates jobs are rendered from.

use std::path::{Path, PathBuf};

use mailroom_jobs::Template;

use super::{CliError, CliResult, connect, redis, table};
use crate::config::Config;

/// `mailroom template` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum TemplateCommand {
    /// Store FILE (JSON: {"fallback_locale": "en", "locales": {"en": {"subject", "text",
    /// "html"}, …}}) as the next version of NAME; prints the version.
    Put {
        /// The template's name (ASCII letters, digits, '.', '-', '_').
        name: String,
        /// The template as JSON ('-' for stdin).
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
    },
    /// Print a version of NAME as JSON (the newest by default).
    Get {
        /// The template's name.
        name: String,
        /// The version.
        #[arg(long)]
        version: Option<u32>,
    },
    /// List the stored templates with their newest version.
    List,
    /// Delete NAME and all its versions (jobs already rendered from it are not affected).
    Rm {
        /// The template's name.
        name: String,
    },
    /// Render NAME for a locale and variables, and print the subject and bodies.
    Preview {
        /// The template's name.
        name: String,
        /// The version (the newest by default).
        #[arg(long)]
        version: Option<u32>,
        /// The locale (the template's fallback by default, and when it lacks this one).
        #[arg(long)]
        locale: Option<String>,
        /// The variables, a JSON object ('-' for stdin).
        #[arg(long, value_name = "FILE")]
        vars: Option<PathBuf>,
    },
}

fn read(path: &Path) -> Result<Vec<u8>, CliError> {
    let mut bytes = Vec::new();
    let read = if path == Path::new("-") {
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes).map(drop)
    } else {
        std::fs::read(path).map(|b| bytes = b)
    };
    read.map_err(|e| CliError::Invalid(format!("cannot read {}: {e}", path.display())))?;
    Ok(bytes)
}

fn name(name: &str) -> Result<&str, CliError> {
    mailroom_jobs::check_template_name(name)
        .map_err(|e| CliError::Invalid(format!("NAME: {e}")))?;
    Ok(name)
}

/// Runs a `mailroom template` subcommand.
pub async fn run(config: &Config, cmd: TemplateCommand) -> CliResult {
    let queue = connect(config).await?;
    match cmd {
        TemplateCommand::Put { name: n, file } => {
            let template: Template = serde_json::from_slice(&read(&file)?)
                .map_err(|e| CliError::Invalid(format!("invalid template: {e}")))?;
            template
                .check()
                .map_err(|e| CliError::Invalid(format!("invalid template: {e}")))?;
            let version = queue
                .put_template(name(&n)?, &template)
                .await
                .map_err(redis)?;
            println!("{n} version {version}");
        }
        TemplateCommand::Get { name: n, version } => {
            let stored = found(queue.template(name(&n)?, version).await.map_err(redis)?, &n)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&stored).map_err(anyhow::Error::from)?
            );
        }
        TemplateCommand::List => {
            let rows: Vec<Vec<String>> = queue
                .templates()
                .await
                .map_err(redis)?
                .into_iter()
                .map(|(n, v)| vec![n, v.to_string()])
                .collect();
            print!("{}", table::columns(&["NAME", "LATEST"], &rows));
        }
        TemplateCommand::Rm { name: n } => {
            if !queue.delete_template(name(&n)?).await.map_err(redis)? {
                return Err(CliError::Failed(anyhow::anyhow!("no template {n}")));
            }
            println!("deleted {n}");
        }
        TemplateCommand::Preview {
            name: n,
            version,
            locale,
            vars,
        } => {
            let stored = found(queue.template(name(&n)?, version).await.map_err(redis)?, &n)?;
            let vars: serde_json::Map<String, serde_json::Value> = match vars {
                Some(path) => serde_json::from_slice(&read(&path)?)
                    .map_err(|e| CliError::Invalid(format!("--vars: not a JSON object: {e}")))?,
                None => serde_json::Map::new(),
            };
            let out = stored
                .template
                .render(locale.as_deref(), &vars)
                .map_err(|e| CliError::Invalid(format!("cannot render: {e}")))?;
            print!("{}", preview(&n, stored.version, &out));
        }
    }
    Ok(())
}

fn found<T>(value: Option<T>, name: &str) -> Result<T, CliError> {
    value
        .ok_or_else(|| CliError::Failed(anyhow::anyhow!("no template {name} (or no such version)")))
}

/// The rendered parts, as `mailroom template preview` prints them.
pub fn preview(name: &str, version: u32, out: &mailroom_jobs::RenderedTemplate) -> String {
    let mut text = format!(
        "Template: {name} version {version}, locale {}\nSubject: {}\n",
        out.locale, out.subject
    );
    if let Some(t) = &out.text {
        text.push_str(&format!("\n--- text/plain ---\n{t}\n"));
    }
    if let Some(h) = &out.html {
        text.push_str(&format!("\n--- text/html ---\n{h}\n"));
    }
    text
}
