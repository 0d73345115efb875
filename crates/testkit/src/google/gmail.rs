//! Gmail's `users.messages.send`: the media upload form
//! (`POST /upload/gmail/v1/users/{userId}/messages/send?uploadType=multipart|media`)
//! and the JSON form (`POST /gmail/v1/users/{userId}/messages/send` with
//! `{"raw": base64url}`), both read by `send_body.rs`.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as AxumState};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;

use super::faults::{Endpoint, Fault, Plan, is_usage_limit};
use super::gmail_auth::{SEND_SCOPES, access, authorize};
use super::ids::new_message_id;
use super::in_flight::SendInFlight;
use super::mime::{has_recipients, header_value};
use super::quota::{Exceeded, Limit};
use super::request::{bearer_token, parse_form};
use super::respond::{self, Dropped, google_error};
use super::send_body::{ApiError, SendBody, parse_body};
use super::state::{PROJECT_ID, Shared, State};
use super::types::{SendAttempt, SentMessage};

type SharedState = AxumState<Arc<Shared>>;

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

/// Both forms of the send: logs the attempt on arrival, applies the fault
/// rules, then [`accept`]; the answer's status (and `Retry-After`) completes
/// the log entry and is counted.
async fn send(shared: &Shared, user_id: &str, headers: &HeaderMap, request: SendBody) -> Response {
    let at = SystemTime::now();
    // Read for the log only: a body that does not parse is refused by `accept`.
    let message_id = parse_body(request.clone())
        .ok()
        .and_then(|(raw, _)| header_value(&raw, "message-id"))
        .map(|id| id.trim_start_matches('<').trim_end_matches('>').to_owned());
    let token = bearer_token(headers);
    let (plan, token_user, entry, in_flight) = {
        let mut state = shared.lock();
        state.send_attempts += 1;
        let user = token
            .as_deref()
            .and_then(|t| state.valid_access_token(t).ok())
            .map(|r| r.subject.clone());
        let plan = state.faults.plan(Endpoint::Send, user.as_deref());
        let in_flight = SendInFlight::begin(shared, &mut state, user.as_deref());
        state.send_log.push(SendAttempt {
            at,
            user: user.clone(),
            message_id,
            status: None,
            retry_after: None,
        });
        (plan, user, state.send_log.len() - 1, in_flight)
    };

    let response = answer(shared, plan, token_user, token, user_id, request).await;
    drop(in_flight);

    let status = response
        .extensions()
        .get::<Dropped>()
        .is_none()
        .then(|| response.status().as_u16());
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let mut state = shared.lock();
    if let Some(status) = status {
        *state.send_statuses.entry(status).or_default() += 1;
    }
    let logged = &mut state.send_log[entry];
    logged.status = status;
    logged.retry_after = retry_after;
    response
}

/// Waits out the fault plan, answers with its fault if it has one, else
/// [`accept`]s the send.
async fn answer(
    shared: &Shared,
    plan: Plan,
    token_user: Option<String>,
    token: Option<String>,
    user_id: &str,
    request: SendBody,
) -> Response {
    let due = plan.wait().await;
    let without_id = matches!(due.fault, Some(Fault::AnswerWithoutId));
    if let Some(fault) = due.fault {
        if let (Fault::Status { reason, .. }, Some(user)) = (&fault, &token_user)
            && is_usage_limit(reason)
        {
            shared.lock().count_rate_limited(user);
        }
        if let Some(response) = respond::fault_response(&fault, false) {
            return response;
        }
    }

    let response = accept(&mut shared.lock(), token, user_id, request);
    // A dropped connection hides whatever the answer would have been: an
    // accepted message stays accepted.
    if due.drop_after {
        respond::dropped()
    } else if without_id && response.status().is_success() {
        respond::json(200, &json!({ "labelIds": ["SENT"] }))
    } else {
        response
    }
}

/// Authenticates, validates, charges quota and records the message.
fn accept(state: &mut State, token: Option<String>, user_id: &str, request: SendBody) -> Response {
    let user = match mailbox(state, token, user_id) {
        Ok(user) => user,
        Err(refusal) => return refusal.into_response(),
    };
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
    let (now, wall_now) = (state.now(), state.system_now());
    if let Err(exceeded) = state.quota_tracker.try_spend(&state.quota, &user, now) {
        state.count_rate_limited(&user);
        return quota_refusal(&exceeded, DateTime::from(wall_now));
    }
    record(state, user, raw, thread_hint)
}

/// The mailbox a send may use: the token must be live, carry a send scope
/// and belong to `user_id` (or `me`), a user with a mailbox.
fn mailbox(state: &State, token: Option<String>, user_id: &str) -> Result<String, ApiError> {
    let record = access(state, token.as_deref())?;
    let user = authorize(record, user_id, &SEND_SCOPES)?;
    if state.user(&user).is_none() {
        // A service account's own token: it has no mailbox.
        return Err(ApiError::new(
            400,
            "failedPrecondition",
            "Precondition check failed.",
        ));
    }
    Ok(user)
}

/// Gmail's 429 for a limit reached at `now`, with the time the limit frees
/// up.
fn quota_refusal(exceeded: &Exceeded, now: DateTime<Utc>) -> Response {
    let until =
        now + chrono::Duration::from_std(exceeded.retry_after).unwrap_or(chrono::Duration::zero());
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
    google_error(429, reason, &message, Some(exceeded.retry_after))
}

/// Records an accepted message in its thread (a new one unless the hint
/// names a thread of `user`) and in the mailbox's history (label `SENT`),
/// bounces it for undeliverable recipients, and answers with its IDs.
pub(crate) fn record(
    state: &mut State,
    user: String,
    raw: Vec<u8>,
    thread_hint: Option<String>,
) -> Response {
    let aliases = state
        .user(&user)
        .map(|u| u.send_as.clone())
        .unwrap_or_default();
    let (raw, rewritten_from) = super::send_as::rewrite_from(raw, &user, &aliases);
    let id = new_message_id();
    let threads = state.threads.entry(user.clone()).or_default();
    let thread_id = match thread_hint {
        Some(hint) if threads.contains(&hint) => hint,
        _ => id.clone(),
    };
    threads.insert(thread_id.clone());
    state.mailboxes.added(&user, &id, &thread_id, vec!["SENT"]);
    super::bounce::bounce_undeliverable(state, &user, &raw);
    state.sent.push(SentMessage {
        user,
        raw,
        id: id.clone(),
        thread_id: thread_id.clone(),
        at: SystemTime::now(),
        rewritten_from,
    });
    respond::json(
        200,
        &json!({ "id": id, "threadId": thread_id, "labelIds": ["SENT"] }),
    )
}
