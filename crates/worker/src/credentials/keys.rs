//! [`TokenKeys`]: the AES-256-GCM keyring that encrypts stored refresh tokens.
//!
//! A keyring is a list of `id:base64(32 bytes)` entries, one per line in the file named by
//! `[credentials] token_keys`, or separated by newlines or commas in the variable
//! `MAILROOM_TOKEN_KEYS`. `#` starts a comment. The first key is the current one: every
//! encryption uses it. Decryption picks the key by the id stored beside the ciphertext, so
//! older keys keep working until `mailroom auth rotate-key` has re-encrypted everything.
//!
//! Every encryption draws a fresh random 96-bit nonce. The caller passes associated data (the
//! sender's address for a refresh token), so a ciphertext copied to another sender does not
//! decrypt.

use std::fmt;
use std::path::Path;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use secrecy::zeroize::Zeroizing;

use crate::config::CredentialsSection;

/// The variable read for the keyring when `[credentials] token_keys` is unset.
pub const TOKEN_KEYS_ENV: &str = "MAILROOM_TOKEN_KEYS";

/// Length in bytes of a key (AES-256).
pub const KEY_BYTES: usize = 32;

/// Length in bytes of a nonce (96 bits).
pub const NONCE_BYTES: usize = 12;

/// Longest key id accepted.
const MAX_ID_CHARS: usize = 64;

/// Why a keyring could not be loaded, or a ciphertext not decrypted. Messages name the file
/// and line at fault and never contain key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Neither `[credentials] token_keys` nor `MAILROOM_TOKEN_KEYS` is set.
    #[error(
        "no token keys: set [credentials] token_keys to a key file or the variable \
         MAILROOM_TOKEN_KEYS (create a key with `mailroom auth new-key k1`)"
    )]
    Missing,
    /// The key file could not be read.
    #[error("{path}: cannot read the token key file: {message}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// An entry is malformed.
    #[error("{origin}, line {line}: {message}")]
    Invalid {
        /// The file, or `MAILROOM_TOKEN_KEYS`.
        origin: String,
        /// The 1-based line (or comma-separated entry) at fault.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// The source holds no key at all.
    #[error("{0}: holds no key (expected lines of `id:base64-32-bytes`)")]
    Empty(String),
    /// A ciphertext names a key id the keyring does not have.
    #[error("key {0:?} is not in the keyring (was it removed before `mailroom auth rotate-key`?)")]
    UnknownKey(String),
    /// The ciphertext does not decrypt: wrong key, tampered data, or data moved to another
    /// sender.
    #[error("decryption with key {0:?} failed (wrong key, or the data was altered or moved)")]
    Decrypt(String),
}

/// A ciphertext and what is needed to decrypt it.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The id of the key that encrypted it.
    pub key_id: String,
    /// The random 96-bit nonce.
    pub nonce: Vec<u8>,
    /// The ciphertext with its 16-byte tag.
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("key_id", &self.key_id)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish_non_exhaustive()
    }
}

/// An AES-256-GCM keyring; the first key encrypts, every key decrypts. `Debug` shows the ids
/// only.
#[derive(Clone)]
pub struct TokenKeys {
    keys: Vec<(String, Aes256Gcm)>,
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKeys")
            .field("ids", &self.ids().collect::<Vec<_>>())
            .finish()
    }
}

impl TokenKeys {
    /// The keyring named by the config: the file `[credentials] token_keys`, else the variable
    /// `MAILROOM_TOKEN_KEYS`.
    ///
    /// # Errors
    /// [`KeyError`] naming the file (or variable) and line at fault, or [`KeyError::Missing`].
    pub fn from_config(credentials: &CredentialsSection) -> Result<Self, KeyError> {
        let env = std::env::var(TOKEN_KEYS_ENV).ok();
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

    /// The id of the current key, the one [`TokenKeys::encrypt`] uses.
    #[must_use]
    pub fn current_id(&self) -> &str {
        &self.keys[0].0
    }

    /// Every key id, current first.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(id, _)| id.as_str())
    }

    /// Encrypts `plaintext` under the current key with a fresh random nonce, bound to `aad`.
    #[must_use]
    pub fn encrypt(&self, plaintext: &[u8], aad: &str) -> Sealed {
        let (id, cipher) = &self.keys[0];
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of a short message cannot fail");
        Sealed {
            key_id: id.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
        }
    }

    /// Decrypts a [`Sealed`] value with the key it names, checking `aad`.
    ///
    /// # Errors
    /// [`KeyError::UnknownKey`] when the key id is not in the keyring, [`KeyError::Decrypt`]
    /// when the tag does not verify (wrong key, altered data, other `aad`).
    pub fn decrypt(&self, sealed: &Sealed, aad: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let Some((_, cipher)) = self.keys.iter().find(|(id, _)| *id == sealed.key_id) else {
            return Err(KeyError::UnknownKey(sealed.key_id.clone()));
        };
        if sealed.nonce.len() != NONCE_BYTES {
            return Err(KeyError::Decrypt(sealed.key_id.clone()));
        }
        cipher
            .decrypt(
                Nonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| KeyError::Decrypt(sealed.key_id.clone()))
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
    use super::*;

    fn line(id: &str) -> String {
        TokenKeys::generate_line(id)
    }

    #[test]
    fn generated_lines_parse_and_round_trip() {
        let text = format!("# keys\n{}\n\n{}  # old\n", line("k2"), line("k1"));
        let keys = TokenKeys::parse(&text, "keys.txt", false).unwrap();
        assert_eq!(keys.current_id(), "k2");
        assert_eq!(keys.ids().collect::<Vec<_>>(), ["k2", "k1"]);
        let sealed = keys.encrypt(b"refresh-token", "a@example.com");
        assert_eq!(sealed.key_id, "k2");
        assert_eq!(sealed.nonce.len(), NONCE_BYTES);
        assert!(
            !sealed
                .ciphertext
                .windows(b"refresh".len())
                .any(|w| w == b"refresh")
        );
        let plain = keys.decrypt(&sealed, "a@example.com").unwrap();
        assert_eq!(plain.as_slice(), b"refresh-token");
    }

    #[test]
    fn nonces_differ_between_encryptions() {
        let keys = TokenKeys::parse(&line("k1"), "x", false).unwrap();
        let a = keys.encrypt(b"same", "s");
        let b = keys.encrypt(b"same", "s");
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[test]
    fn associated_data_binds_the_sender() {
        let keys = TokenKeys::parse(&line("k1"), "x", false).unwrap();
        let sealed = keys.encrypt(b"secret", "a@example.com");
        assert_eq!(
            keys.decrypt(&sealed, "b@example.com").unwrap_err(),
            KeyError::Decrypt("k1".into())
        );
    }

    #[test]
    fn old_keys_decrypt_and_removed_keys_do_not() {
        let (k1, k2) = (line("k1"), line("k2"));
        let old = TokenKeys::parse(&k1, "x", false).unwrap();
        let sealed = old.encrypt(b"secret", "s");
        let both = TokenKeys::parse(&format!("{k2}\n{k1}"), "x", false).unwrap();
        assert_eq!(both.decrypt(&sealed, "s").unwrap().as_slice(), b"secret");
        let new_only = TokenKeys::parse(&k2, "x", false).unwrap();
        assert_eq!(
            new_only.decrypt(&sealed, "s").unwrap_err(),
            KeyError::UnknownKey("k1".into())
        );
        // Same id, other material: the tag does not verify.
        let impostor = TokenKeys::parse(&line("k1"), "x", false).unwrap();
        assert_eq!(
            impostor.decrypt(&sealed, "s").unwrap_err(),
            KeyError::Decrypt("k1".into())
        );
    }

    #[test]
    fn the_variable_accepts_commas() {
        let value = format!("{}, {}", line("a"), line("b"));
        let keys = TokenKeys::load(None, Some(&value)).unwrap();
        assert_eq!(keys.ids().collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn errors_name_the_line_and_never_the_key() {
        let good = line("k1");
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
        std::fs::write(&path, line("file")).unwrap();
        let keys = TokenKeys::load(Some(&path), Some(&line("env"))).unwrap();
        assert_eq!(keys.current_id(), "file");
        let missing = dir.path().join("absent");
        let err = TokenKeys::load(Some(&missing), None).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("{}: cannot read", missing.display())),
            "{err}"
        );
    }

    #[test]
    fn debug_shows_ids_only() {
        let text = line("k1");
        let keys = TokenKeys::parse(&text, "x", false).unwrap();
        let shown = format!("{keys:?}");
        assert_eq!(shown, "TokenKeys { ids: [\"k1\"] }");
        let sealed = keys.encrypt(b"secret", "s");
        assert!(!format!("{sealed:?}").contains("nonce: ["));
    }
}
