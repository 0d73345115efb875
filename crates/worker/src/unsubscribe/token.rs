//! The unsubscribe token: `KEY_ID~NONCE~CIPHERTEXT` (the last two base64url), the JSON of a
//! [`Claim`] sealed with AES-256-GCM. The seal authenticates it (a forged or altered token
//! fails to open) and hides the address it names. `~` separates the parts: it is unreserved
//! in URLs and in no key id or base64url text.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, TimeZone as _, Utc};
use serde::{Deserialize, Serialize};

use crate::credentials::{Sealed, TokenKeys};

/// Associated data of every token, so no other sealed value of the keyring opens as one.
const AAD: &str = "mailroom-unsubscribe-v1";

/// Longest token accepted, in bytes.
const MAX_TOKEN_BYTES: usize = 2048;

/// What a genuine token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// The recipient to suppress.
    #[serde(rename = "r")]
    pub recipient: String,
    /// The list's id.
    #[serde(rename = "l")]
    pub list: String,
    /// The sender of the message.
    #[serde(rename = "s")]
    pub sender: String,
    /// When the token stops working (Unix seconds).
    #[serde(rename = "e")]
    pub expires: i64,
}

/// Why a token does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not sealed by this keyring: forged, altered, truncated, or an unknown key.
    #[error("the link is not valid")]
    Invalid,
    /// Genuine, but past its time.
    #[error("the link has expired")]
    Expired,
}

pub(super) fn seal(
    keys: &TokenKeys,
    recipient: &str,
    list: &str,
    sender: &str,
    expires: DateTime<Utc>,
) -> String {
    let claim = Claim {
        recipient: recipient.to_owned(),
        list: list.to_owned(),
        sender: sender.to_owned(),
        expires: expires.timestamp(),
    };
    let json = serde_json::to_vec(&claim).expect("a claim serializes");
    let sealed = keys.encrypt(&json, AAD);
    format!(
        "{}~{}~{}",
        sealed.key_id,
        B64.encode(&sealed.nonce),
        B64.encode(&sealed.ciphertext)
    )
}

pub(super) fn open(keys: &TokenKeys, token: &str, now: DateTime<Utc>) -> Result<Claim, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::Invalid);
    }
    let mut parts = token.split('~');
    let (Some(id), Some(nonce), Some(ct), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Invalid);
    };
    let sealed = Sealed {
        key_id: id.to_owned(),
        nonce: B64.decode(nonce).map_err(|_| TokenError::Invalid)?,
        ciphertext: B64.decode(ct).map_err(|_| TokenError::Invalid)?,
    };
    if sealed.nonce.len() != 12 {
        return Err(TokenError::Invalid);
    }
    let plain = keys
        .decrypt(&sealed, AAD)
        .map_err(|_| TokenError::Invalid)?;
    let claim: Claim = serde_json::from_slice(&plain).map_err(|_| TokenError::Invalid)?;
    let expires = Utc
        .timestamp_opt(claim.expires, 0)
        .single()
        .ok_or(TokenError::Invalid)?;
    if expires < now {
        return Err(TokenError::Expired);
    }
    Ok(claim)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(id: &str) -> TokenKeys {
        TokenKeys::parse(&TokenKeys::generate_line(id), "test", false).unwrap()
    }

    #[test]
    fn a_token_opens_until_it_expires_and_only_with_its_keyring() {
        let k = keys("k1");
        let now = Utc::now();
        let t = seal(
            &k,
            "zoe@example.org",
            "news",
            "noreply@example.com",
            now + chrono::Duration::days(1),
        );
        assert!(!t.contains("zoe"), "the address is not readable in {t}");
        let claim = open(&k, &t, now).unwrap();
        assert_eq!(
            (claim.recipient.as_str(), claim.list.as_str()),
            ("zoe@example.org", "news")
        );
        assert_eq!(
            open(&k, &t, now + chrono::Duration::days(2)),
            Err(TokenError::Expired)
        );
        assert_eq!(
            open(&keys("k1"), &t, now),
            Err(TokenError::Invalid),
            "another key, same id"
        );
        let mut altered = t.clone().into_bytes();
        let last = altered.len() - 2;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert_eq!(open(&k, &altered, now), Err(TokenError::Invalid));
        for junk in ["", "~~", "k1~AAAA~AAAA", "k1~~", &"x".repeat(5000)] {
            assert_eq!(open(&k, junk, now), Err(TokenError::Invalid), "{junk:.20}");
        }
    }
}
