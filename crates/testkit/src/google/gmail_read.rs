//! Gmail's `users.messages.list` and `users.messages.get`, over the messages
//! the fake accepted for that user (each labelled `SENT`), newest first:
//!
//! * `list`: `labelIds` (repeatable), `maxResults` (default 100, at most
//!   500), `pageToken`; `q` is refused under `gmail.metadata`, as Google
//!   refuses it ("Metadata scope does not support 'q' parameter"), even
//!   when broader scopes come with it.
//! * `get`: `format=metadata` with `metadataHeaders` (repeatable), or
//!   `minimal`; `full` and `raw` are refused under `gmail.metadata`.
//!
//! [`FaultRule::read`](super::FaultRule::read) rules with a status or an
//! HTML page apply to both. Both need a reading scope (`gmail.metadata`, `gmail.readonly`,
//! `gmail.modify` or `https://mail.google.com/`) and count in
//! [`FakeGoogle::read_calls`].

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

use super::FakeGoogle;
use super::faults::Endpoint;
use super::mime::header_value;
use super::request::bearer_token;
use super::respond;
use super::send_body::ApiError;
use super::state::{Shared, State};
use super::types::{GMAIL_METADATA_SCOPE, MAIL_GOOGLE_SCOPE, SentMessage};

type SharedState = AxumState<Arc<Shared>>;

/// Calls to `messages.list` and `messages.get`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReadCalls {
    /// `messages.list` calls answered 200.
    pub lists: u64,
    /// `messages.get` calls answered 200.
    pub gets: u64,
}

/// Scopes that may read a mailbox's messages (or their metadata).
const READ_SCOPES: [&str; 4] = [
    GMAIL_METADATA_SCOPE,
    "https://www.googleapis.com/auth/gmail.readonly",
    "https://www.googleapis.com/auth/gmail.modify",
    MAIL_GOOGLE_SCOPE,
];

/// `GET /gmail/v1/users/{userId}/messages`.
pub(crate) async fn list(
    AxumState(shared): SharedState,
    Path(user_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = pairs(query.as_deref());
    let mut state = shared.lock();
    let (user, metadata_only) = match reader(&state, &headers, &user_id) {
        Ok(reader) => reader,
        Err(refusal) => return refusal.into_response(),
    };
    if let Some(response) = fault(&mut state, &user) {
        return response;
    }
    if metadata_only && params.iter().any(|(k, _)| k == "q") {
        return ApiError::new(
            403,
            "forbidden",
            "Metadata scope does not support 'q' parameter",
        )
        .into_response();
    }
    let labels: Vec<&str> = values(&params, "labelIds").collect();
    let max = values(&params, "maxResults")
        .next()
        .and_then(|m| m.parse::<usize>().ok())
        .unwrap_or(100)
        .clamp(1, 500);
    let from = values(&params, "pageToken")
        .next()
        .and_then(|t| t.parse::<usize>().ok())
        .unwrap_or(0);
    let mine: Vec<&SentMessage> = if labels.iter().all(|l| *l == "SENT") {
        state.sent.iter().rev().filter(|m| m.user == user).collect()
    } else {
        Vec::new()
    };
    let page: Vec<Value> = mine
        .iter()
        .skip(from)
        .take(max)
        .map(|m| json!({ "id": m.id, "threadId": m.thread_id }))
        .collect();
    let mut body = json!({ "resultSizeEstimate": mine.len() });
    if !page.is_empty() {
        body["messages"] = Value::Array(page);
    }
    if from + max < mine.len() {
        body["nextPageToken"] = json!((from + max).to_string());
    }
    state.read_calls.lists += 1;
    respond::json(200, &body)
}

/// `GET /gmail/v1/users/{userId}/messages/{id}`.
pub(crate) async fn get(
    AxumState(shared): SharedState,
    Path((user_id, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = pairs(query.as_deref());
    let mut state = shared.lock();
    let (user, metadata_only) = match reader(&state, &headers, &user_id) {
        Ok(reader) => reader,
        Err(refusal) => return refusal.into_response(),
    };
    if let Some(response) = fault(&mut state, &user) {
        return response;
    }
    let format = values(&params, "format")
        .next()
        .unwrap_or("full")
        .to_ascii_lowercase();
    if metadata_only && (format == "full" || format == "raw") {
        let message = format!(
            "Metadata scope doesn't allow format {}",
            format.to_uppercase()
        );
        return ApiError::new(403, "forbidden", message).into_response();
    }
    let Some(message) = state.sent.iter().find(|m| m.id == id && m.user == user) else {
        return ApiError::new(404, "notFound", "Requested entity was not found.").into_response();
    };
    let internal_date = message
        .at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let mut body = json!({
        "id": message.id,
        "threadId": message.thread_id,
        "labelIds": ["SENT"],
        "snippet": "",
        "sizeEstimate": message.raw.len(),
        "historyId": "1",
        "internalDate": internal_date.to_string(),
    });
    if format != "minimal" {
        let wanted: Vec<&str> = values(&params, "metadataHeaders").collect();
        let headers: Vec<Value> = wanted
            .iter()
            .filter_map(|name| {
                header_value(&message.raw, name).map(|v| json!({ "name": name, "value": v }))
            })
            .collect();
        body["payload"] = json!({ "mimeType": "text/plain", "headers": headers });
    }
    state.read_calls.gets += 1;
    respond::json(200, &body)
}

/// The answer a status or HTML-page fault rule gives this read instead, if
/// one applies (latency and dropped connections do not apply to reads).
fn fault(state: &mut State, user: &str) -> Option<Response> {
    let plan = state.faults.plan(Endpoint::Read, Some(user));
    plan.fault
        .as_ref()
        .and_then(|f| respond::fault_response(f, false))
}

/// The mailbox a read may look into, and whether the token carries
/// `gmail.metadata` (whose limits then apply, whatever else it carries).
fn reader(state: &State, headers: &HeaderMap, user_id: &str) -> Result<(String, bool), ApiError> {
    let Some(token) = bearer_token(headers) else {
        return Err(ApiError::new(401, "required", "Login Required."));
    };
    let Ok(record) = state.valid_access_token(&token) else {
        return Err(ApiError::new(401, "authError", "Invalid Credentials"));
    };
    if !record
        .scopes
        .iter()
        .any(|s| READ_SCOPES.contains(&s.as_str()))
    {
        return Err(ApiError::new(
            403,
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
        ));
    }
    let user = record.subject.clone();
    if user_id != "me" && !user_id.eq_ignore_ascii_case(&user) {
        return Err(ApiError::new(
            403,
            "forbidden",
            format!("Delegation denied for {user}"),
        ));
    }
    let metadata_only = record.scopes.iter().any(|s| s == GMAIL_METADATA_SCOPE);
    Ok((user, metadata_only))
}

/// Every query parameter, repeated ones included.
fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn values<'a>(params: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> {
    params
        .iter()
        .filter(move |(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

impl FakeGoogle {
    /// How many `messages.list` and `messages.get` calls were answered 200.
    pub fn read_calls(&self) -> ReadCalls {
        self.shared.lock().read_calls
    }
}
