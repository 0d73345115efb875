//! [`TokenKeys`]: the AES-256-GCM keyring that encrypts stored refresh tokens (and the web
//! enrollment flow's saved state).
//!
//! A keyring is a list of `id:base64(32 bytes)` entries (see `load` for where they come
//! from). The first key is the current one: every encryption uses it. Decryption picks the key
//! by the id sealed beside the ciphertext ([`Sealed`]), so older keys keep working until
//! `mailroom auth rotate-key` has re-encrypted everything.
//!
//! Every encryption draws a fresh random 96-bit nonce. The caller passes associated data (the
//! sender's address for a refresh token), so a ciphertext copied to another sender does not
//! decrypt.

mod load;

use std::fmt;

use aes_gcm::aead::{Aead, AeadCore, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use secrecy::zeroize::Zeroizing;

pub use load::{TOKEN_KEYS_ENV, check_id};

use super::sealed::Sealed;

/// Length in bytes of a key (AES-256).
pub const KEY_BYTES: usize = 32;

/// Length in bytes of a nonce (96 bits).
pub const NONCE_BYTES: usize = 12;

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
    fn debug_shows_ids_only() {
        let text = line("k1");
        let keys = TokenKeys::parse(&text, "x", false).unwrap();
        let shown = format!("{keys:?}");
        assert_eq!(shown, "TokenKeys { ids: [\"k1\"] }");
        let sealed = keys.encrypt(b"secret", "s");
        assert!(!format!("{sealed:?}").contains("nonce: ["));
    }
}
