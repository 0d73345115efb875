//! One-click unsubscribe (RFC 8058) for jobs sent on a mailing list: the worker adds
//! `List-Id`, `List-Unsubscribe` and `List-Unsubscribe-Post` when it renders a list message
//! (`headers`), and `mailroom api` answers the link at `/u/TOKEN` (see
//! [`crate::api::unsubscribe`]).
//!
//! - `token`: the link's token: recipient, list, sender and expiry, sealed with AES-256-GCM
//!   under the `[unsubscribe] keys_file` keyring, so a forged or altered token does not open
//!   and the address cannot be read from the URL;
//! - `headers`: the list headers of one message.

mod headers;
mod token;

use std::time::Duration;

use anyhow::Context as _;

pub use headers::with_list_headers;
pub use token::{Claim, TokenError};

use crate::config::Config;
use crate::credentials::TokenKeys;

/// What makes and opens unsubscribe links: `[unsubscribe]`'s base URL, keyring and token
/// lifetime.
#[derive(Debug, Clone)]
pub struct Unsubscriber {
    keys: TokenKeys,
    base_url: String,
    ttl: Duration,
}

impl Unsubscriber {
    /// A link maker over `keys`, for links under `base_url`, each working for `ttl`.
    #[must_use]
    pub fn new(keys: TokenKeys, base_url: &str, ttl: Duration) -> Self {
        Self {
            keys,
            base_url: base_url.trim_end_matches('/').to_owned(),
            ttl,
        }
    }

    /// The one configured by `[unsubscribe]`; `None` without `base_url`.
    ///
    /// # Errors
    /// The key file is missing, too open, or holds no valid key.
    pub fn from_config(config: &Config) -> anyhow::Result<Option<Self>> {
        let u = &config.unsubscribe;
        let (Some(base), Some(path)) = (&u.base_url, &u.keys_file) else {
            return Ok(None);
        };
        crate::credentials::check_secret_file(
            path,
            "unsubscribe.keys_file",
            config.credentials.allow_group_readable_secrets,
        )
        .map_err(|e| anyhow::anyhow!("{}: {}", e.key, e.message))?;
        let keys = TokenKeys::load(Some(path), None).context("unsubscribe.keys_file")?;
        Ok(Some(Self::new(keys, base, u.link_ttl)))
    }

    /// The one-click link for `recipient` on `list`, sent by `sender`, made at `now`.
    #[must_use]
    pub fn link(
        &self,
        recipient: &str,
        list: &str,
        sender: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> String {
        let expires = now + chrono::Duration::from_std(self.ttl).unwrap_or_default();
        let token = token::seal(&self.keys, recipient, list, sender, expires);
        format!("{}/u/{token}", self.base_url)
    }

    /// Opens a token of [`Unsubscriber::link`] at `now`.
    ///
    /// # Errors
    /// [`TokenError::Invalid`] for anything not sealed by this keyring (forged, altered,
    /// truncated, an unknown key); [`TokenError::Expired`] for a genuine token past its time.
    pub fn open(
        &self,
        token: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Claim, TokenError> {
        token::open(&self.keys, token, now)
    }
}
