//! Loading: defaults, then the file, then the environment, then validation.

use std::collections::HashMap;
use std::path::Path;

use config::{Config as Sources, Environment, File, FileFormat};

use super::{Config, ConfigError};

/// Prefix of the environment variables that override the file: `MAILROOM__REDIS__URL`.
pub const ENV_PREFIX: &str = "MAILROOM";
/// Separator between the prefix, sections and keys of an environment variable.
pub const ENV_SEPARATOR: &str = "__";

/// Keys whose environment value is a comma-separated list.
const LIST_KEYS: &[&str] = &["jobs.allowed_senders"];

/// Loads the configuration: built-in defaults, then `file` (TOML) if given, then the
/// process's `MAILROOM__SECTION__KEY` variables, then [`Config::validate`].
///
/// # Errors
/// [`ConfigError`] naming the key at fault: an unreadable or malformed file, an unknown key, a
/// value of the wrong type, or a value that breaks a rule.
pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
    load_with_env(file, std::env::vars().collect())
}

/// [`load`] with the environment given as a map instead of read from the process (for tests).
///
/// # Errors
/// As [`load`].
pub fn load_with_env(
    file: Option<&Path>,
    env: HashMap<String, String>,
) -> Result<Config, ConfigError> {
    let mut builder = Sources::builder();
    if let Some(path) = file {
        if !path.is_file() {
            return Err(ConfigError::Load(format!(
                "config file {}: not found",
                path.display()
            )));
        }
        builder = builder.add_source(File::from(path).format(FileFormat::Toml).required(true));
    }
    let mut environment = Environment::with_prefix(ENV_PREFIX)
        .prefix_separator(ENV_SEPARATOR)
        .separator(ENV_SEPARATOR)
        .try_parsing(true)
        .list_separator(",")
        .source(Some(env.into_iter().collect()));
    for key in LIST_KEYS {
        environment = environment.with_list_parse_key(key);
    }
    let config: Config = builder
        .add_source(environment)
        .build()
        .and_then(Sources::try_deserialize)
        .map_err(|e| ConfigError::Load(describe(&e, file)))?;
    let config = config.normalized();
    config.validate()?;
    Ok(config)
}

/// The config crate's message, reworded so the key comes first (`worker.concurency: unknown
/// key, expected one of …`), with the sources named.
fn describe(e: &config::ConfigError, file: Option<&Path>) -> String {
    let text = unknown_key(&e.to_string());
    match file {
        Some(path) if !text.contains(&*path.to_string_lossy()) => {
            format!(
                "{text} (in {} or the {ENV_PREFIX}{ENV_SEPARATOR}* variables)",
                path.display()
            )
        }
        _ => text,
    }
}

/// Rewrites serde's "unknown field `x`, expected … for key `section`" as
/// "section.x: unknown key, expected …", and "<message> for key `k`" as "k: <message>".
fn unknown_key(text: &str) -> String {
    let parse = || {
        let rest = text.strip_prefix("unknown field `")?;
        let (field, rest) = rest.split_once('`')?;
        let (expected, section) = match rest.rsplit_once(" for key `") {
            Some((expected, section)) => (expected, Some(section.strip_suffix('`')?)),
            None => (rest, None),
        };
        let key = section.map_or_else(|| field.to_owned(), |s| format!("{s}.{field}"));
        Some(format!("{key}: unknown key{expected}"))
    };
    let other = || {
        let (message, key) = text.rsplit_once(" for key `")?;
        let (key, tail) = key.split_once('`')?;
        Some(format!("{key}: {message}{tail}"))
    };
    parse().or_else(other).unwrap_or_else(|| text.to_owned())
}

impl Config {
    /// Tidies values that arrive from the environment in a looser form: blank entries of a
    /// comma-separated list are dropped, so `MAILROOM__JOBS__ALLOWED_SENDERS=` is the empty
    /// list (nobody; an error with the gmail transport), never "any".
    fn normalized(mut self) -> Self {
        self.jobs.allowed_senders = self
            .jobs
            .allowed_senders
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        self
    }
}
