//! Gmail's `users.messages.list` and `users.messages.get`, over the messages
//! the fake accepted for that user (each labelled `SENT`) and those it
//! received (bounces, labelled `INBOX` and `UNREAD`), newest first:
//!
//! * `list`: `labelIds` (repeatable; a message must carry all of them),
//!   `maxResults` (default 100, at most 500), `pageToken`; `q` is refused
//!   under `gmail.metadata`, as Google refuses it ("Metadata scope does not
//!   support 'q' parameter"), even when broader scopes come with it, and
//!   otherwise ignored.
//! * `get`: `format=metadata` with `metadataHeaders` (repeatable),
//!   `minimal`, or `raw` (the whole message, base64url with padding, as Gmail answers); `full` and `raw`
//!   are refused under `gmail.metadata`.
//!
//! [`FaultRule::read`](super::FaultRule::read) rules with a status or an
//! HTML page apply to both. Both need a reading scope (`gmail.metadata`, `gmail.readonly`,
//! `gmail.modify` or `https://mail.google.com/`) and count in
//! [`FakeGoogle::read_calls`].

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::HeaderMap;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use serde_json::{Value, json};

use super::FakeGoogle;
use super::gmail_auth::open_read;
use super::mime::header_value;
use super::respond;
use super::send_body::ApiError;
use super::state::{Shared, State};

type SharedState = AxumState<Arc<Shared>>;

/// Calls to `messages.list` and `messages.get`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReadCalls {
    /// `messages.list` calls answered 200.
    pub lists: u64,
    /// `messages.get` calls answered 200.
    pub gets: u64,
}

/// A message of the mailbox, sent or received, as the reads see it.
struct Found<'a> {
    id: &'a str,
    thread_id: &'a str,
    raw: &'a [u8],
    at: SystemTime,
    labels: &'static [&'static str],
}

/// `user`'s messages with every label in `labels`, newest first.
fn messages<'a>(state: &'a State, user: &str, labels: &[&str]) -> Vec<Found<'a>> {
    let sent = state.sent.iter().filter(|m| m.user == user).map(|m| Found {
        id: &m.id,
        thread_id: &m.thread_id,
        raw: &m.raw,
        at: m.at,
        labels: &["SENT"],
    });
    let received = state
        .mailboxes
        .received
        .iter()
        .filter(|m| m.user == user)
        .map(|m| Found {
            id: &m.id,
            thread_id: &m.thread_id,
            raw: &m.raw,
            at: m.at,
            labels: &["INBOX", "UNREAD"],
        });
    let mut all: Vec<Found<'a>> = sent
        .chain(received)
        .filter(|m| labels.iter().all(|l| m.labels.contains(l)))
        .collect();
    all.sort_by_key(|m| std::cmp::Reverse(m.at));
    all
}

/// `GET /gmail/v1/users/{userId}/messages`.
pub(crate) async fn list(
    AxumState(shared): SharedState,
    Path(user_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut read = match open_read(&shared, &headers, &user_id, query.as_deref()) {
        Ok(read) => read,
        Err(response) => return *response,
    };
    if read.metadata_only && read.first("q").is_some() {
        return ApiError::new(
            403,
            "forbidden",
            "Metadata scope does not support 'q' parameter",
        )
        .into_response();
    }
    let labels: Vec<&str> = read.values("labelIds").collect();
    let (max, from) = read.page();
    let mine = messages(&read.state, &read.user, &labels);
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
    read.state.read_calls.lists += 1;
    respond::json(200, &body)
}

/// `GET /gmail/v1/users/{userId}/messages/{id}`.
pub(crate) async fn get(
    AxumState(shared): SharedState,
    Path((user_id, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let mut read = match open_read(&shared, &headers, &user_id, query.as_deref()) {
        Ok(read) => read,
        Err(response) => return *response,
    };
    let format = read.first("format").unwrap_or("full").to_ascii_lowercase();
    if read.metadata_only && (format == "full" || format == "raw") {
        let message = format!(
            "Metadata scope doesn't allow format {}",
            format.to_uppercase()
        );
        return ApiError::new(403, "forbidden", message).into_response();
    }
    let body = {
        let all = messages(&read.state, &read.user, &[]);
        let Some(message) = all.iter().find(|m| m.id == id) else {
            return ApiError::new(404, "notFound", "Requested entity was not found.")
                .into_response();
        };
        let history_id = read.state.mailboxes.history_of(message.id).unwrap_or(1);
        let wanted: Vec<&str> = read.values("metadataHeaders").collect();
        message_body(message, history_id, &format, &wanted)
    };
    read.state.read_calls.gets += 1;
    respond::json(200, &body)
}

/// A message resource in `format` (`minimal`, `metadata` with the `wanted`
/// headers, `raw`; `full` answers as `metadata` with every wanted header).
fn message_body(message: &Found<'_>, history_id: u64, format: &str, wanted: &[&str]) -> Value {
    let internal_date = message
        .at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    let mut body = json!({
        "id": message.id,
        "threadId": message.thread_id,
        "labelIds": message.labels,
        "snippet": "",
        "sizeEstimate": message.raw.len(),
        "historyId": history_id.to_string(),
        "internalDate": internal_date.to_string(),
    });
    match format {
        "minimal" => {}
        "raw" => body["raw"] = json!(URL_SAFE.encode(message.raw)),
        _ => {
            let headers: Vec<Value> = wanted
                .iter()
                .filter_map(|name| {
                    header_value(message.raw, name).map(|v| json!({ "name": name, "value": v }))
                })
                .collect();
            body["payload"] = json!({ "mimeType": "text/plain", "headers": headers });
        }
    }
    body
}

impl FakeGoogle {
    /// How many `messages.list` and `messages.get` calls were answered 200.
    pub fn read_calls(&self) -> ReadCalls {
        self.shared.lock().read_calls
    }
}
