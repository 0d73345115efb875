//! [`Attachment`]: a file carried by an email job.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A file attached to the message.
///
/// In JSON, `content` is the file's bytes in standard base64 (with padding).
/// With a `content_id` the file is an inline part (for `cid:` references
/// from the HTML body) instead of a downloadable attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    /// File name shown to the recipient, e.g. `report.pdf`; non-ASCII names
    /// are RFC 2231 encoded when rendered.
    pub filename: String,
    /// MIME type of the content, e.g. `application/pdf`.
    pub content_type: String,
    /// The file's bytes, base64 encoded (standard alphabet, padded).
    #[serde(with = "base64_bytes")]
    #[schemars(with = "String", extend("contentEncoding" = "base64"))]
    pub content: Vec<u8>,
    /// Content-ID (without angle brackets) making this an inline part that
    /// the HTML body can reference as `cid:<content_id>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_id: Option<String>,
}

impl Attachment {
    /// A regular (non-inline) attachment.
    pub fn new(
        filename: impl Into<String>,
        content_type: impl Into<String>,
        content: impl Into<Vec<u8>>,
    ) -> Self {
        Self {
            filename: filename.into(),
            content_type: content_type.into(),
            content: content.into(),
            content_id: None,
        }
    }

    /// Makes this an inline part referenced from HTML as `cid:<content_id>`.
    #[must_use]
    pub fn inline(mut self, content_id: impl Into<String>) -> Self {
        self.content_id = Some(content_id.into());
        self
    }
}

/// Serde adapter writing bytes as a standard base64 string.
mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer, de};
    use std::borrow::Cow;

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(|e| de::Error::custom(format_args!("invalid base64: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_base64_in_json() {
        let a = Attachment::new("a.bin", "application/octet-stream", vec![0u8, 1, 2, 255]);
        let json = serde_json::to_value(&a).unwrap();
        assert_eq!(json["content"], "AAEC/w==");
        assert!(json.get("content_id").is_none());
        assert_eq!(serde_json::from_value::<Attachment>(json).unwrap(), a);
    }

    #[test]
    fn bad_base64_is_refused() {
        let err = serde_json::from_str::<Attachment>(
            r#"{"filename":"a","content_type":"text/plain","content":"!!"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("invalid base64"), "{err}");
    }
}
