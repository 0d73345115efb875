//! JSON encoding and decoding of [`EmailJob`] with path-carrying errors.

use serde::de::Error as _;
use serde_json::{Map, Value};

use crate::{DecodeError, EmailJob, EmailJobV1};

/// The version tags this build can decode.
pub const SUPPORTED_VERSIONS: &[&str] = &["v1"];

impl EmailJob {
    /// The job as compact JSON bytes.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an EmailJob always serializes to JSON")
    }

    /// The job as a compact JSON string.
    #[must_use]
    pub fn to_json_string(&self) -> String {
        serde_json::to_string(self).expect("an EmailJob always serializes to JSON")
    }

    /// Decodes a job from JSON.
    ///
    /// Unlike going through the [`Deserialize`](serde::Deserialize) impl,
    /// errors name the JSON path of the failing value, e.g.
    /// `to[1]: invalid address "bob@": ...` or `attachments[0].content:
    /// invalid base64: ...`.
    ///
    /// # Errors
    ///
    /// [`DecodeError`] when the bytes are not JSON, the document is not an
    /// object, `version` is missing or unknown, a field is unknown or
    /// missing, or a value has the wrong type or fails to parse.
    pub fn from_json(bytes: &[u8]) -> Result<Self, DecodeError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| DecodeError::new(".", e))?;
        let Value::Object(mut map) = value else {
            return Err(DecodeError::new(
                ".",
                serde_json::Error::custom(format_args!(
                    "expected a JSON object, found {}",
                    kind(&value)
                )),
            ));
        };
        let version = match map.remove("version") {
            Some(Value::String(version)) => version,
            Some(other) => {
                return Err(DecodeError::new(
                    "version",
                    serde_json::Error::custom(format_args!(
                        "expected a version string such as \"v1\", found {}",
                        kind(&other)
                    )),
                ));
            }
            None => {
                return Err(DecodeError::new(
                    ".",
                    serde_json::Error::missing_field("version"),
                ));
            }
        };
        match version.as_str() {
            "v1" => decode_fields::<EmailJobV1>(map).map(EmailJob::V1),
            other => Err(DecodeError::new(
                "version",
                serde_json::Error::custom(format_args!(
                    "unknown version {other:?} (supported: {})",
                    SUPPORTED_VERSIONS.join(", ")
                )),
            )),
        }
    }
}

/// Decodes the fields of one version, tracking the path of any failure.
fn decode_fields<T: serde::de::DeserializeOwned>(
    map: Map<String, Value>,
) -> Result<T, DecodeError> {
    serde_path_to_error::deserialize(Value::Object(map)).map_err(|e| {
        let path = e.path().to_string();
        DecodeError::new(path, e.into_inner())
    })
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
