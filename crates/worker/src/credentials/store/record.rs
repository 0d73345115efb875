//! A stored token's Redis hash: the sealed refresh token (`kid`, `nonce`, `ct`, written by
//! [`Sealed::to_fields`]), `client_id`, `scopes` (space separated), `created_at`,
//! `refreshed_at` and `last_error_at` (ms since the epoch), and `last_error`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::TokenInfo;
use crate::credentials::sealed::{KEY_ID_FIELD, Sealed, SealedError};

/// The fields of one sender's hash, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Record(HashMap<String, String>);

impl Record {
    /// The fields of a token stored now.
    pub(super) fn new_fields(
        sealed: &Sealed,
        client_id: &str,
        scopes: &[String],
    ) -> Vec<(&'static str, String)> {
        let mut fields = sealed.to_fields().to_vec();
        fields.extend([
            ("client_id", client_id.to_owned()),
            ("scopes", scopes.join(" ")),
            ("created_at", Utc::now().timestamp_millis().to_string()),
        ]);
        fields
    }

    /// The record of an `HGETALL` answer; `None` when the hash does not exist.
    pub(super) fn from_hash(fields: HashMap<String, String>) -> Option<Self> {
        (!fields.is_empty()).then_some(Self(fields))
    }

    /// A field's text.
    pub(super) fn field(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The sealed refresh token.
    pub(super) fn sealed(&self) -> Result<Sealed, SealedError> {
        Sealed::from_fields(|name| self.field(name))
    }

    fn time(&self, name: &str) -> Option<DateTime<Utc>> {
        self.field(name)
            .and_then(|v| v.parse::<i64>().ok())
            .and_then(DateTime::from_timestamp_millis)
    }

    /// What is known about the token besides the secret.
    pub(super) fn info(&self, sender: &str) -> TokenInfo {
        let text = |name: &str| self.field(name).unwrap_or_default().to_owned();
        TokenInfo {
            sender: sender.to_owned(),
            key_id: text(KEY_ID_FIELD),
            client_id: text("client_id"),
            scopes: self
                .field("scopes")
                .map(|s| s.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
            created_at: self.time("created_at"),
            refreshed_at: self.time("refreshed_at"),
            last_error: self
                .field("last_error")
                .filter(|e| !e.is_empty())
                .map(str::to_owned),
            last_error_at: self.time("last_error_at"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_damaged_record_says_which_field() {
        let keys = crate::credentials::TokenKeys::parse(
            &crate::credentials::TokenKeys::generate_line("k1"),
            "test",
            false,
        )
        .unwrap();
        let sealed = keys.encrypt(b"token", "a@example.com");
        let fields: HashMap<String, String> = Record::new_fields(&sealed, "cid", &[])
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
        let record = Record::from_hash(fields.clone()).unwrap();
        assert_eq!(record.sealed().unwrap(), sealed);
        assert_eq!(record.info("a@example.com").key_id, "k1");

        let mut damaged = fields.clone();
        damaged.insert("nonce".to_owned(), "%%%".to_owned());
        assert_eq!(
            Record::from_hash(damaged).unwrap().sealed(),
            Err(SealedError::NotBase64("nonce"))
        );
        let mut damaged = fields;
        damaged.remove("ct");
        assert_eq!(
            Record::from_hash(damaged).unwrap().sealed(),
            Err(SealedError::Missing("ct"))
        );
        assert_eq!(Record::from_hash(HashMap::new()), None);
    }
}
