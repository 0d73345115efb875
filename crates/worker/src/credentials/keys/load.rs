//! Loading a [`TokenKeys`] keyring: one `id:base64(32 bytes)` entry per line in the file named
//! by `[credentials] token_keys`, or separated by newlines or commas in the variable
//! `MAILROOM_TOKEN_KEYS`. `#` starts a comment. Also new keys for `mailroom auth new-key`.

use std::path::Path;

use aes_gcm::aead::{KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::zeroize::Zeroizing;

use super::{KEY_BYTES, KeyError, TokenKeys};
use crate::config::CredentialsSection;

/// The variable read for the keyring when `[credentials] token_keys` is unset.
pub const TOKEN_KEYS_ENV: &str = "MAILROOM_TOKEN_KEYS";

/// Longest key id accepted.
const MAX_ID_CHARS: usize = 64;

impl TokenKeys {
    /// The keyring named by the config: the file `[credentials] token_keys`, else the variable
    /// `MAILROOM_TOKEN_KEYS`.
    ///
    /// # Errors
    /// [`KeyError`] naming the file (or variable) and line at fault, or [`KeyError::Missing`].
    pub fn from_config(credentials: &CredentialsSection) -> Result<Self, KeyError> {
        let env = std::env::var(TOKEN_KEYS_ENV).ok();
        if let Some(path) = credentials.token_keys.as_deref() {
            let allow_group = credentials.allow_group_readable_secrets;
            crate::credentials::check_secret_file(path, "credentials.token_keys", allow_group)
                .map_err(|e| KeyError::Read {
                    path: e.key,
                    message: e.message,
                })?;
        }
        Self::load(credentials.token_keys.as_deref(), env.as_deref())
    }

    /// The keyring in the file `path`, else in `env` (the value of `MAILROOM_TOKEN_KEYS`).
    ///
    /// # Errors
    /// As [`TokenKeys::from_config`].
    pub fn load(path: Option<&Path>, env: Option<&str>) -> Result<Self, KeyError> {
        match (path, env) {
            (Some(path), _) => {
                let text =
                    Zeroizing::new(std::fs::read_to_string(path).map_err(|e| KeyError::Read {
                        path: path.display().to_string(),
                        message: e.to_string(),
                    })?);
                Self::parse(&text, &path.display().to_string(), false)
            }
            (None, Some(value)) if !value.trim().is_empty() => {
                Self::parse(value, TOKEN_KEYS_ENV, true)
            }
            _ => Err(KeyError::Missing),
        }
    }

    /// Parses a keyring. `origin` names the source in errors; `commas` also splits entries on
    /// commas (the variable's format).
    ///
    /// # Errors
    /// [`KeyError::Invalid`] for a bad id, bad base64, a key that is not 32 bytes or a
    /// duplicate id; [`KeyError::Empty`] when there is no key.
    pub fn parse(text: &str, origin: &str, commas: bool) -> Result<Self, KeyError> {
        let entries: Vec<&str> = if commas {
            text.split(['\n', ',']).collect()
        } else {
            text.lines().collect()
        };
        let mut keys: Vec<(String, Aes256Gcm)> = Vec::new();
        for (i, entry) in entries.into_iter().enumerate() {
            let invalid = |message: String| KeyError::Invalid {
                origin: origin.to_owned(),
                line: i + 1,
                message,
            };
            let entry = entry.split_once('#').map_or(entry, |(before, _)| before);
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let Some((id, material)) = entry.split_once(':') else {
                return Err(invalid("expected `id:base64-32-bytes`".to_owned()));
            };
            let id = id.trim();
            check_id(id).map_err(&invalid)?;
            if keys.iter().any(|(other, _)| other == id) {
                return Err(invalid(format!("duplicate key id {id:?}")));
            }
            let bytes = Zeroizing::new(
                STANDARD
                    .decode(material.trim())
                    .map_err(|_| invalid(format!("key {id:?} is not valid base64")))?,
            );
            if bytes.len() != KEY_BYTES {
                return Err(invalid(format!(
                    "key {id:?} is {} bytes; AES-256 needs {KEY_BYTES}",
                    bytes.len()
                )));
            }
            let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes));
            keys.push((id.to_owned(), cipher));
        }
        if keys.is_empty() {
            return Err(KeyError::Empty(origin.to_owned()));
        }
        Ok(Self { keys })
    }

    /// A new random key as a keyring line, `id:base64`, for `mailroom auth new-key`.
    ///
    /// # Panics
    /// If `id` is not a valid key id (see [`check_id`]).
    #[must_use]
    pub fn generate_line(id: &str) -> String {
        if let Err(e) = check_id(id) {
            panic!("{e}");
        }
        let key = Aes256Gcm::generate_key(OsRng);
        format!("{id}:{}", STANDARD.encode(key.as_slice()))
    }
}

/// Checks a key id: 1 to 64 characters among letters, digits, `_`, `-` and `.`.
///
/// # Errors
/// A message saying what is wrong.
pub fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("empty key id".to_owned());
    }
    if id.chars().count() > MAX_ID_CHARS {
        return Err(format!("key id longer than {MAX_ID_CHARS} characters"));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(format!(
            "key id {id:?} has {c:?}; use letters, digits, '_', '-' and '.'"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    #[test]
    fn the_variable_accepts_commas() {
        let value = format!(
            "{}, {}",
            TokenKeys::generate_line("a"),
            TokenKeys::generate_line("b")
        );
        let keys = TokenKeys::load(None, Some(&value)).unwrap();
        assert_eq!(keys.ids().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn errors_name_the_line_and_never_the_key() {
        let good = TokenKeys::generate_line("k1");
        let material = good.split_once(':').unwrap().1.to_owned();
        let short = STANDARD.encode([7u8; 16]);
        let cases = [
            (
                format!("{good}\nk 2:{material}"),
                2,
                "key id \"k 2\" has ' '; use letters, digits, '_', '-' and '.'",
            ),
            (format!("{good}\n:{material}"), 2, "empty key id"),
            (
                format!("{good}\nnocolon"),
                2,
                "expected `id:base64-32-bytes`",
            ),
            (
                "k1:not base64!".to_owned(),
                1,
                "key \"k1\" is not valid base64",
            ),
            (
                format!("k1:{short}"),
                1,
                "key \"k1\" is 16 bytes; AES-256 needs 32",
            ),
            (format!("{good}\n{good}"), 2, "duplicate key id \"k1\""),
        ];
        for (text, line_no, message) in cases {
            let err = TokenKeys::parse(&text, "/etc/mailroom/keys", false).unwrap_err();
            assert_eq!(
                err,
                KeyError::Invalid {
                    origin: "/etc/mailroom/keys".into(),
                    line: line_no,
                    message: message.into()
                },
                "{text}"
            );
            let shown = err.to_string();
            assert!(shown.starts_with(&format!("/etc/mailroom/keys, line {line_no}: ")));
            assert!(!shown.contains(&material), "{shown}");
        }
        assert_eq!(
            TokenKeys::parse("# nothing\n\n", "f", false).unwrap_err(),
            KeyError::Empty("f".into())
        );
        assert_eq!(TokenKeys::load(None, None).unwrap_err(), KeyError::Missing);
        assert_eq!(
            TokenKeys::load(None, Some("  ")).unwrap_err(),
            KeyError::Missing
        );
    }

    #[test]
    fn the_file_wins_over_the_variable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys");
        std::fs::write(&path, TokenKeys::generate_line("file")).unwrap();
        let keys = TokenKeys::load(Some(&path), Some(&TokenKeys::generate_line("env"))).unwrap();
        assert_eq!(keys.current_id(), "file");
        let missing = dir.path().join("absent");
        let err = TokenKeys::load(Some(&missing), None).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("{}: cannot read", missing.display())),
            "{err}"
        );
    }
}
