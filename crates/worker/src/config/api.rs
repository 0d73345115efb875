//! `[api]`: the listener of `mailroom api` (the HTTP API and the console), its key file, its
//! size limits and the console's sessions.
//! The listener's timeouts and connection cap are those of `[http]`, so every listener of the
//! binary is bounded alike.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::sections::listen_addr;
use super::{Config, ConfigError};

/// `[api]`: what `mailroom api` serves on, whom it lets in, and how large a request may be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiSection {
    /// IP address and port of the API listener, apart from `http.listen`, e.g.
    /// `"0.0.0.0:8025"`; port 0 picks a free port (logged at start). Default
    /// `"127.0.0.1:8025"`.
    #[serde(with = "listen_addr")]
    pub listen: Option<std::net::SocketAddr>,
    /// The API key file: one key a line, `ID:SHA256_HEX:SCOPES[:SENDERS]` (see
    /// `mailroom api new-key`). Its permissions are checked like every secret file's.
    /// Required by `mailroom api`. Default none.
    pub keys_file: Option<PathBuf>,
    /// Largest body of `POST /v1/messages` and of the other single requests, in bytes (else
    /// 413). Default 10 MiB.
    pub max_body_bytes: usize,
    /// Largest body of `POST /v1/messages/batch`, in bytes (else 413). Default 32 MiB.
    pub max_batch_bytes: usize,
    /// How long a console sign-in lasts; the session cookie expires then. Default `12h`.
    #[serde(with = "humantime_serde")]
    pub session_ttl: Duration,
    /// A file of at least 32 bytes whose content signs the console's session cookies, so
    /// sessions survive a restart and are good on every replica. Unset (the default): a
    /// random key made at start, so a restart signs everyone out.
    pub session_key_file: Option<PathBuf>,
    /// Mark the console's cookies `Secure` (sent over https only); set it when the API is
    /// served over https (directly or behind a TLS-terminating proxy). Default `false`.
    pub console_secure_cookies: bool,
}

impl Default for ApiSection {
    fn default() -> Self {
        Self {
            listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 8025))),
            keys_file: None,
            max_body_bytes: 10 * 1024 * 1024,
            max_batch_bytes: 32 * 1024 * 1024,
            session_ttl: Duration::from_secs(12 * 60 * 60),
            session_key_file: None,
            console_secure_cookies: false,
        }
    }
}

impl ApiSection {
    /// The bounds of the API listener: `[http]`'s timeouts and connection cap, and the larger
    /// of the two body limits (each route narrows it to its own).
    #[must_use]
    pub fn limits(&self, http: &super::HttpSection) -> crate::serve::Limits {
        crate::serve::Limits {
            max_body_bytes: self.max_body_bytes.max(self.max_batch_bytes),
            ..http.limits()
        }
    }
}

impl Config {
    /// The rules of `[api]`, each naming its key.
    pub(super) fn check_api(&self) -> Result<(), ConfigError> {
        let a = &self.api;
        if a.max_body_bytes < 1024 {
            return Err(ConfigError::invalid(
                "api.max_body_bytes",
                "must be at least 1024",
            ));
        }
        if a.session_ttl < Duration::from_secs(60) {
            return Err(ConfigError::invalid(
                "api.session_ttl",
                "must be at least 1 minute",
            ));
        }
        if a.max_batch_bytes < a.max_body_bytes {
            return Err(ConfigError::invalid(
                "api.max_batch_bytes",
                "must be at least api.max_body_bytes",
            ));
        }
        if a.listen
            .is_some_and(|l| l.port() != 0 && Some(l) == self.http.listen)
        {
            return Err(ConfigError::invalid(
                "api.listen",
                "must differ from http.listen: the API has a listener of its own",
            ));
        }
        if a.keys_file
            .as_ref()
            .is_some_and(|p| p.as_os_str().is_empty())
        {
            return Err(ConfigError::invalid("api.keys_file", "must not be empty"));
        }
        Ok(())
    }
}
