//! Gmail's `users.getProfile` and `users.history.list`, over the mailbox
//! history the fake keeps (`mailbox.rs`):
//!
//! * `getProfile`: `emailAddress`, `messagesTotal`, `threadsTotal` and the
//!   current `historyId`.
//! * `history.list`: `startHistoryId` (required; 404 `notFound` when the
//!   history at it is no longer kept, see
//!   [`FakeGoogle::forget_history`](super::FakeGoogle::forget_history)),
//!   `labelId`, `historyTypes` (only `messageAdded` records exist),
//!   `maxResults` (default 100, at most 500) and `pageToken`; each record
//!   carries `messages` and `messagesAdded`, and the answer the mailbox's
//!   current `historyId`.
//!
//! Both need a reading scope; `gmail.metadata` allows both, as at Google.
//! They count in [`FakeGoogle::history_calls`](super::FakeGoogle::history_calls).

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

use super::FakeGoogle;
use super::gmail_auth::open_read;
use super::respond;
use super::send_body::ApiError;
use super::state::Shared;

type SharedState = AxumState<Arc<Shared>>;

/// `GET /gmail/v1/users/{userId}/profile`.
pub(crate) async fn profile(
    AxumState(shared): SharedState,
    Path(user_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let read = match open_read(&shared, &headers, &user_id, None) {
        Ok(read) => read,
        Err(response) => return *response,
    };
    let sent = read
        .state
        .sent
        .iter()
        .filter(|m| m.user == read.user)
        .count();
    let received = read
        .state
        .mailboxes
        .received
        .iter()
        .filter(|m| m.user == read.user)
        .count();
    respond::json(
        200,
        &json!({
            "emailAddress": read.user,
            "messagesTotal": sent + received,
            "threadsTotal": sent + received,
            "historyId": read.state.mailboxes.current().to_string(),
        }),
    )
}

/// `GET /gmail/v1/users/{userId}/history`.
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
    let Some(start) = read
        .first("startHistoryId")
        .and_then(|s| s.parse::<u64>().ok())
    else {
        return ApiError::new(400, "invalidArgument", "Invalid startHistoryId").into_response();
    };
    if read.values("historyTypes").any(|t| t != "messageAdded") {
        // Only messageAdded records exist here: other types select nothing.
        return respond::json(
            200,
            &json!({ "historyId": read.state.mailboxes.current().to_string() }),
        );
    }
    let (max, from) = read.page();
    let label = read.first("labelId").map(str::to_owned);
    let body = {
        let Ok(records) = read
            .state
            .mailboxes
            .since(&read.user, start, label.as_deref())
        else {
            return ApiError::new(404, "notFound", "Requested entity was not found.")
                .into_response();
        };
        let page: Vec<Value> = records
            .iter()
            .skip(from)
            .take(max)
            .map(|r| {
                let message = json!({ "id": r.message_id, "threadId": r.thread_id });
                let mut added = message.clone();
                added["labelIds"] = json!(r.labels);
                json!({
                    "id": r.id.to_string(),
                    "messages": [message],
                    "messagesAdded": [{ "message": added }],
                })
            })
            .collect();
        let mut body = json!({ "historyId": read.state.mailboxes.current().to_string() });
        if !page.is_empty() {
            body["history"] = Value::Array(page);
        }
        if from + max < records.len() {
            body["nextPageToken"] = json!((from + max).to_string());
        }
        body
    };
    read.state.history_calls += 1;
    respond::json(200, &body)
}

impl FakeGoogle {
    /// How many `users.history.list` calls were answered 200.
    pub fn history_calls(&self) -> u64 {
        self.shared.lock().history_calls
    }
}
