//! [`AuthorizedUserSource`]: access tokens from senders' stored refresh tokens.
//!
//! The refresh token of a sender is read from the [`TokenStore`] and exchanged at
//! `[google] token_url` (the configured endpoint wins over the `token_uri` of the client file,
//! so tests and demos can point the worker at a fake). Access tokens are cached per sender and
//! refreshed 60 s before they expire; concurrent callers for one sender wait for a single
//! refresh. Failures are classified where they happen: `invalid_grant` is
//! [`CredentialError::Revoked`], `invalid_client` / `unauthorized_client` are
//! [`CredentialError::BadKey`], a sender without a stored token is
//! [`CredentialError::NotEnrolled`], and transport errors, 5xx answers and answers that are not
//! OAuth JSON are [`CredentialError::Unavailable`].

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures::future::BoxFuture;
use mailroom_queue::{Queue, normalize_sender};
use oauth2::{RefreshToken, TokenResponse};
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

use super::client_secrets::ClientSecrets;
use super::keys::TokenKeys;
use super::store::{StoreError, TokenStore};
use super::token_endpoint::{TokenClient, classify_token_error, token_client};
use super::{AccessToken, CredentialError, RecentFailure, RefreshHook, TokenSource};
use crate::config::{Config, GoogleSection};
use crate::google_http::{StatusRecorder, build_http_client};

/// How long before its expiry a cached access token is refreshed.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);

/// Lifetime assumed for an access token whose answer gave no `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// A cached access token and when to refresh it.
struct Cached {
    token: AccessToken,
    refresh_at: Instant,
}

/// A sender's cached token (its lock is held during a refresh) and the last refresh's
/// failure while the token endpoint is unavailable.
#[derive(Default)]
struct Slot {
    cached: tokio::sync::Mutex<Option<Cached>>,
    failed: RecentFailure,
}

struct Inner {
    store: TokenStore,
    client: TokenClient,
    client_id: String,
    http: reqwest::Client,
    hook: RefreshHook,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

/// Access tokens from refresh tokens stored with `mailroom auth login` or the web flow. Cheap
/// to clone; clones share the cache.
#[derive(Clone)]
pub struct AuthorizedUserSource {
    inner: Arc<Inner>,
}

impl fmt::Debug for AuthorizedUserSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizedUserSource")
            .field("client_id", &self.inner.client_id)
            .field("token_url", &self.inner.client.token_uri().as_str())
            .finish_non_exhaustive()
    }
}

impl AuthorizedUserSource {
    /// A source reading refresh tokens from `store`, refreshing them for the OAuth client
    /// `secrets` at `google.token_url`; `hook` hears of every refresh attempt.
    ///
    /// # Errors
    /// [`CredentialError::BadKey`] for an unusable `google.token_url` or HTTP client.
    pub fn new(
        store: TokenStore,
        secrets: ClientSecrets,
        google: &GoogleSection,
        hook: RefreshHook,
    ) -> Result<Self, CredentialError> {
        let client = token_client(&secrets, google)?;
        let http = build_http_client(google)
            .map_err(|e| CredentialError::BadKey(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                client,
                client_id: secrets.client_id,
                http,
                hook,
                slots: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The source described by `config` (`[credentials] client_secrets` and `token_keys`,
    /// `[google]`), storing beside `queue`.
    ///
    /// # Errors
    /// [`CredentialError::BadKey`] when the client file or the keyring cannot be loaded.
    pub fn from_config(
        config: &Config,
        queue: Queue,
        hook: RefreshHook,
    ) -> Result<Self, CredentialError> {
        let secrets = ClientSecrets::from_config(None, &config.credentials)
            .map_err(|e| CredentialError::BadKey(e.to_string()))?;
        let keys = TokenKeys::from_config(&config.credentials)
            .map_err(|e| CredentialError::BadKey(e.to_string()))?;
        Self::new(
            TokenStore::new(queue, Arc::new(keys)),
            secrets,
            &config.google,
            hook,
        )
    }

    /// The store the source reads.
    #[must_use]
    pub fn store(&self) -> &TokenStore {
        &self.inner.store
    }

    fn slot(&self, sender: &str) -> Arc<Slot> {
        let mut slots = self
            .inner
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        slots.entry(sender.to_owned()).or_default().clone()
    }

    async fn cached_or_refresh(&self, sender: &str) -> Result<AccessToken, CredentialError> {
        let sender = normalize_sender(sender);
        let slot = self.slot(&sender);
        let mut cached = slot.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| Instant::now() < c.refresh_at) {
            return Ok(c.token.clone());
        }
        // The callers that waited for a refresh the token endpoint failed take its failure.
        if let Some(failed) = slot.failed.get() {
            return Err(failed);
        }
        let result = self.refresh(&sender).await;
        slot.failed.record(&result);
        (self.inner.hook)(result.is_ok());
        let mark = match &result {
            Ok(fresh) => {
                *cached = Some(Cached {
                    token: fresh.token.clone(),
                    refresh_at: fresh.refresh_at,
                });
                self.inner.store.mark_refreshed(&sender, true, None).await
            }
            Err(e) => {
                *cached = None;
                tracing::warn!(%sender, error = %e, "access token refresh failed");
                self.inner
                    .store
                    .mark_refreshed(&sender, false, Some(&e.to_string()))
                    .await
            }
        };
        if let Err(e) = mark {
            tracing::warn!(%sender, error = %e, "could not record the refresh outcome");
        }
        result.map(|c| c.token)
    }

    async fn refresh(&self, sender: &str) -> Result<Cached, CredentialError> {
        let stored = match self.inner.store.get(sender).await {
            Ok(Some(stored)) => stored,
            Ok(None) => return Err(CredentialError::NotEnrolled),
            Err(StoreError::Redis(e)) => {
                return Err(CredentialError::Unavailable(format!(
                    "reading the stored token: {e}"
                )));
            }
            Err(e) => return Err(CredentialError::BadKey(e.to_string())),
        };
        let issued_to = &stored.info.client_id;
        if !issued_to.is_empty() && *issued_to != self.inner.client_id {
            return Err(CredentialError::BadKey(format!(
                "the stored token was issued to OAuth client {issued_to}, not to the configured \
                 {}; run `mailroom auth login` again",
                self.inner.client_id
            )));
        }
        let refresh_token = RefreshToken::new(stored.refresh_token.expose_secret().to_owned());
        let recorder = StatusRecorder::new(&self.inner.http);
        let started = Instant::now();
        let answer = self
            .inner
            .client
            .exchange_refresh_token(&refresh_token)
            .request_async(&recorder)
            .await
            .map_err(|e| classify_token_error(&e, recorder.status()))?;
        let lifetime = answer.expires_in().unwrap_or(DEFAULT_LIFETIME);
        let expires_at = chrono::Duration::from_std(lifetime)
            .ok()
            .and_then(|d| Utc::now().checked_add_signed(d));
        let renewed = answer
            .refresh_token()
            .filter(|r| r.secret() != stored.refresh_token.expose_secret());
        if let Some(renewed) = renewed {
            let renewed = SecretString::from(renewed.secret().clone());
            if let Err(e) = self
                .inner
                .store
                .put(sender, &renewed, issued_to, &stored.info.scopes)
                .await
            {
                tracing::warn!(%sender, error = %e, "could not store the renewed refresh token");
            }
        }
        Ok(Cached {
            token: AccessToken::new(answer.access_token().secret().clone(), expires_at),
            refresh_at: started + lifetime.saturating_sub(REFRESH_MARGIN),
        })
    }
}

impl TokenSource for AuthorizedUserSource {
    fn token<'a>(&'a self, sender: &'a str) -> BoxFuture<'a, Result<AccessToken, CredentialError>> {
        Box::pin(self.cached_or_refresh(sender))
    }

    fn invalidate(&self, sender: &str) {
        let sender = normalize_sender(sender);
        let mut slots = self
            .inner
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let busy = match slots.get(&sender) {
            None => false,
            Some(slot) => match slot.cached.try_lock() {
                Ok(mut cached) => {
                    *cached = None;
                    false
                }
                Err(_) => true,
            },
        };
        // A refresh is running: later callers get a new slot and refresh on their own.
        if busy {
            slots.remove(&sender);
        }
    }
}
