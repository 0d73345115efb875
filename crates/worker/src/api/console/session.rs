//! Console sessions: a signed cookie, `mailroom_session`, holding the id of the API key that
//! signed in, when the session ends and a random nonce, signed with HMAC-SHA256 under the
//! session key (`api.session_key_file`, or a random key made at start). Nothing secret is in
//! the cookie: the key's secret is checked once, at sign-in, and never stored.
//!
//! The CSRF token of a session is the HMAC of its nonce under the same key, so it is tied to
//! the session and needs no storage; every state-changing form carries it.

use std::fmt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac as _};
use rand::RngCore as _;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

/// The session cookie's name.
pub const COOKIE: &str = "mailroom_session";

/// The shortest session key file accepted, in bytes.
pub const MIN_KEY_BYTES: usize = 32;

/// The key that signs sessions and derives CSRF tokens. Its Debug output shows nothing.
#[derive(Clone)]
pub struct SessionKey([u8; 32]);

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

type HmacSha256 = Hmac<Sha256>;

impl SessionKey {
    /// A random key, good until the process ends.
    #[must_use]
    pub fn random() -> Self {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        Self(key)
    }

    /// The key of `path` (at least [`MIN_KEY_BYTES`] bytes; its SHA-256 is used, so any
    /// length works), after the usual check of a secret file's permissions.
    ///
    /// # Errors
    /// The file is open to others, unreadable or too short, named.
    pub fn from_file(path: &Path, allow_group: bool) -> anyhow::Result<Self> {
        crate::credentials::check_secret_file(path, "api.session_key_file", allow_group)?;
        let bytes = std::fs::read(path).map_err(|e| {
            anyhow::anyhow!("api.session_key_file: cannot read {}: {e}", path.display())
        })?;
        let trimmed = bytes.trim_ascii();
        anyhow::ensure!(
            trimmed.len() >= MIN_KEY_BYTES,
            "api.session_key_file: {} holds {} bytes, fewer than {MIN_KEY_BYTES}: make one with \
             `openssl rand -base64 48`",
            path.display(),
            trimmed.len()
        );
        use sha2::Digest as _;
        Ok(Self(Sha256::digest(trimmed).into()))
    }

    fn mac(&self, purpose: &str, data: &[u8]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(data);
        mac.finalize().into_bytes().into()
    }
}

/// A signed-in operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The id of the API key that signed in.
    pub key_id: String,
    /// When the session ends, in seconds since the Unix epoch.
    pub expires: u64,
    /// Random, per session: the CSRF token is derived from it.
    nonce: String,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Session {
    /// A new session of `key_id`, ending `ttl` from now.
    #[must_use]
    pub fn new(key_id: &str, ttl: Duration) -> Self {
        let mut nonce = [0u8; 18];
        rand::rng().fill_bytes(&mut nonce);
        Self {
            key_id: key_id.to_owned(),
            expires: now_secs().saturating_add(ttl.as_secs()),
            nonce: URL_SAFE_NO_PAD.encode(nonce),
        }
    }

    /// The cookie value: `BODY.SIGNATURE`, both base64url.
    #[must_use]
    pub fn seal(&self, key: &SessionKey) -> String {
        let body = format!("{}|{}|{}", self.key_id, self.expires, self.nonce);
        let sig = key.mac("session", body.as_bytes());
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(body),
            URL_SAFE_NO_PAD.encode(sig)
        )
    }

    /// The session a cookie value holds, if its signature is good and it has not ended.
    #[must_use]
    pub fn open(value: &str, key: &SessionKey) -> Option<Self> {
        let (body, sig) = value.split_once('.')?;
        let body = URL_SAFE_NO_PAD.decode(body).ok()?;
        let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
        if !bool::from(key.mac("session", &body).as_slice().ct_eq(&sig)) {
            return None;
        }
        let body = String::from_utf8(body).ok()?;
        let mut parts = body.splitn(3, '|');
        let key_id = parts.next()?.to_owned();
        let expires: u64 = parts.next()?.parse().ok()?;
        let nonce = parts.next()?.to_owned();
        (expires > now_secs()).then_some(Self {
            key_id,
            expires,
            nonce,
        })
    }

    /// The session's CSRF token.
    #[must_use]
    pub fn csrf(&self, key: &SessionKey) -> String {
        URL_SAFE_NO_PAD.encode(key.mac("csrf", self.nonce.as_bytes()))
    }

    /// Whether `token` is this session's CSRF token (compared in constant time).
    #[must_use]
    pub fn csrf_ok(&self, key: &SessionKey, token: &str) -> bool {
        bool::from(self.csrf(key).as_bytes().ct_eq(token.as_bytes()))
    }
}

/// The `Set-Cookie` value that stores `sealed` for `ttl`.
#[must_use]
pub fn set_cookie(sealed: &str, ttl: Duration, secure: bool) -> String {
    format!(
        "{COOKIE}={sealed}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}",
        ttl.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes the session cookie.
#[must_use]
pub fn clear_cookie(secure: bool) -> String {
    set_cookie("", Duration::ZERO, secure)
}

/// The session cookie's value among a request's `Cookie` headers.
#[must_use]
pub fn cookie_value(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE).then_some(value)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_session_opens_under_its_key_only_and_until_it_ends() {
        let key = SessionKey::random();
        let session = Session::new("ops", Duration::from_secs(60));
        let sealed = session.seal(&key);
        assert_eq!(Session::open(&sealed, &key), Some(session.clone()));
        assert_eq!(Session::open(&sealed, &SessionKey::random()), None);
        let (body, sig) = sealed.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(format!("admin|{}|x", session.expires));
        assert_eq!(Session::open(&format!("{forged}.{sig}"), &key), None);
        assert_eq!(Session::open(body, &key), None);
        let ended = Session {
            expires: now_secs() - 1,
            ..session.clone()
        };
        assert_eq!(Session::open(&ended.seal(&key), &key), None);
        assert!(session.csrf_ok(&key, &session.csrf(&key)));
        let other = Session::new("ops", Duration::from_secs(60));
        assert!(!session.csrf_ok(&key, &other.csrf(&key)));
        assert!(!session.csrf_ok(&key, ""));
    }

    #[test]
    fn a_key_file_must_be_private_and_long_enough() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("session-key");
        let write = |bytes: &[u8], mode: u32| {
            std::fs::write(&path, bytes).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        };
        write(b"short\n", 0o600);
        let short = SessionKey::from_file(&path, false).unwrap_err().to_string();
        assert!(short.contains("holds 5 bytes, fewer than 32"), "{short}");
        write(&[b'k'; 40], 0o644);
        assert!(
            SessionKey::from_file(&path, false).is_err(),
            "readable by others"
        );
        write(&[b'k'; 40], 0o600);
        let a = SessionKey::from_file(&path, false).unwrap();
        let b = SessionKey::from_file(&path, false).unwrap();
        let sealed = Session::new("ops", Duration::from_secs(60)).seal(&a);
        assert!(
            Session::open(&sealed, &b).is_some(),
            "the same file, the same key"
        );
        assert_eq!(format!("{a:?}"), "SessionKey(..)");
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_when_asked() {
        let c = set_cookie("v", Duration::from_secs(3600), true);
        assert_eq!(
            c,
            "mailroom_session=v; Path=/; Max-Age=3600; HttpOnly; SameSite=Strict; Secure"
        );
        assert!(!set_cookie("v", Duration::from_secs(1), false).contains("Secure"));
    }
}
