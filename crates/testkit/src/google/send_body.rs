//! The two forms of a send request and the raw message read from them: a
//! media upload (`uploadType=media`, or `multipart` with JSON metadata) on
//! the `/upload/` path, or a JSON `Message` with base64url `raw`.

use axum::body::Bytes;
use axum::response::Response;
use serde_json::{Value, json};

use super::mime::{boundary_of, decode_base64, decode_part, parse_multipart};
use super::respond::google_error;

/// A refusal in Google's API error format, turned into a response by
/// [`ApiError::into_response`].
pub(super) struct ApiError {
    code: u16,
    reason: &'static str,
    message: String,
}

impl ApiError {
    pub(super) fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
        }
    }

    pub(super) fn into_response(self) -> Response {
        google_error(self.code, self.reason, &self.message, None)
    }
}

/// How the message arrived.
#[derive(Clone)]
pub(super) enum SendBody {
    /// On the `/upload/` path: `uploadType` and the request's Content-Type.
    Upload {
        upload_type: Option<String>,
        content_type: Option<String>,
        body: Bytes,
    },
    /// On the plain path: a JSON `Message`.
    Json(Bytes),
}

/// The raw message and the requested thread, or the error answer.
pub(super) fn parse_body(request: SendBody) -> Result<(Vec<u8>, Option<String>), ApiError> {
    match request {
        SendBody::Json(body) => {
            let message: Value = serde_json::from_slice(&body).map_err(|e| {
                ApiError::new(
                    400,
                    "parseError",
                    format!("Invalid JSON payload received. {e}"),
                )
            })?;
            let raw = match message.get("raw").and_then(Value::as_str) {
                None => Vec::new(),
                Some(encoded) => decode_base64(encoded).ok_or_else(|| {
                    ApiError::new(
                        400,
                        "invalidArgument",
                        "Invalid value at 'message.raw' (TYPE_BYTES), Base64 decoding failed",
                    )
                })?,
            };
            Ok((raw, thread_id_of(&message)))
        }
        SendBody::Upload {
            upload_type,
            content_type,
            body,
        } => match upload_type.as_deref() {
            Some("media") => {
                check_media_type(content_type.as_deref())?;
                Ok((body.to_vec(), None))
            }
            Some("multipart") => parse_multipart_upload(content_type.as_deref(), &body),
            Some(other) => Err(ApiError::new(
                400,
                "invalidArgument",
                format!("Invalid upload type: {other}"),
            )),
            None => Err(ApiError::new(
                400,
                "badRequest",
                "Upload requests must include an uploadType URL parameter and a URL path beginning with /upload/",
            )),
        },
    }
}

/// `uploadType=multipart`: a JSON metadata part, then the message part.
fn parse_multipart_upload(
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(Vec<u8>, Option<String>), ApiError> {
    let bad = |parts: usize| {
        ApiError::new(
            400,
            "badContent",
            format!("Invalid multipart request with {parts} mime parts."),
        )
    };
    let boundary = content_type
        .filter(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/related")
        })
        .and_then(boundary_of)
        .ok_or_else(|| bad(0))?;
    let parts = parse_multipart(body, &boundary).ok_or_else(|| bad(0))?;
    if parts.len() != 2 {
        return Err(bad(parts.len()));
    }
    let metadata = decode_part(&parts[0]).ok_or_else(|| bad(parts.len()))?;
    let metadata: Value = if metadata.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&metadata).map_err(|e| {
            ApiError::new(
                400,
                "parseError",
                format!("Invalid JSON payload received. {e}"),
            )
        })?
    };
    check_media_type(parts[1].header("content-type"))?;
    let raw = decode_part(&parts[1]).ok_or_else(|| bad(parts.len()))?;
    Ok((raw, thread_id_of(&metadata)))
}

/// Media must be `message/*`.
fn check_media_type(content_type: Option<&str>) -> Result<(), ApiError> {
    let media_type = content_type.unwrap_or("").trim();
    if media_type.to_ascii_lowercase().starts_with("message/") {
        Ok(())
    } else {
        Err(ApiError::new(
            400,
            "badContent",
            format!("Media type '{media_type}' is not supported. Valid media types: [message/*]"),
        ))
    }
}

/// `threadId` of a `Message`, if a non-empty string.
fn thread_id_of(message: &Value) -> Option<String> {
    message
        .get("threadId")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_with_base64_part_and_quoted_boundary() {
        let ct = "multipart/related; boundary=\"b1\"";
        let body = b"--b1\nContent-Type: application/json\n\n{\"threadId\":\"t1\"}\n--b1\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nVG86IGFAYi5jDQoNCmhp\n--b1--";
        let Ok((raw, thread)) = parse_multipart_upload(Some(ct), body) else {
            panic!("not parsed");
        };
        assert_eq!(raw, b"To: a@b.c\r\n\r\nhi");
        assert_eq!(thread.as_deref(), Some("t1"));
    }
}
