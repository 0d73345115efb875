//! `[unsubscribe]`: one-click unsubscribe links (RFC 8058) for jobs sent on a mailing list:
//! where the links point, the keyring that seals their tokens, and how long a token works.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Config, ConfigError};

/// `[unsubscribe]`: the one-click unsubscribe links the worker adds to list mail, and that
/// `mailroom api` answers at `/u/TOKEN`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UnsubscribeSection {
    /// The public base URL of `mailroom api`, e.g. `"https://mail.example.com"`: links are
    /// `BASE/u/TOKEN`. Unset (the default), list mail gets `List-Id` and the job's `mailto:`
    /// link only, with no one-click link.
    pub base_url: Option<String>,
    /// The keyring that seals the tokens (AES-256-GCM), one `id:base64(32 bytes)` a line,
    /// the first the current key (`mailroom auth new-key` prints one); checked like every
    /// secret file. Required with `base_url`, by the worker and by `mailroom api`. Default
    /// none.
    pub keys_file: Option<PathBuf>,
    /// How long a link works after its message was rendered. Default 90 days.
    #[serde(with = "humantime_serde")]
    pub link_ttl: Duration,
}

impl Default for UnsubscribeSection {
    fn default() -> Self {
        Self {
            base_url: None,
            keys_file: None,
            link_ttl: Duration::from_secs(90 * 86_400),
        }
    }
}

impl Config {
    /// The rules of `[unsubscribe]`, each naming its key.
    pub(super) fn check_unsubscribe(&self) -> Result<(), ConfigError> {
        let u = &self.unsubscribe;
        if let Some(base) = &u.base_url {
            let ok = (base.starts_with("https://") || base.starts_with("http://"))
                && base.len() > "https://".len()
                && base
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b','));
            if !ok {
                return Err(ConfigError::invalid(
                    "unsubscribe.base_url",
                    "must be an http(s) URL of printable ASCII without spaces, commas or <>",
                ));
            }
            if u.keys_file.is_none() {
                return Err(ConfigError::invalid(
                    "unsubscribe.keys_file",
                    "required with unsubscribe.base_url",
                ));
            }
        }
        if u.link_ttl < Duration::from_secs(3 * 86_400) {
            return Err(ConfigError::invalid(
                "unsubscribe.link_ttl",
                "must be at least 3 days (a recipient may click days after the message came)",
            ));
        }
        Ok(())
    }
}
