//! Gmail's `users.messages.send`: the media upload form
//! (`POST /upload/gmail/v1/users/{userId}/messages/send?uploadType=multipart|media`)
//! and the JSON form (`POST /gmail/v1/users/{userId}/messages/send` with
//! `{"raw": base64url}`).

use std::sync::Arc;
use std::time::{Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};

use super::faults::{
    AUTH_ERROR_REASON, Endpoint, Fault, INVALID_CREDENTIALS_MESSAGE, is_usage_limit,
};
use super::keys::LENIENT_URL_SAFE;
use super::oauth::{bearer_token, parse_form};
use super::quota::Limit;
use super::respond::{self, Dropped, google_error};
use super::state::{
    GMAIL_SEND_SCOPE, MAIL_GOOGLE_SCOPE, PROJECT_ID, SentMessage, Shared, State, new_message_id,
};

type SharedState = AxumState<Arc<Shared>>;

/// Message of Google's 401 answer to a request without credentials.
const MISSING_CREDENTIALS_MESSAGE: &str = "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";

/// A refusal in Google's API error format, turned into a response by
/// [`ApiError::into_response`].
struct ApiError {
    code: u16,
    reason: &'static str,
    message: String,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason,
            message: message.into(),
        }
    }

    fn into_response(self) -> Response {
        google_error(self.code, self.reason, &self.message, None)
    }
}

/// How the message arrived.
enum SendBody {
    /// On the `/upload/` path: `uploadType` and the request's Content-Type.
    Upload {
        upload_type: Option<String>,
        content_type: Option<String>,
        body: Bytes,
    },
    /// On the plain path: a JSON `Message`.
    Json(Bytes),
}

/// `POST /upload/gmail/v1/users/{userId}/messages/send`.
pub(crate) async fn send_upload(
    AxumState(shared): SharedState,
    Path(user_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = parse_form(query.unwrap_or_default().as_bytes());
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let request = SendBody::Upload {
        upload_type: params.get("uploadType").cloned(),
        content_type,
        body,
    };
    send(&shared, &user_id, &headers, request).await
}

/// `POST /gmail/v1/users/{userId}/messages/send`.
pub(crate) async fn send_json(
    AxumState(shared): SharedState,
    Path(user_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    send(&shared, &user_id, &headers, SendBody::Json(body)).await
}

/// Both forms of the send, counting the answer by status.
async fn send(shared: &Shared, user_id: &str, headers: &HeaderMap, request: SendBody) -> Response {
    let response = send_inner(shared, user_id, headers, request).await;
    if response.extensions().get::<Dropped>().is_none() {
        *shared
            .lock()
            .send_statuses
            .entry(response.status().as_u16())
            .or_default() += 1;
    }
    response
}

/// Applies the fault rules, then [`accept`].
async fn send_inner(
    shared: &Shared,
    user_id: &str,
    headers: &HeaderMap,
    request: SendBody,
) -> Response {
    let token = bearer_token(headers);
    let (plan, token_user) = {
        let mut state = shared.lock();
        state.send_attempts += 1;
        let user = token
            .as_deref()
            .and_then(|t| state.valid_access_token(t).ok())
            .map(|r| r.subject.clone());
        (state.faults.plan(Endpoint::Send, user.as_deref()), user)
    };
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    let mut drop_after = false;
    match plan.fault {
        Some(Fault::DropConnection) => drop_after = true,
        Some(fault) => {
            if let (Fault::Status { reason, .. }, Some(user)) = (&fault, &token_user)
                && is_usage_limit(reason)
            {
                shared.lock().count_rate_limited(user);
            }
            if let Some(response) = respond::fault_response(&fault, false) {
                return response;
            }
        }
        None => {}
    }

    let response = accept(&mut shared.lock(), token, user_id, request);
    // A dropped connection hides whatever the answer would have been: an
    // accepted message stays accepted.
    if drop_after {
        respond::dropped()
    } else {
        response
    }
}

/// Authenticates, validates, charges quota and records the message.
fn accept(state: &mut State, token: Option<String>, user_id: &str, request: SendBody) -> Response {
    let Some(token) = token else {
        return google_error(401, "required", MISSING_CREDENTIALS_MESSAGE, None);
    };
    let record = match state.valid_access_token(&token) {
        Ok(record) => record.clone(),
        Err(_) => return google_error(401, AUTH_ERROR_REASON, INVALID_CREDENTIALS_MESSAGE, None),
    };
    if !record
        .scopes
        .iter()
        .any(|s| s == GMAIL_SEND_SCOPE || s == MAIL_GOOGLE_SCOPE)
    {
        return google_error(
            403,
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
            None,
        );
    }
    let user = record.subject;
    if user_id != "me" && !user_id.eq_ignore_ascii_case(&user) {
        return google_error(
            403,
            "forbidden",
            &format!("Delegation denied for {user}"),
            None,
        );
    }
    if state.user(&user).is_none() {
        // A service account's own token: it has no mailbox.
        return google_error(
            400,
            "failedPrecondition",
            "Precondition check failed.",
            None,
        );
    }
    let (raw, thread_hint) = match parse_body(request) {
        Ok(parsed) => parsed,
        Err(error) => return error.into_response(),
    };
    if raw.is_empty() {
        return google_error(
            400,
            "invalidArgument",
            "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
            None,
        );
    }
    if !has_recipients(&raw) {
        return google_error(400, "invalidArgument", "Recipient address required", None);
    }
    if let Err(exceeded) = state
        .quota_tracker
        .try_spend(&state.quota, &user, Instant::now())
    {
        state.count_rate_limited(&user);
        let until = Utc::now()
            + chrono::Duration::from_std(exceeded.retry_after).unwrap_or(chrono::Duration::zero());
        let until = until.to_rfc3339_opts(SecondsFormat::Millis, true);
        let (reason, message) = match exceeded.limit {
            Limit::UserPerMinute => (
                "userRateLimitExceeded",
                format!("User-rate limit exceeded.  Retry after {until}"),
            ),
            Limit::UserPerDay => (
                "rateLimitExceeded",
                format!("User-rate limit exceeded.  Retry after {until} (Mail sending)"),
            ),
            Limit::ProjectPerMinute => (
                "rateLimitExceeded",
                format!(
                    "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute' of service 'gmail.googleapis.com' for consumer 'project_number:{PROJECT_ID}'."
                ),
            ),
        };
        return google_error(429, reason, &message, Some(exceeded.retry_after));
    }

    let id = new_message_id();
    let threads = state.threads.entry(user.clone()).or_default();
    let thread_id = match thread_hint {
        Some(hint) if threads.contains(&hint) => hint,
        _ => id.clone(),
    };
    threads.insert(thread_id.clone());
    state.sent.push(SentMessage {
        user,
        raw,
        id: id.clone(),
        thread_id: thread_id.clone(),
        at: SystemTime::now(),
    });
    respond::json(
        200,
        &json!({ "id": id, "threadId": thread_id, "labelIds": ["SENT"] }),
    )
}

/// The raw message and the requested thread, or the error answer.
fn parse_body(request: SendBody) -> Result<(Vec<u8>, Option<String>), ApiError> {
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

/// Gmail takes base64url, padded or not; standard base64 is tolerated too.
fn decode_base64(encoded: &str) -> Option<Vec<u8>> {
    let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    LENIENT_URL_SAFE
        .decode(&compact)
        .ok()
        .or_else(|| STANDARD_NO_PAD.decode(compact.trim_end_matches('=')).ok())
}

/// The `boundary` parameter of a Content-Type.
fn boundary_of(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_owned())
            .filter(|b| !b.is_empty())
    })
}

/// One part of a multipart body.
struct Part<'a> {
    headers: Vec<(String, String)>,
    body: &'a [u8],
}

impl Part<'_> {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The part's body, decoded when its `Content-Transfer-Encoding` is base64.
fn decode_part(part: &Part<'_>) -> Option<Vec<u8>> {
    match part.header("content-transfer-encoding") {
        Some(cte) if cte.trim().eq_ignore_ascii_case("base64") => {
            decode_base64(std::str::from_utf8(part.body).ok()?)
        }
        _ => Some(part.body.to_vec()),
    }
}

/// Splits a multipart body (RFC 2046) into its parts. `None` if the
/// delimiters are missing or it is not closed.
fn parse_multipart<'a>(body: &'a [u8], boundary: &str) -> Option<Vec<Part<'a>>> {
    let delimiter = format!("--{boundary}").into_bytes();
    let mut at = find(body, &delimiter, 0)?;
    if at > 0 && body[at - 1] != b'\n' {
        return None;
    }
    let mut parts = Vec::new();
    loop {
        let after = at + delimiter.len();
        if body[after..].starts_with(b"--") {
            return Some(parts);
        }
        let content_start = find(body, b"\n", after)? + 1;
        let mut search = content_start;
        let next = loop {
            let candidate = find(body, &delimiter, search)?;
            if candidate > 0 && body[candidate - 1] == b'\n' {
                break candidate;
            }
            search = candidate + 1;
        };
        let mut content_end = next - 1;
        if content_end > content_start && body[content_end - 1] == b'\r' {
            content_end -= 1;
        }
        parts.push(parse_part(
            &body[content_start..content_end.max(content_start)],
        )?);
        at = next;
    }
}

/// Splits a part into its headers and body.
fn parse_part(content: &[u8]) -> Option<Part<'_>> {
    let (head, body) = if content.starts_with(b"\r\n") {
        (&content[..0], &content[2..])
    } else if content.starts_with(b"\n") {
        (&content[..0], &content[1..])
    } else if let Some(i) = find(content, b"\r\n\r\n", 0) {
        (&content[..i], &content[i + 4..])
    } else if let Some(i) = find(content, b"\n\n", 0) {
        (&content[..i], &content[i + 2..])
    } else {
        return None;
    };
    Some(Part {
        headers: header_fields(head),
        body,
    })
}

/// Unfolded `Name: value` header fields.
fn header_fields(head: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(head);
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    fields
}

/// Whether the message's header has a non-empty `To`, `Cc` or `Bcc`.
fn has_recipients(raw: &[u8]) -> bool {
    let head_end = find(raw, b"\r\n\r\n", 0)
        .or_else(|| find(raw, b"\n\n", 0))
        .unwrap_or(raw.len());
    header_fields(&raw[..head_end]).iter().any(|(name, value)| {
        ["to", "cc", "bcc"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n))
            && !value.is_empty()
    })
}

/// Position of `needle` in `haystack` at or after `from`.
fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > haystack.len() || needle.is_empty() {
        return None;
    }
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GMAIL1_BODY: &[u8] = b"\r\n--MDuXWGyeE33QFXGchb2VFWc4Z7945d\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}\r\n--MDuXWGyeE33QFXGchb2VFWc4Z7945d\r\ncontent-type: message/rfc822\r\ncontent-length: 32\r\n\r\nTo: a@b.c\r\nSubject: x\r\n\r\nhello\r\n\r\n--MDuXWGyeE33QFXGchb2VFWc4Z7945d--\r\n";

    #[test]
    fn parses_google_apis_common_multipart() {
        let parts = parse_multipart(GMAIL1_BODY, "MDuXWGyeE33QFXGchb2VFWc4Z7945d").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].body, b"{}");
        assert_eq!(parts[1].header("Content-Type"), Some("message/rfc822"));
        assert_eq!(parts[1].body, b"To: a@b.c\r\nSubject: x\r\n\r\nhello\r\n");
    }

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

    #[test]
    fn unterminated_multipart_is_refused() {
        assert!(parse_multipart(b"--b\r\n\r\n{}\r\n--b\r\n\r\nx", "b").is_none());
    }

    #[test]
    fn recipients_are_found_in_the_header_only() {
        assert!(has_recipients(b"From: a@b.c\r\nCc:\r\n  x@y.z\r\n\r\nbody"));
        assert!(!has_recipients(
            b"From: a@b.c\r\nSubject: hi\r\n\r\nTo: x@y.z\r\n"
        ));
        assert!(!has_recipients(b"From: a@b.c\nTo:   \n\nbody"));
    }
}
