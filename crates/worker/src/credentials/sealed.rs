//! [`Sealed`]: a ciphertext with the id of its key and its nonce, and the one way it is
//! written down: three text fields, `kid` (the key id), `nonce` and `ct` (base64 nonce and
//! ciphertext). A stored token keeps them as fields of its Redis hash
//! ([`Sealed::to_fields`], [`Sealed::from_fields`]); the web enrollment flow's saved state
//! keeps them as a JSON object with the same fields ([`Sealed::to_json`],
//! [`Sealed::from_json`]). Reading fails with what is wrong, never with an empty value.

use std::collections::HashMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The field of the key id.
pub const KEY_ID_FIELD: &str = "kid";
/// The field of the base64 nonce.
pub const NONCE_FIELD: &str = "nonce";
/// The field of the base64 ciphertext.
pub const CIPHERTEXT_FIELD: &str = "ct";

/// A ciphertext and what is needed to decrypt it.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The id of the key that encrypted it.
    pub key_id: String,
    /// The random 96-bit nonce.
    pub nonce: Vec<u8>,
    /// The ciphertext with its 16-byte tag.
    pub ciphertext: Vec<u8>,
}

/// Shows the key id and the ciphertext's length, not the bytes.
impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (id, len) = (&self.key_id, self.ciphertext.len());
        write!(f, "Sealed {{ key_id: {id:?}, ciphertext_len: {len}, .. }}")
    }
}

/// Why a written-down [`Sealed`] value cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealedError {
    /// A field is absent or empty.
    #[error("no {0} field")]
    Missing(&'static str),
    /// A field that holds bytes is not base64.
    #[error("{0} is not base64")]
    NotBase64(&'static str),
    /// The JSON form is not an object of text fields.
    #[error("not a JSON object of text fields: {0}")]
    NotJson(String),
}

impl Sealed {
    /// The three fields, `kid`, `nonce` and `ct`, as written.
    #[must_use]
    pub fn to_fields(&self) -> [(&'static str, String); 3] {
        [
            (KEY_ID_FIELD, self.key_id.clone()),
            (NONCE_FIELD, STANDARD.encode(&self.nonce)),
            (CIPHERTEXT_FIELD, STANDARD.encode(&self.ciphertext)),
        ]
    }

    /// Reads the three fields through `field` (which gives a field's text, if any).
    ///
    /// # Errors
    /// [`SealedError::Missing`] for an absent or empty field, [`SealedError::NotBase64`].
    pub fn from_fields<'a>(field: impl Fn(&str) -> Option<&'a str>) -> Result<Self, SealedError> {
        let text = |name: &'static str| {
            field(name)
                .filter(|v| !v.is_empty())
                .ok_or(SealedError::Missing(name))
        };
        let bytes = |name: &'static str| {
            STANDARD
                .decode(text(name)?)
                .map_err(|_| SealedError::NotBase64(name))
        };
        Ok(Self {
            key_id: text(KEY_ID_FIELD)?.to_owned(),
            nonce: bytes(NONCE_FIELD)?,
            ciphertext: bytes(CIPHERTEXT_FIELD)?,
        })
    }

    /// The fields as a JSON object, e.g. `{"ct":"…","kid":"k1","nonce":"…"}`.
    #[must_use]
    pub fn to_json(&self) -> String {
        let object: serde_json::Map<String, serde_json::Value> = self
            .to_fields()
            .into_iter()
            .map(|(name, value)| (name.to_owned(), serde_json::Value::String(value)))
            .collect();
        serde_json::Value::Object(object).to_string()
    }

    /// Reads the JSON object [`Sealed::to_json`] writes.
    ///
    /// # Errors
    /// [`SealedError::NotJson`], or as [`Sealed::from_fields`].
    pub fn from_json(text: &str) -> Result<Self, SealedError> {
        let object: HashMap<String, String> =
            serde_json::from_str(text).map_err(|e| SealedError::NotJson(e.to_string()))?;
        Self::from_fields(|name| object.get(name).map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealed() -> Sealed {
        Sealed {
            key_id: "k1".to_owned(),
            nonce: vec![1; 12],
            ciphertext: b"not really a ciphertext".to_vec(),
        }
    }

    #[test]
    fn both_forms_round_trip_with_the_same_fields() {
        let fields: HashMap<&str, String> = sealed().to_fields().into_iter().collect();
        assert_eq!(fields["kid"], "k1");
        assert_eq!(fields["nonce"], "AQEBAQEBAQEBAQEB");
        let read = Sealed::from_fields(|name| fields.get(name).map(String::as_str)).unwrap();
        assert_eq!(read, sealed());

        let json = sealed().to_json();
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        for (name, text) in &fields {
            assert_eq!(value[name], *text, "{json}");
        }
        assert_eq!(Sealed::from_json(&json).unwrap(), sealed());
    }

    #[test]
    fn reading_says_what_is_wrong() {
        let json = |kid: &str, nonce: &str, ct: &str| {
            format!(r#"{{"kid":"{kid}","nonce":"{nonce}","ct":"{ct}"}}"#)
        };
        assert_eq!(
            Sealed::from_json(&json("", "AQ==", "AQ==")),
            Err(SealedError::Missing("kid"))
        );
        assert_eq!(
            Sealed::from_json(&json("k1", "not base64!", "AQ==")),
            Err(SealedError::NotBase64("nonce"))
        );
        assert_eq!(
            Sealed::from_json(r#"{"kid":"k1","nonce":"AQ=="}"#),
            Err(SealedError::Missing("ct"))
        );
        assert!(matches!(
            Sealed::from_json("[1, 2]"),
            Err(SealedError::NotJson(_))
        ));
        assert!(matches!(
            Sealed::from_json(""),
            Err(SealedError::NotJson(_))
        ));
    }
}
