//! [`JobId`]: the identifier of an email job.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use ulid::Ulid;

use crate::error::JobIdError;

/// The identifier of an email job: a [ULID](https://github.com/ulid/spec).
///
/// On the wire and in [`Display`](fmt::Display) it is the 26-character
/// Crockford base32 string (upper case; parsing also accepts lower case).
/// Because a ULID starts with a millisecond timestamp, ids sort by creation
/// time, and the id doubles as the local part of the rendered `Message-ID`.
///
/// ```
/// use mailroom_jobs::JobId;
///
/// let id = JobId::new();
/// let text = id.to_string();
/// assert_eq!(text.len(), 26);
/// assert_eq!(text.parse::<JobId>().unwrap(), id);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct JobId(pub Ulid);

impl JobId {
    /// A fresh id stamped with the current time.
    #[must_use]
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self(Ulid::new())
    }

    /// Milliseconds since the Unix epoch at which this id was generated.
    #[must_use]
    pub fn timestamp_ms(&self) -> u64 {
        self.0.timestamp_ms()
    }

    /// The underlying ULID.
    #[must_use]
    pub fn ulid(&self) -> Ulid {
        self.0
    }
}

impl From<Ulid> for JobId {
    fn from(ulid: Ulid) -> Self {
        Self(ulid)
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The ULID's characters padded as a `str` is: `Ulid`'s own `Display` formats the
        // same characters through a second `write!`, a cost paid for every id a worker writes.
        f.pad(self.0.array_to_str(&mut [0; ulid::ULID_LEN]))
    }
}

impl FromStr for JobId {
    type Err = JobIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ulid = Ulid::from_string(s).map_err(|e| JobIdError::new(s, e.to_string()))?;
        // Decoding silently drops bits above 128, which only a first
        // character above 7 can carry.
        if !s.starts_with(|c: char| ('0'..='7').contains(&c)) {
            return Err(JobIdError::new(s, "value exceeds 128 bits"));
        }
        Ok(Self(ulid))
    }
}

impl Serialize for JobId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for JobId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

impl JsonSchema for JobId {
    fn schema_name() -> Cow<'static, str> {
        "JobId".into()
    }

    fn schema_id() -> Cow<'static, str> {
        concat!(module_path!(), "::JobId").into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A ULID: 26 characters of Crockford base32, the first 10 encoding the creation time in milliseconds.",
            "type": "string",
            "pattern": "^[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25}$",
            "examples": ["01HZX3Q4J5N6P7R8S9T0V1W2X3"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_parse_round_trip() {
        let id = JobId::new();
        assert_eq!(id.to_string().parse::<JobId>().unwrap(), id);
        assert_eq!(id.to_string().to_lowercase().parse::<JobId>().unwrap(), id);
    }

    #[test]
    fn serde_is_the_string_form() {
        let id = JobId::new();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<JobId>(&json).unwrap(), id);
    }

    #[test]
    fn bad_id_is_refused() {
        let err = "not-a-ulid".parse::<JobId>().unwrap_err();
        assert!(err.to_string().contains("not-a-ulid"), "{err}");
        assert!(serde_json::from_str::<JobId>("\"8ZZZZZZZZZZZZZZZZZZZZZZZZZ\"").is_err());
    }

    #[test]
    fn timestamp_matches_ulid() {
        let id = JobId::new();
        assert_eq!(id.timestamp_ms(), id.0.timestamp_ms());
    }
}
