//! Credentials: an access token for each sender, from a service account with domain-wide
//! delegation ([`ServiceAccountSource`]) or from refresh tokens stored encrypted in Redis
//! ([`AuthorizedUserSource`]).
//!
//! A failure says at its birth what it means for the sender: [`CredentialError::quarantines`]
//! is true when only an operator can fix it (revoked grant, delegation not granted, bad key, no
//! stored token), false when the token endpoint is merely unavailable.
//!
//! - `service_account`: delegated tokens, a signed assertion per sender;
//! - `jwt_grant`: that assertion, its exchange and what the answer means;
//! - `cache`: what is kept per sender, bounded ([`SenderCache`]);
//! - `secret_file`: secret files others may read are refused ([`check_secret_file`]);
//! - `authorized_user`: tokens refreshed from stored refresh tokens, cached per sender;
//! - `token_endpoint`: the OAuth token endpoint's client and what its errors mean;
//! - `client_secrets`: the OAuth client file;
//! - `keys`: the AES-256-GCM keyring; `sealed`: how a sealed value is written down;
//! - `store`: the encrypted refresh tokens in Redis;
//! - `health`: whether refreshes work, for `/readyz`.

mod authorized_user;
mod cache;
mod client_secrets;
mod health;
mod jwt_grant;
mod keys;
mod sealed;
mod secret_file;
mod service_account;
mod store;
mod token_endpoint;

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use secrecy::{ExposeSecret, SecretString};
use tokio::time::Instant;

pub use authorized_user::{AuthorizedUserSource, REFRESH_MARGIN};
pub use cache::SenderCache;
pub use client_secrets::{ClientSecrets, ClientSecretsError, ClientType};
pub use health::{CredentialHealth, UNUSABLE_AFTER};
pub use jwt_grant::MAX_TOKEN_LIFETIME;
pub use keys::{KeyError, TOKEN_KEYS_ENV, TokenKeys, check_id as check_key_id};
pub use sealed::{Sealed, SealedError};
pub use secret_file::{SecretFileError, check as check_secret_file, check_redis_tls_key};
pub use service_account::ServiceAccountSource;
pub use store::{Rotation, StoreError, StoredToken, TokenInfo, TokenStore};
pub(crate) use token_endpoint::classify_token_error;

/// The OAuth scope a sender's token needs: send mail, nothing else.
pub const GMAIL_SEND_SCOPE: &str = "https://www.googleapis.com/auth/gmail.send";
pub use crate::config::gmail_scopes::{GMAIL_METADATA_SCOPE, GMAIL_READONLY_SCOPE};

/// The scope that reads a sender's send-as aliases, asked for only by `mailroom auth check
/// --pool` (and `auth login`) when `gmail.check_send_as` is on.
pub const GMAIL_SETTINGS_BASIC_SCOPE: &str = "https://www.googleapis.com/auth/gmail.settings.basic";

/// An access token for one sender. `Debug` never shows the token.
#[derive(Clone)]
pub struct AccessToken {
    token: SecretString,
    /// When Google said it expires, if it said.
    pub expires_at: Option<DateTime<Utc>>,
}

impl AccessToken {
    /// A token and its expiry.
    #[must_use]
    pub fn new(token: impl Into<String>, expires_at: Option<DateTime<Utc>>) -> Self {
        Self {
            token: SecretString::from(token.into()),
            expires_at,
        }
    }

    /// The bearer token, for the `Authorization` header.
    #[must_use]
    pub fn expose(&self) -> &str {
        self.token.expose_secret()
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Why no token could be had for a sender.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// Google refused the grant (`invalid_grant`): the refresh token was revoked or expired,
    /// or the service account may not act as this user.
    #[error("grant refused (invalid_grant): {0}")]
    Revoked(String),
    /// Domain-wide delegation is not granted to the service account for the Gmail send scope
    /// (`unauthorized_client`).
    #[error("domain-wide delegation not granted: {0}")]
    DelegationDenied(String),
    /// The key file or client secrets are unreadable, malformed or not accepted by Google.
    #[error("bad credentials: {0}")]
    BadKey(String),
    /// No refresh token is stored for this sender: run `mailroom auth login`.
    #[error("no stored token for this sender; run `mailroom auth login`")]
    NotEnrolled,
    /// The token endpoint could not be reached or failed (5xx, timeout); worth retrying.
    #[error("token endpoint unavailable: {0}")]
    Unavailable(String),
}

impl CredentialError {
    /// True when only an operator can fix this: the sender is quarantined, its jobs wait.
    #[must_use]
    pub fn quarantines(&self) -> bool {
        !matches!(self, Self::Unavailable(_))
    }
}

/// After the token endpoint failed to refresh a sender's token ([`CredentialError::Unavailable`]),
/// how long that failure answers the sender's callers before the endpoint is asked again: the
/// jobs of one sender, however many, make at most one token request per this period during an
/// outage.
pub const REFRESH_RETRY: Duration = Duration::from_secs(1);

/// A sender's last refresh failure while the token endpoint is unavailable, handed to callers
/// for [`REFRESH_RETRY`] instead of a new request. The clock is tokio's.
#[derive(Debug, Default)]
pub(crate) struct RecentFailure(Mutex<Option<(Instant, CredentialError)>>);

impl RecentFailure {
    /// The failure, if one came less than [`REFRESH_RETRY`] ago.
    pub(crate) fn get(&self) -> Option<CredentialError> {
        let guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        guard
            .as_ref()
            .filter(|(at, _)| at.elapsed() < REFRESH_RETRY)
            .map(|(_, e)| e.clone())
    }

    /// Remembers a refresh's outcome: an unavailable endpoint is remembered, anything else
    /// (a token, or a failure only an operator fixes) forgets the last failure.
    pub(crate) fn record<T>(&self, outcome: &Result<T, CredentialError>) {
        let mut guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *guard = match outcome {
            Err(e @ CredentialError::Unavailable(_)) => Some((Instant::now(), e.clone())),
            _ => None,
        };
    }
}

/// Called after every token refresh with whether it succeeded (metrics).
pub type RefreshHook = Arc<dyn Fn(bool) + Send + Sync>;

/// Where a sender's access tokens come from. Implementations cache tokens and refresh them
/// before they expire.
pub trait TokenSource: Send + Sync + fmt::Debug {
    /// A valid access token for `sender` with the Gmail send scope.
    fn token<'a>(&'a self, sender: &'a str) -> BoxFuture<'a, Result<AccessToken, CredentialError>>;

    /// Forgets the cached token of `sender` (Gmail answered 401), so the next call refreshes.
    fn invalidate(&self, sender: &str);
}

/// The token source `[credentials]` describes.
///
/// # Errors
/// A key file or client secrets that cannot be read or used, naming the file.
pub fn from_config(
    config: &crate::Config,
    queue: &mailroom_queue::Queue,
    hook: RefreshHook,
) -> Result<Arc<dyn TokenSource>, CredentialError> {
    let c = &config.credentials;
    match c.kind {
        crate::config::CredentialKind::ServiceAccount => {
            Ok(Arc::new(ServiceAccountSource::from_config(config, hook)?))
        }
        crate::config::CredentialKind::AuthorizedUser => Ok(Arc::new(
            AuthorizedUserSource::from_config(config, queue.clone(), hook)?,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_unavailable_endpoint_answers_for_refresh_retry_only() {
        let failed = RecentFailure::default();
        assert_eq!(failed.get(), None);
        let outage = CredentialError::Unavailable("HTTP 503".into());
        failed.record::<()>(&Err(outage.clone()));
        assert_eq!(failed.get(), Some(outage.clone()));
        tokio::time::advance(REFRESH_RETRY - Duration::from_millis(1)).await;
        assert_eq!(
            failed.get(),
            Some(outage.clone()),
            "still within the period"
        );
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(failed.get(), None, "the endpoint is asked again");

        failed.record::<()>(&Err(outage));
        failed.record::<()>(&Err(CredentialError::Revoked("gone".into())));
        assert_eq!(failed.get(), None, "only an outage is remembered");
        failed.record::<()>(&Err(CredentialError::Unavailable("again".into())));
        failed.record(&Ok(()));
        assert_eq!(failed.get(), None, "a token forgets the outage");
    }
}
