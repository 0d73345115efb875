//! [`TokenStore`]: senders' refresh tokens, encrypted with [`TokenKeys`], in the queue's Redis.
//!
//! Each sender has a hash `{queue}:token:<address>` (see `record` for its fields): the
//! refresh token sealed under the keyring (`kid`, `nonce`, `ct`, as [`Sealed`] writes them;
//! the associated data is the address) and what is known about it. The set `{queue}:tokens`
//! lists the enrolled senders. Every key shares the queue's hash tag, so the store works on
//! Redis Cluster as well. Addresses are stored in lower case.

mod record;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use mailroom_queue::{Queue, QueueError, normalize_sender};
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};

use self::record::Record;
use super::keys::{KeyError, TokenKeys};
use super::sealed::{CIPHERTEXT_FIELD, Sealed, SealedError};

/// What can go wrong reading or writing stored tokens. Messages never contain a token.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Redis could not be reached or refused the command.
    #[error("{0}")]
    Redis(#[from] QueueError),
    /// The stored token does not decrypt with the keyring.
    #[error("the stored token of {sender}: {source}")]
    Key {
        /// The sender.
        sender: String,
        /// Why it does not decrypt.
        source: KeyError,
    },
    /// The stored record is incomplete or not in the expected format.
    #[error("the stored token of {sender} is damaged: {message}")]
    Corrupt {
        /// The sender.
        sender: String,
        /// What is wrong.
        message: String,
    },
    /// The store was opened without a keyring, so it cannot read or write tokens.
    #[error("no token keys loaded")]
    NoKeys,
}

/// A decrypted stored token. `Debug` never shows the refresh token.
#[derive(Clone)]
pub struct StoredToken {
    /// The sender (lower case).
    pub sender: String,
    /// The OAuth refresh token.
    pub refresh_token: SecretString,
    /// What is known about it besides the token.
    pub info: TokenInfo,
}

impl fmt::Debug for StoredToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredToken")
            .field("sender", &self.sender)
            .field("refresh_token", &"[redacted]")
            .field("info", &self.info)
            .finish()
    }
}

/// A stored token's record without the secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenInfo {
    /// The sender (lower case).
    pub sender: String,
    /// The id of the key that encrypts the token.
    pub key_id: String,
    /// The OAuth client the token was issued to.
    pub client_id: String,
    /// The scopes Google granted.
    pub scopes: Vec<String>,
    /// When the token was stored.
    pub created_at: Option<DateTime<Utc>>,
    /// The last successful refresh.
    pub refreshed_at: Option<DateTime<Utc>>,
    /// The error of the last refresh, if it failed.
    pub last_error: Option<String>,
    /// When the last refresh failed.
    pub last_error_at: Option<DateTime<Utc>>,
}

/// The outcome of [`TokenStore::rotate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rotation {
    /// Tokens re-encrypted under the current key.
    pub rotated: usize,
    /// Tokens that already used the current key.
    pub already_current: usize,
}

/// Encrypted refresh tokens in Redis, beside the queue. Cheap to clone; `Debug` shows the key
/// ids only.
#[derive(Clone, Debug)]
pub struct TokenStore {
    queue: Queue,
    keys: Option<Arc<TokenKeys>>,
}

impl TokenStore {
    /// A store on `queue`'s Redis that encrypts with `keys`.
    #[must_use]
    pub fn new(queue: Queue, keys: Arc<TokenKeys>) -> Self {
        Self {
            queue,
            keys: Some(keys),
        }
    }

    /// A store that can list and remove tokens but not read or write them (no keyring needed).
    #[must_use]
    pub fn without_keys(queue: Queue) -> Self {
        Self { queue, keys: None }
    }

    /// The keyring, if the store has one.
    #[must_use]
    pub fn keys(&self) -> Option<&Arc<TokenKeys>> {
        self.keys.as_ref()
    }

    /// The queue the store lives beside.
    #[must_use]
    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    fn require_keys(&self) -> Result<&TokenKeys, StoreError> {
        self.keys.as_deref().ok_or(StoreError::NoKeys)
    }

    /// Stores (or replaces) the refresh token of `sender`, encrypted under the current key.
    ///
    /// # Errors
    /// [`StoreError::Redis`], or [`StoreError::NoKeys`].
    pub async fn put(
        &self,
        sender: &str,
        refresh_token: &SecretString,
        client_id: &str,
        scopes: &[String],
    ) -> Result<(), StoreError> {
        let keys = self.require_keys()?;
        let sender = normalize_sender(sender);
        let sealed = keys.encrypt(refresh_token.expose_secret().as_bytes(), &sender);
        let fields = Record::new_fields(&sealed, client_id, scopes);
        self.queue.put_token_record(&sender, &fields).await?;
        Ok(())
    }

    async fn read(&self, sender: &str) -> Result<Option<Record>, StoreError> {
        Ok(Record::from_hash(self.queue.token_record(sender).await?))
    }

    /// The sealed token of a record, or what is wrong with it.
    fn sealed(sender: &str, record: &Record) -> Result<Sealed, StoreError> {
        record
            .sealed()
            .map_err(|e: SealedError| StoreError::Corrupt {
                sender: sender.to_owned(),
                message: e.to_string(),
            })
    }

    /// Decrypts `sender`'s sealed token.
    fn open(
        keys: &TokenKeys,
        sealed: &Sealed,
        sender: &str,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        keys.decrypt(sealed, sender)
            .map_err(|source| StoreError::Key {
                sender: sender.to_owned(),
                source,
            })
    }

    /// The decrypted token of `sender`, or `None` when none is stored.
    ///
    /// # Errors
    /// [`StoreError::Redis`]; [`StoreError::Key`] when it does not decrypt (its key was
    /// removed, or the data was altered); [`StoreError::Corrupt`]; [`StoreError::NoKeys`].
    pub async fn get(&self, sender: &str) -> Result<Option<StoredToken>, StoreError> {
        let keys = self.require_keys()?;
        let sender = normalize_sender(sender);
        let Some(record) = self.read(&sender).await? else {
            return Ok(None);
        };
        let sealed = Self::sealed(&sender, &record)?;
        let plain = Self::open(keys, &sealed, &sender)?;
        let token = String::from_utf8(plain.to_vec()).map_err(|_| StoreError::Corrupt {
            sender: sender.clone(),
            message: "the token is not text".to_owned(),
        })?;
        Ok(Some(StoredToken {
            info: record.info(&sender),
            sender,
            refresh_token: SecretString::from(token),
        }))
    }

    /// The enrolled senders, sorted, without their tokens.
    ///
    /// # Errors
    /// [`StoreError::Redis`].
    pub async fn list(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let senders = self.queue.token_senders().await?;
        let mut out = Vec::with_capacity(senders.len());
        for sender in senders {
            if let Some(record) = self.read(&sender).await? {
                out.push(record.info(&sender));
            }
        }
        Ok(out)
    }

    /// Deletes the token of `sender`; true when there was one.
    ///
    /// # Errors
    /// [`StoreError::Redis`].
    pub async fn remove(&self, sender: &str) -> Result<bool, StoreError> {
        Ok(self.queue.remove_token_record(sender).await?)
    }

    /// Records the outcome of a refresh: `refreshed_at` on success (clearing `last_error`),
    /// `last_error` otherwise. Nothing happens for a sender no longer enrolled.
    ///
    /// # Errors
    /// [`StoreError::Redis`].
    pub async fn mark_refreshed(
        &self,
        sender: &str,
        ok: bool,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let error = (!ok).then(|| error.unwrap_or("refresh failed"));
        self.queue
            .mark_token_refresh(sender, Utc::now().timestamp_millis(), error)
            .await?;
        Ok(())
    }

    /// Re-encrypts every stored token under the current key (a token replaced meanwhile by a
    /// new enrollment is left as the enrollment wrote it).
    ///
    /// # Errors
    /// [`StoreError::Redis`]; [`StoreError::Key`] naming the first token that does not decrypt
    /// (the tokens before it stay re-encrypted; fix the keyring and run it again).
    pub async fn rotate(&self) -> Result<Rotation, StoreError> {
        let keys = self.require_keys()?;
        let senders = self.queue.token_senders().await?;
        let mut rotation = Rotation::default();
        for sender in senders {
            let Some(record) = self.read(&sender).await? else {
                continue;
            };
            let sealed = Self::sealed(&sender, &record)?;
            if sealed.key_id == keys.current_id() {
                rotation.already_current += 1;
                continue;
            }
            let plain = Self::open(keys, &sealed, &sender)?;
            let resealed = keys.encrypt(&plain, &sender);
            let swapped = self
                .queue
                .swap_token_fields(
                    &sender,
                    CIPHERTEXT_FIELD,
                    record.field(CIPHERTEXT_FIELD).unwrap_or_default(),
                    &resealed.to_fields(),
                )
                .await?;
            if swapped {
                rotation.rotated += 1;
            } else {
                rotation.already_current += 1;
            }
        }
        Ok(rotation)
    }
}
