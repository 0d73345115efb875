//! [`TokenStore`]: senders' refresh tokens, encrypted with [`TokenKeys`], in the queue's Redis.
//!
//! Each sender has a hash `{queue}:token:<address>` with the fields `kid` (key id), `nonce`
//! and `ct` (base64 nonce and ciphertext of the refresh token; the associated data is the
//! address), `client_id`, `scopes` (space separated), `created_at`, `refreshed_at` (ms since
//! the epoch) and `last_error`. The set `{queue}:tokens` lists the enrolled senders. Every
//! key shares the queue's hash tag, so the store works on Redis Cluster as well. Addresses are
//! stored in lower case.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use mailroom_queue::{Conn, Queue, normalize_sender};
use redis::AsyncCommands as _;
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};

use super::keys::{KeyError, Sealed, TokenKeys};

/// Sets `refreshed_at` (success) or `last_error` (failure) of a sender still enrolled.
const MARK_SCRIPT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] == '1' then
  redis.call('HSET', KEYS[1], 'refreshed_at', ARGV[2])
  redis.call('HDEL', KEYS[1], 'last_error', 'last_error_at')
else
  redis.call('HSET', KEYS[1], 'last_error', ARGV[3], 'last_error_at', ARGV[2])
end
return 1
";

/// Replaces a ciphertext only if it is still the one that was read (a concurrent login wins).
const SWAP_SCRIPT: &str = r"
if redis.call('HGET', KEYS[1], 'ct') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'kid', ARGV[2], 'nonce', ARGV[3], 'ct', ARGV[4])
return 1
";

/// What can go wrong reading or writing stored tokens. Messages never contain a token.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Redis could not be reached or refused the command.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
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

/// Encrypted refresh tokens in Redis, beside the queue. Cheap to clone.
#[derive(Clone)]
pub struct TokenStore {
    queue: Queue,
    keys: Option<Arc<TokenKeys>>,
}

impl fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenStore")
            .field("queue", &self.queue)
            .field("keys", &self.keys)
            .finish()
    }
}

fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

fn time(ms: Option<&String>) -> Option<DateTime<Utc>> {
    ms.and_then(|v| v.parse::<i64>().ok())
        .and_then(DateTime::from_timestamp_millis)
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

    fn conn(&self) -> Conn {
        self.queue.connection()
    }

    fn hash_key(&self, sender: &str) -> String {
        self.queue.key(&format!("token:{sender}"))
    }

    fn set_key(&self) -> String {
        self.queue.key("tokens")
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
        let hash = self.hash_key(&sender);
        let fields = [
            ("kid", sealed.key_id.clone()),
            ("nonce", STANDARD.encode(&sealed.nonce)),
            ("ct", STANDARD.encode(&sealed.ciphertext)),
            ("client_id", client_id.to_owned()),
            ("scopes", scopes.join(" ")),
            ("created_at", now_ms().to_string()),
        ];
        let () = redis::pipe()
            .atomic()
            .del(&hash)
            .ignore()
            .hset_multiple(&hash, &fields)
            .ignore()
            .sadd(self.set_key(), &sender)
            .ignore()
            .query_async(&mut self.conn())
            .await?;
        Ok(())
    }

    async fn read(&self, sender: &str) -> Result<Option<HashMap<String, String>>, StoreError> {
        let h: HashMap<String, String> = self.conn().hgetall(self.hash_key(sender)).await?;
        Ok((!h.is_empty()).then_some(h))
    }

    fn info(sender: &str, h: &HashMap<String, String>) -> TokenInfo {
        let text = |k: &str| h.get(k).cloned().unwrap_or_default();
        TokenInfo {
            sender: sender.to_owned(),
            key_id: text("kid"),
            client_id: text("client_id"),
            scopes: h
                .get("scopes")
                .map(|s| s.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
            created_at: time(h.get("created_at")),
            refreshed_at: time(h.get("refreshed_at")),
            last_error: h.get("last_error").filter(|e| !e.is_empty()).cloned(),
            last_error_at: time(h.get("last_error_at")),
        }
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

    fn sealed(sender: &str, h: &HashMap<String, String>) -> Result<Sealed, StoreError> {
        let corrupt = |message: &str| StoreError::Corrupt {
            sender: sender.to_owned(),
            message: message.to_owned(),
        };
        let field = |k: &str| {
            h.get(k)
                .filter(|v| !v.is_empty())
                .ok_or_else(|| corrupt(&format!("no {k} field")))
        };
        Ok(Sealed {
            key_id: field("kid")?.clone(),
            nonce: STANDARD
                .decode(field("nonce")?)
                .map_err(|_| corrupt("nonce is not base64"))?,
            ciphertext: STANDARD
                .decode(field("ct")?)
                .map_err(|_| corrupt("ct is not base64"))?,
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
        let Some(h) = self.read(&sender).await? else {
            return Ok(None);
        };
        let sealed = Self::sealed(&sender, &h)?;
        let plain = Self::open(keys, &sealed, &sender)?;
        let token = String::from_utf8(plain.to_vec()).map_err(|_| StoreError::Corrupt {
            sender: sender.clone(),
            message: "the token is not text".to_owned(),
        })?;
        Ok(Some(StoredToken {
            info: Self::info(&sender, &h),
            sender,
            refresh_token: SecretString::from(token),
        }))
    }

    /// The enrolled senders, sorted, without their tokens.
    ///
    /// # Errors
    /// [`StoreError::Redis`].
    pub async fn list(&self) -> Result<Vec<TokenInfo>, StoreError> {
        let mut senders: Vec<String> = self.conn().smembers(self.set_key()).await?;
        senders.sort();
        let mut out = Vec::with_capacity(senders.len());
        for sender in senders {
            if let Some(h) = self.read(&sender).await? {
                out.push(Self::info(&sender, &h));
            }
        }
        Ok(out)
    }

    /// Deletes the token of `sender`; true when there was one.
    ///
    /// # Errors
    /// [`StoreError::Redis`].
    pub async fn remove(&self, sender: &str) -> Result<bool, StoreError> {
        let sender = normalize_sender(sender);
        let (deleted, _): (i64, i64) = redis::pipe()
            .atomic()
            .del(self.hash_key(&sender))
            .srem(self.set_key(), &sender)
            .query_async(&mut self.conn())
            .await?;
        Ok(deleted > 0)
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
        let sender = normalize_sender(sender);
        let _: i64 = redis::Script::new(MARK_SCRIPT)
            .key(self.hash_key(&sender))
            .arg(if ok { "1" } else { "0" })
            .arg(now_ms())
            .arg(error.unwrap_or("refresh failed"))
            .invoke_async(&mut self.conn())
            .await?;
        Ok(())
    }

    /// Re-encrypts every stored token under the current key (a token replaced meanwhile by a
    /// new login is left as the login wrote it).
    ///
    /// # Errors
    /// [`StoreError::Redis`]; [`StoreError::Key`] naming the first token that does not decrypt
    /// (the tokens before it stay re-encrypted; fix the keyring and run it again).
    pub async fn rotate(&self) -> Result<Rotation, StoreError> {
        let keys = self.require_keys()?;
        let mut senders: Vec<String> = self.conn().smembers(self.set_key()).await?;
        senders.sort();
        let mut rotation = Rotation::default();
        for sender in senders {
            let Some(h) = self.read(&sender).await? else {
                continue;
            };
            let sealed = Self::sealed(&sender, &h)?;
            if sealed.key_id == keys.current_id() {
                rotation.already_current += 1;
                continue;
            }
            let plain = Self::open(keys, &sealed, &sender)?;
            let resealed = keys.encrypt(&plain, &sender);
            let swapped: i64 = redis::Script::new(SWAP_SCRIPT)
                .key(self.hash_key(&sender))
                .arg(h.get("ct").map_or("", String::as_str))
                .arg(&resealed.key_id)
                .arg(STANDARD.encode(&resealed.nonce))
                .arg(STANDARD.encode(&resealed.ciphertext))
                .invoke_async(&mut self.conn())
                .await?;
            if swapped == 1 {
                rotation.rotated += 1;
            } else {
                rotation.already_current += 1;
            }
        }
        Ok(rotation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailroom_queue::QueueConfig;
    use mailroom_testkit::RedisServer;

    fn keys(lines: &[&str]) -> Arc<TokenKeys> {
        Arc::new(TokenKeys::parse(&lines.join("\n"), "test", false).unwrap())
    }

    async fn queue(redis: &RedisServer) -> Queue {
        Queue::connect(&redis.url(), QueueConfig::default())
            .await
            .unwrap()
    }

    async fn raw_dump(redis: &RedisServer) -> String {
        let client = redis::Client::open(redis.url()).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let names: Vec<String> = redis::cmd("KEYS")
            .arg("*")
            .query_async(&mut c)
            .await
            .unwrap();
        let mut dump = names.join("\n");
        for name in names {
            let kind: String = redis::cmd("TYPE")
                .arg(&name)
                .query_async(&mut c)
                .await
                .unwrap();
            let value: redis::Value = match kind.as_str() {
                "hash" => c.hgetall(&name).await.unwrap(),
                "set" => c.smembers(&name).await.unwrap(),
                "string" => c.get(&name).await.unwrap(),
                _ => redis::Value::Nil,
            };
            dump.push_str(&format!("\n{name} {value:?}"));
        }
        dump
    }

    const TOKEN: &str = "1//0g-refresh-token-in-clear";

    #[tokio::test]
    async fn put_get_list_remove() {
        let redis = RedisServer::start();
        let k1 = TokenKeys::generate_line("k1");
        let store = TokenStore::new(queue(&redis).await, keys(&[&k1]));
        assert!(store.get("a@example.com").await.unwrap().is_none());
        let scopes = vec![
            "openid".to_owned(),
            crate::credentials::GMAIL_SEND_SCOPE.to_owned(),
        ];
        store
            .put(
                "A@Example.com",
                &SecretString::from(TOKEN.to_owned()),
                "cid",
                &scopes,
            )
            .await
            .unwrap();
        let got = store.get("a@example.com").await.unwrap().unwrap();
        assert_eq!(got.sender, "a@example.com");
        assert_eq!(got.refresh_token.expose_secret(), TOKEN);
        assert_eq!(got.info.client_id, "cid");
        assert_eq!(got.info.scopes, scopes);
        assert_eq!(got.info.key_id, "k1");
        assert!(got.info.created_at.is_some());
        assert!(got.info.refreshed_at.is_none());
        assert!(!format!("{got:?}").contains(TOKEN));

        let dump = raw_dump(&redis).await;
        assert!(dump.contains("{mailroom}:token:a@example.com"), "{dump}");
        assert!(dump.contains("{mailroom}:tokens"), "{dump}");
        assert!(!dump.contains(TOKEN), "{dump}");
        assert!(!dump.contains("refresh-token"), "{dump}");

        store
            .mark_refreshed("a@example.com", false, Some("grant refused"))
            .await
            .unwrap();
        let info = &store.list().await.unwrap()[0];
        assert_eq!(info.last_error.as_deref(), Some("grant refused"));
        assert!(info.refreshed_at.is_none());
        store
            .mark_refreshed("a@example.com", true, None)
            .await
            .unwrap();
        let list = store.list().await.unwrap();
        assert_eq!(list.len(), 1);
        assert!(list[0].refreshed_at.is_some());
        assert!(list[0].last_error.is_none());

        assert!(store.remove("a@example.com").await.unwrap());
        assert!(!store.remove("a@example.com").await.unwrap());
        assert!(store.list().await.unwrap().is_empty());
        // A late refresh outcome does not bring back a removed sender.
        store
            .mark_refreshed("a@example.com", true, None)
            .await
            .unwrap();
        assert!(!raw_dump(&redis).await.contains("token"));
    }

    #[tokio::test]
    async fn ciphertexts_are_bound_to_their_sender() {
        let redis = RedisServer::start();
        let store = TokenStore::new(
            queue(&redis).await,
            keys(&[&TokenKeys::generate_line("k1")]),
        );
        let secret = SecretString::from(TOKEN.to_owned());
        store
            .put("a@example.com", &secret, "cid", &[])
            .await
            .unwrap();
        store
            .put("b@example.com", &secret, "cid", &[])
            .await
            .unwrap();
        // Copy a's ciphertext over b's.
        let mut c = store.conn();
        let a: HashMap<String, String> = c.hgetall(store.hash_key("a@example.com")).await.unwrap();
        let () = c
            .hset_multiple(
                store.hash_key("b@example.com"),
                &[("nonce", &a["nonce"]), ("ct", &a["ct"])],
            )
            .await
            .unwrap();
        let err = store.get("b@example.com").await.unwrap_err();
        assert!(matches!(err, StoreError::Key { .. }), "{err}");
        assert!(!err.to_string().contains(TOKEN));
    }

    #[tokio::test]
    async fn rotate_re_encrypts_under_the_current_key() {
        let redis = RedisServer::start();
        let q = queue(&redis).await;
        let (k1, k2) = (
            TokenKeys::generate_line("k1"),
            TokenKeys::generate_line("k2"),
        );
        let old = TokenStore::new(q.clone(), keys(&[&k1]));
        for sender in ["a@example.com", "b@example.com"] {
            old.put(
                sender,
                &SecretString::from(format!("tok-{sender}")),
                "cid",
                &[],
            )
            .await
            .unwrap();
        }
        let both = TokenStore::new(q.clone(), keys(&[&k2, &k1]));
        both.put(
            "c@example.com",
            &SecretString::from("tok-c".to_owned()),
            "cid",
            &[],
        )
        .await
        .unwrap();
        let rotation = both.rotate().await.unwrap();
        assert_eq!(
            rotation,
            Rotation {
                rotated: 2,
                already_current: 1
            }
        );
        assert_eq!(
            both.rotate().await.unwrap(),
            Rotation {
                rotated: 0,
                already_current: 3
            }
        );
        let new_only = TokenStore::new(q.clone(), keys(&[&k2]));
        let a = new_only.get("a@example.com").await.unwrap().unwrap();
        assert_eq!(a.refresh_token.expose_secret(), "tok-a@example.com");
        assert_eq!(a.info.key_id, "k2");
        // The old key alone no longer reads anything.
        let err = old.get("a@example.com").await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Key { source: KeyError::UnknownKey(id), .. } if id == "k2"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_store_without_keys_lists_but_does_not_read() {
        let redis = RedisServer::start();
        let q = queue(&redis).await;
        let store = TokenStore::new(q.clone(), keys(&[&TokenKeys::generate_line("k1")]));
        store
            .put(
                "a@example.com",
                &SecretString::from(TOKEN.to_owned()),
                "cid",
                &[],
            )
            .await
            .unwrap();
        let bare = TokenStore::without_keys(q);
        assert_eq!(bare.list().await.unwrap().len(), 1);
        assert!(matches!(
            bare.get("a@example.com").await.unwrap_err(),
            StoreError::NoKeys
        ));
        assert!(bare.remove("a@example.com").await.unwrap());
    }
}
