//! JSON encoding and decoding of [`EmailJob`] with path-carrying errors.

use serde::de::Error as _;
use serde_json::{Map, Value};

use crate::{DecodeError, EmailJob, EmailJobV1, JobId};

/// The version tags this build can decode.
pub const SUPPORTED_VERSIONS: &[&str] = &["v1"];

/// Most bytes of JSON a job may take: twice the largest message Gmail accepts
/// ([`DEFAULT_MAX_MESSAGE_BYTES`](crate::DEFAULT_MAX_MESSAGE_BYTES)), room for base64 and
/// escaping. A larger document cannot be a job that renders to a sendable message, so it is
/// refused before it is parsed: a 100 MB record costs a length check, not a parse.
pub const MAX_JOB_JSON_BYTES: usize = 2 * crate::DEFAULT_MAX_MESSAGE_BYTES;

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

    /// Decodes a job **being created** from JSON, as a producer does (the
    /// command line's `send --json`, the HTTP API): when the document has no
    /// `id`, a fresh one is minted here, since this is where the job is born.
    /// A worker reading a job back from the queue uses
    /// [`EmailJob::from_record`], which never mints one.
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
        decode(bytes, JobId::new)
    }

    /// Decodes the payload of a job stored in the queue under `id`. That id
    /// is the job's id: a payload without `id` gets it, and a payload whose
    /// `id` differs is refused with an error naming both, so every delivery
    /// of one job renders the same `Message-ID`.
    ///
    /// # Errors
    ///
    /// As [`EmailJob::from_json`], and a [`DecodeError`] at path `id` when the
    /// payload's id is not `id`.
    pub fn from_record(bytes: &[u8], id: JobId) -> Result<Self, DecodeError> {
        let job = decode(bytes, || id)?;
        if job.id() != id {
            return Err(DecodeError::new(
                "id",
                serde_json::Error::custom(format_args!(
                    "the payload's id {} differs from the id {id} it was enqueued under",
                    job.id()
                )),
            ));
        }
        Ok(job)
    }
}

/// Decodes a job, taking `absent_id()` for its id when the document has none.
fn decode(bytes: &[u8], absent_id: impl FnOnce() -> JobId) -> Result<EmailJob, DecodeError> {
    if bytes.len() > MAX_JOB_JSON_BYTES {
        return Err(DecodeError::new(
            ".",
            serde_json::Error::custom(format_args!(
                "the job is {} bytes of JSON, more than the limit of {MAX_JOB_JSON_BYTES}",
                bytes.len()
            )),
        ));
    }
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
        "v1" => {
            map.entry("id")
                .or_insert_with(|| Value::String(absent_id().to_string()));
            decode_fields::<EmailJobV1>(map).map(EmailJob::V1)
        }
        other => Err(DecodeError::new(
            "version",
            serde_json::Error::custom(format_args!(
                "unknown version {other:?} (supported: {})",
                SUPPORTED_VERSIONS.join(", ")
            )),
        )),
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
