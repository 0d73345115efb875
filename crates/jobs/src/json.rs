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
        decode(bytes, None)
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
        let job = decode(bytes, Some(id))?;
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

/// Decodes a job; a document without an id takes `expected`, or a fresh id when that is
/// `None`.
///
/// A valid job is read in one pass straight from the bytes by the derived
/// [`Deserialize`](serde::Deserialize); a document that fails (or, with `expected`, lacks
/// that id) is read again through a [`Value`], which inserts the id and gives an error its
/// JSON path. The derived decoder accepts only documents the
/// path-tracking one accepts too, with the same result, so the two agree.
fn decode(bytes: &[u8], expected: Option<JobId>) -> Result<EmailJob, DecodeError> {
    if bytes.len() > MAX_JOB_JSON_BYTES {
        return Err(DecodeError::new(
            ".",
            serde_json::Error::custom(format_args!(
                "the job is {} bytes of JSON, more than the limit of {MAX_JOB_JSON_BYTES}",
                bytes.len()
            )),
        ));
    }
    if let Some(job) = decode_v1_fast(bytes)
        && expected.is_none_or(|id| id == job.id())
    {
        return Ok(job);
    }
    match serde_json::from_slice::<EmailJob>(bytes) {
        // A document without an id got a fresh one from the derived decoder; when the
        // caller has its own id for that case, the tracked decoder inserts it.
        Ok(job) if expected.is_none_or(|id| id == job.id()) => Ok(job),
        _ => decode_tracked(bytes, || expected.unwrap_or_else(JobId::new)),
    }
}

/// How every job this crate encodes begins: serde writes an internally tagged enum's tag
/// first.
#[cfg(test)]
const V1_PREFIX: &[u8] = br#"{"version":"v1","#;

/// Decodes a document whose `"version": "v1"` member is its first or its last (every payload
/// this crate writes has it first; a JSON library that sorts keys writes it last) as
/// [`EmailJobV1`] directly. The derived decoder of the tagged [`EmailJob`] first copies a
/// whole document into serde's generic buffer (every string allocated once more) to find the
/// tag; here the tag is found at either end, so the rest is read once. `None` for any other
/// document, or one this pass refuses: the general path decides (with the same result for
/// every document this one accepts).
fn decode_v1_fast(bytes: &[u8]) -> Option<EmailJob> {
    // Checked as UTF-8 once, whole: read from a `&str`, serde_json takes each string as it is,
    // where from bytes it checks every one of them again.
    let object = String::from_utf8(without_v1_member(bytes)?).ok()?;
    serde_json::from_str::<EmailJobV1>(&object)
        .ok()
        .map(EmailJob::V1)
}

/// The tokens of an object that opens with the `version` member, up to the next member.
const V1_FIRST: [&[u8]; 5] = [b"{", br#""version""#, b":", br#""v1""#, b","];

/// The tokens of an object that closes with the `version` member, from the member before it.
const V1_LAST: [&[u8]; 5] = [b",", br#""version""#, b":", br#""v1""#, b"}"];

/// `bytes` as an object without its `"version": "v1"` member, when that member opens or
/// closes the object (white space allowed between tokens). The cut is sound whenever the
/// rest parses: if `{` + rest is an object, the document was that object with the member in
/// front; if rest + `}` is, the rest ended inside the root object, at its top level, so the
/// member was the root's last. A document whose rest does not parse as a job (a `version`
/// in it too, a cut that split something) goes the general way.
fn without_v1_member(bytes: &[u8]) -> Option<Vec<u8>> {
    if let Some(rest) = strip_tokens(bytes, &V1_FIRST) {
        return Some([b"{".as_slice(), rest].concat());
    }
    let rest = strip_tokens_back(bytes, &V1_LAST)?;
    Some([rest, b"}".as_slice()].concat())
}

/// JSON's white space (RFC 8259 §2).
fn is_ws(b: &u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// `bytes` after `tokens`, each of them after optional white space.
fn strip_tokens<'a>(mut bytes: &'a [u8], tokens: &[&[u8]]) -> Option<&'a [u8]> {
    for token in tokens {
        let start = bytes.iter().position(|b| !is_ws(b))?;
        bytes = bytes[start..].strip_prefix(*token)?;
    }
    Some(bytes)
}

/// `bytes` before `tokens`, each of them before optional white space.
fn strip_tokens_back<'a>(mut bytes: &'a [u8], tokens: &[&[u8]]) -> Option<&'a [u8]> {
    for token in tokens.iter().rev() {
        let end = bytes.iter().rposition(|b| !is_ws(b))?;
        bytes = bytes[..=end].strip_suffix(*token)?;
    }
    Some(bytes)
}

/// Decodes a job through a [`Value`], tracking the JSON path of any failure.
fn decode_tracked(
    bytes: &[u8],
    absent_id: impl FnOnce() -> JobId,
) -> Result<EmailJob, DecodeError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass decoder and the path-tracking one read a job with every field alike.
    #[test]
    fn both_decoders_agree() {
        let json = br#"{"version":"v1","id":"01HZX3Q4J5N6P7R8S9T0V1W2X3",
            "idempotency_key":"k","from":"Shop <shop@example.com>",
            "to":["Ann <ann@example.org>"],"cc":["cc@example.org"],"bcc":["bcc@example.org"],
            "reply_to":["r@example.com"],"subject":"Your order \u00e9","text":"hi\n",
            "html":"<p>hi</p>","attachments":[{"filename":"a.txt","content_type":"text/plain",
            "content":"aGk="}],"headers":{"X-Campaign":"7"},"send_at":"2030-01-01T00:00:00+01:00",
            "expires_at":"2030-01-02T00:00:00Z","metadata":{"order":"7"},"tags":["shipping"],
            "thread":{"thread_id":"t1","in_reply_to":"<a@b.c>","references":["<a@b.c>"]}}"#;
        let fast = serde_json::from_slice::<EmailJob>(json).unwrap();
        let tracked = decode_tracked(json, || unreachable!("the job has an id")).unwrap();
        assert_eq!(fast, tracked);
        assert_eq!(EmailJob::from_json(json).unwrap(), tracked);
        assert_eq!(decode_v1_fast(json), Some(tracked.clone()));
        // Every payload this crate writes takes the direct pass.
        assert!(tracked.to_json().starts_with(V1_PREFIX));
        assert_eq!(decode_v1_fast(&tracked.to_json()), Some(tracked));
    }

    /// The direct pass takes the version member first or last, with or without white space,
    /// and nowhere else; what it takes, the general path reads alike.
    #[test]
    fn the_direct_pass_finds_the_version_at_either_end() {
        let fields = r#""id":"01HZX3Q4J5N6P7R8S9T0V1W2X3","from":"a@example.com","subject":"s","metadata":{"version":"v1"}"#;
        let general = |doc: &str| serde_json::from_slice::<EmailJob>(doc.as_bytes()).ok();
        for doc in [
            format!(r#"{{"version":"v1",{fields}}}"#),
            format!(" {{ \"version\" :\t\"v1\" ,\n{fields}}}\n"),
            format!(r#"{{{fields},"version":"v1"}}"#),
            format!("{{{fields} ,\r\n \"version\": \"v1\" }} "),
        ] {
            let fast = decode_v1_fast(doc.as_bytes());
            assert!(fast.is_some(), "{doc}");
            assert_eq!(fast, general(&doc), "{doc}");
        }
        for doc in [
            // In the middle, not v1, twice, or only inside a nested map.
            r#"{"id":"01HZX3Q4J5N6P7R8S9T0V1W2X3","version":"v1","from":"a@example.com","subject":"s"}"#
                .to_owned(),
            format!(r#"{{"version":"v2",{fields}}}"#),
            format!(r#"{{"version":"v1",{fields},"version":"v1"}}"#),
            r#"{"from":"a@example.com","subject":"s","metadata":{"version":"v1"}}"#.to_owned(),
        ] {
            assert_eq!(decode_v1_fast(doc.as_bytes()), None, "{doc}");
        }
    }

    /// A document the direct pass refuses still fails with its path.
    #[test]
    fn the_direct_pass_leaves_refusals_to_the_tracked_path() {
        let bad = br#"{"version":"v1","from":"a@example.com","subject":"s","to":["bob@"]}"#;
        assert_eq!(decode_v1_fast(bad), None);
        let err = EmailJob::from_json(bad).unwrap_err();
        assert!(err.to_string().starts_with("to[0]"), "{err}");
    }

    /// A document without an id decodes in one pass with a fresh id, and a stored one takes
    /// the id it was stored under; a document the one-pass decoder refuses fails with its
    /// path.
    #[test]
    fn refused_documents_take_the_tracked_path() {
        let id = JobId::new();
        let no_id = br#"{"version":"v1","from":"a@example.com","subject":"s"}"#;
        let fresh = EmailJob::from_json(no_id).unwrap().id();
        assert_ne!(fresh, id);
        assert_ne!(EmailJob::from_json(no_id).unwrap().id(), fresh);
        assert_eq!(EmailJob::from_record(no_id, id).unwrap().id(), id);
        let other =
            format!(r#"{{"version":"v1","id":"{fresh}","from":"a@example.com","subject":"s"}}"#);
        let err = EmailJob::from_record(other.as_bytes(), id).unwrap_err();
        assert!(err.to_string().starts_with("id"), "{err}");
        let bad = br#"{"version":"v1","from":"a@example.com","subject":"s","to":["x"]}"#;
        let err = EmailJob::from_record(bad, id).unwrap_err();
        assert!(err.to_string().starts_with("to[0]"), "{err}");
    }
}
