//! `mailroom config check`: load and validate the configuration (defaults, then the file, then
//! the environment) and print the result as TOML, secrets redacted.

use super::{CliError, CliResult};
use crate::config::{Config, RedisUrl};

/// `mailroom config` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration and print the effective values as TOML, secrets redacted.
    /// An invalid configuration exits 2 naming the key.
    Check,
}

/// What a redacted value prints as.
pub const REDACTED: &str = "[redacted]";

/// Runs a `mailroom config` subcommand; `config` was loaded and validated already.
pub fn run(config: &Config, cmd: ConfigCommand) -> CliResult {
    match cmd {
        ConfigCommand::Check => {
            print!("{}", effective(config)?);
            Ok(())
        }
    }
}

/// The configuration as TOML, with [`redact`] applied.
///
/// # Errors
/// The configuration cannot be expressed as TOML (a bug).
pub fn effective(config: &Config) -> Result<String, CliError> {
    let failed = |e: &dyn std::fmt::Display| {
        CliError::Failed(anyhow::anyhow!("printing the configuration: {e}"))
    };
    let mut value = toml::Value::try_from(config).map_err(|e| failed(&e))?;
    redact(&mut value, None);
    let text = toml::to_string_pretty(&value).map_err(|e| failed(&e))?;
    Ok(format!(
        "# The effective configuration (defaults, then the file, then MAILROOM__* variables).\n\
         # Secrets print as \"{REDACTED}\"; the Redis password as ***.\n\n{text}"
    ))
}

/// Replaces secret values in place. A value is secret when its key names one (contains `key`,
/// `token`, `secret` or `password`), unless it is a file path (the key ends in `_file`,
/// `_path` or `_dir`, or the value starts with `/`, `./`, `../` or `~/`) or a URL (printed
/// with any password masked). Lists inherit the key of their field.
pub fn redact(value: &mut toml::Value, key: Option<&str>) {
    match value {
        toml::Value::Table(table) => {
            for (k, v) in table.iter_mut() {
                redact(v, Some(k));
            }
        }
        toml::Value::Array(items) => {
            for item in items {
                redact(item, key);
            }
        }
        // A flag holds no secret (`allow_group_readable_secrets = false`).
        toml::Value::Boolean(_) => {}
        other => {
            let Some(key) = key.map(str::to_ascii_lowercase) else {
                return;
            };
            if !["key", "token", "secret", "password"]
                .iter()
                .any(|word| key.contains(word))
                || ["_file", "_path", "_dir"]
                    .iter()
                    .any(|end| key.ends_with(end))
            {
                return;
            }
            *other = match other.as_str() {
                Some(text)
                    if ["/", "./", "../", "~/"]
                        .iter()
                        .any(|start| text.starts_with(start)) =>
                {
                    return;
                }
                Some(url) if url.contains("://") => {
                    toml::Value::String(RedisUrl::new(url).redacted())
                }
                _ => toml::Value::String(REDACTED.to_owned()),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redacted(toml_text: &str) -> toml::Value {
        let mut value: toml::Value = toml::from_str(toml_text).unwrap();
        redact(&mut value, None);
        value
    }

    #[test]
    fn secret_values_are_redacted_and_paths_are_not() {
        let v = redacted(
            r#"
            name = "x"
            [s]
            api_key = "abc"
            password = 12
            client_secret = "s3cret"
            token_keys = ["k1:AAAA", "/etc/keys"]
            service_account_key = "/run/secrets/sa.json"
            admin_token_file = "admin-token"
            token_url = "https://user:pw@oauth.example/token"
            "#,
        );
        let s = &v["s"];
        assert_eq!(v["name"].as_str(), Some("x"));
        assert_eq!(s["api_key"].as_str(), Some(REDACTED));
        assert_eq!(s["password"].as_str(), Some(REDACTED));
        assert_eq!(s["client_secret"].as_str(), Some(REDACTED));
        assert_eq!(s["token_keys"][0].as_str(), Some(REDACTED));
        assert_eq!(s["token_keys"][1].as_str(), Some("/etc/keys"));
        assert_eq!(
            s["service_account_key"].as_str(),
            Some("/run/secrets/sa.json")
        );
        assert_eq!(s["admin_token_file"].as_str(), Some("admin-token"));
        assert_eq!(
            s["token_url"].as_str(),
            Some("https://user:***@oauth.example/token")
        );
    }

    #[test]
    fn the_default_config_prints_and_reads_back() {
        let text = effective(&Config::default()).unwrap_or_else(|_| panic!("printable"));
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!(back, Config::default());
    }

    #[test]
    fn a_sentinel_url_prints_with_both_passwords_masked() {
        let mut config = Config::default();
        config.redis.url = RedisUrl::new(
            "redis+sentinel://app:hunter2@s1:26379,s2:26379/main?sentinel_password=hunter3",
        );
        config.validate().unwrap();
        let text = effective(&config).unwrap_or_else(|_| panic!("printable"));
        assert!(
            text.contains(
                "\"redis+sentinel://app:***@s1:26379,s2:26379/main?sentinel_password=***\""
            ),
            "{text}"
        );
        assert!(!text.contains("hunter"), "{text}");
    }
}
