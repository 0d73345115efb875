//! API keys: the key file (`api.keys_file`), the scopes a key grants, its sender allowlist,
//! and finding the key a request presents.
//!
//! The file holds one key a line, `ID:SHA256_HEX:SCOPES[:SENDERS]`:
//! - `ID`: letters, digits, `_`, `-`, `.`; it names the key in logs and metrics;
//! - `SHA256_HEX`: the SHA-256 of the secret, 64 hex digits, so the secret itself is never
//!   stored;
//! - `SCOPES`: a comma-separated list of `send`, `read`, `admin`;
//! - `SENDERS` (optional): a comma-separated sender allowlist (`billing@acme.com`,
//!   `*@acme.com`) that narrows `jobs.allowed_senders` for this key; it never widens it.
//!
//! Blank lines and lines starting with `#` are ignored. `mailroom api new-key` prints a fresh
//! secret and its line.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use mailroom_jobs::{Address, SenderAllowlist};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Enqueue and cancel messages.
    Send,
    /// Read statuses, queue stats, dead letters and senders.
    Read,
    /// Retry and purge dead letters; also grants `read`.
    Admin,
}

impl Scope {
    /// The name in the key file.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::Read => "read",
            Self::Admin => "admin",
        }
    }

    fn parse(text: &str) -> Result<Self, String> {
        match text.trim() {
            "send" => Ok(Self::Send),
            "read" => Ok(Self::Read),
            "admin" => Ok(Self::Admin),
            other => Err(format!(
                "unknown scope {other:?} (the scopes are send, read, admin)"
            )),
        }
    }

    /// Parses a comma-separated list of scopes, e.g. `send,read`.
    ///
    /// # Errors
    /// An unknown or missing scope, named.
    pub fn parse_list(text: &str) -> Result<Vec<Self>, String> {
        let mut scopes = text
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .map(Self::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if scopes.is_empty() {
            return Err("no scope (give one or more of send, read, admin)".to_owned());
        }
        scopes.sort();
        scopes.dedup();
        Ok(scopes)
    }
}

/// One key of the file. Its Debug output shows no hash.
#[derive(Clone)]
pub struct ApiKey {
    /// The key's id.
    pub id: String,
    hash: [u8; 32],
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// The senders it may send as (on top of `jobs.allowed_senders`), if narrowed.
    pub senders: Option<SenderAllowlist>,
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKey")
            .field("id", &self.id)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl ApiKey {
    /// Whether the key grants `scope` (`admin` grants `read` too).
    #[must_use]
    pub fn grants(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
            || (scope == Scope::Read && self.scopes.contains(&Scope::Admin))
    }

    /// Whether the key may send as `sender` (always, when it has no list of its own).
    #[must_use]
    pub fn may_send_as(&self, sender: &Address) -> bool {
        self.senders.as_ref().is_none_or(|list| list.allows(sender))
    }
}

/// The keys of a key file.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    keys: Vec<ApiKey>,
}

/// Prefix of every secret `new-key` mints, so a leaked one is recognisable.
const SECRET_PREFIX: &str = "mrk_";

impl ApiKeys {
    /// Reads and parses `path`, the value of `api.keys_file`, after checking that only its
    /// owner (and, when `allow_group`, its group) may read it.
    ///
    /// # Errors
    /// The file is open to others, unreadable, or has a bad line (named by number).
    pub fn load(path: &Path, allow_group: bool) -> Result<Self, String> {
        crate::credentials::check_secret_file(path, "api.keys_file", allow_group)
            .map_err(|e| e.to_string())?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("api.keys_file: cannot read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("api.keys_file: {}: {e}", path.display()))
    }

    /// Parses the text of a key file.
    ///
    /// # Errors
    /// The first bad line, named by number.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut keys: Vec<ApiKey> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let key = parse_line(line).map_err(|e| format!("line {}: {e}", n + 1))?;
            if keys.iter().any(|k| k.id == key.id) {
                return Err(format!("line {}: the id {:?} is used twice", n + 1, key.id));
            }
            keys.push(key);
        }
        Ok(Self { keys })
    }

    /// How many keys there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there is none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key named `id`, if any (a console session names its key by id).
    #[must_use]
    pub fn by_id(&self, id: &str) -> Option<&ApiKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// The key whose secret is `secret`, if any. Every key's hash is compared, each in
    /// constant time, so the answer's timing tells nothing about how close a guess was.
    #[must_use]
    pub fn find(&self, secret: &str) -> Option<&ApiKey> {
        let presented: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let mut found = None;
        for key in &self.keys {
            if bool::from(key.hash.ct_eq(&presented)) {
                found = Some(key);
            }
        }
        found
    }
}

fn parse_line(line: &str) -> Result<ApiKey, String> {
    let mut parts = line.splitn(4, ':');
    let id = parts.next().unwrap_or_default().trim();
    crate::credentials::check_key_id(id)?;
    let hash_hex = parts
        .next()
        .ok_or("expected ID:SHA256_HEX:SCOPES[:SENDERS]")?
        .trim();
    let mut hash = [0u8; 32];
    hex::decode_to_slice(hash_hex, &mut hash)
        .map_err(|_| "the hash must be 64 hex digits (the SHA-256 of the secret)".to_owned())?;
    let scopes = Scope::parse_list(parts.next().ok_or("no scopes after the hash")?)?;
    let senders = match parts.next().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(list) => Some(sender_list(list)?),
    };
    Ok(ApiKey {
        id: id.to_owned(),
        hash,
        scopes,
        senders,
    })
}

/// A comma-separated sender allowlist.
fn sender_list(text: &str) -> Result<SenderAllowlist, String> {
    let patterns: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    SenderAllowlist::new(patterns).map_err(|e| format!("senders: {e}"))
}

/// A new key: its secret, shown once, and its line for the key file.
#[derive(Clone)]
pub struct NewKey {
    /// The secret the client sends as `Authorization: Bearer SECRET`.
    pub secret: String,
    /// The line to append to the key file.
    pub line: String,
}

impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewKey")
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

/// Mints a key `id` with `scopes` (comma-separated) and, optionally, a sender allowlist
/// (comma-separated).
///
/// # Errors
/// A bad id, scope or sender pattern, named.
pub fn new_key(id: &str, scopes: &str, senders: Option<&str>) -> Result<NewKey, String> {
    crate::credentials::check_key_id(id)?;
    let scopes = Scope::parse_list(scopes).map_err(|e| format!("--scopes: {e}"))?;
    let senders = senders.map(str::trim).filter(|s| !s.is_empty());
    if let Some(list) = senders {
        sender_list(list).map_err(|e| format!("--{e}"))?;
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let scopes: Vec<&str> = scopes.iter().map(|s| s.as_str()).collect();
    let mut line = format!(
        "{id}:{}:{}",
        hex::encode(Sha256::digest(secret.as_bytes())),
        scopes.join(",")
    );
    if let Some(list) = senders {
        line.push(':');
        line.push_str(&list.replace(' ', ""));
    }
    Ok(NewKey { secret, line })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_is_found_by_its_secret_and_no_other() {
        let new = new_key("billing", "send,read", Some("billing@acme.com")).unwrap();
        let other = new_key("ops", "admin", None).unwrap();
        let keys = ApiKeys::parse(&format!("# keys\n\n{}\n{}\n", new.line, other.line)).unwrap();
        assert_eq!(keys.len(), 2);
        let key = keys.find(&new.secret).expect("found");
        assert_eq!(key.id, "billing");
        assert!(key.grants(Scope::Send) && key.grants(Scope::Read));
        assert!(!key.grants(Scope::Admin));
        assert!(key.may_send_as(&Address::parse("Billing <BILLING@acme.com>").unwrap()));
        assert!(!key.may_send_as(&Address::parse("ceo@acme.com").unwrap()));
        let ops = keys.find(&other.secret).unwrap();
        assert!(ops.grants(Scope::Read), "admin grants read");
        assert!(!ops.grants(Scope::Send));
        assert!(keys.find("mrk_wrong").is_none());
        assert!(!format!("{key:?}{new:?}").contains(&new.secret));
        assert!(!new.line.contains(&new.secret));
    }

    #[test]
    fn bad_lines_are_named() {
        let hash = "a".repeat(64);
        for (text, says) in [
            ("k1:abc:send", "line 1: the hash must be 64 hex digits"),
            (
                &format!("k1:{hash}:write") as &str,
                "unknown scope \"write\"",
            ),
            (&format!("k1:{hash}"), "no scopes"),
            (&format!("k1:{hash}:send:not an address"), "senders:"),
            (
                &format!("k1:{hash}:send\nk1:{hash}:read"),
                "line 2: the id \"k1\" is used twice",
            ),
            (&format!("bad id:{hash}:send"), "line 1"),
        ] {
            let err = ApiKeys::parse(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
    }
}
