//! Who may call a Gmail endpoint: the bearer token must be live, carry one
//! of the endpoint's scopes and act for the mailbox named in the path
//! (`userId`: `me` or that address). One [`authorize`] serves the send and
//! every read; [`open_read`] is the shared opening of the read handlers.

use std::sync::MutexGuard;

use axum::http::HeaderMap;
use axum::response::Response;

use super::faults::{AUTH_ERROR_REASON, Endpoint, INVALID_CREDENTIALS_MESSAGE};
use super::request::bearer_token;
use super::respond;
use super::send_body::ApiError;
use super::state::{AccessRecord, Shared, State};
use super::types::{
    GMAIL_METADATA_SCOPE, GMAIL_READONLY_SCOPE, GMAIL_SEND_SCOPE, MAIL_GOOGLE_SCOPE,
};

/// Message of Google's 401 answer to a request without credentials.
pub(crate) const MISSING_CREDENTIALS_MESSAGE: &str = "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";

/// Scopes that may send (`users.messages.send`).
pub(crate) const SEND_SCOPES: [&str; 2] = [GMAIL_SEND_SCOPE, MAIL_GOOGLE_SCOPE];

/// Scopes that may read a mailbox's messages (or their metadata), its
/// history and its profile.
pub(crate) const READ_SCOPES: [&str; 4] = [
    GMAIL_METADATA_SCOPE,
    GMAIL_READONLY_SCOPE,
    "https://www.googleapis.com/auth/gmail.modify",
    MAIL_GOOGLE_SCOPE,
];

/// The live access record of the request's bearer token.
pub(crate) fn access<'s>(
    state: &'s State,
    token: Option<&str>,
) -> Result<&'s AccessRecord, ApiError> {
    let Some(token) = token else {
        return Err(ApiError::new(401, "required", MISSING_CREDENTIALS_MESSAGE));
    };
    state
        .valid_access_token(token)
        .map_err(|_| ApiError::new(401, AUTH_ERROR_REASON, INVALID_CREDENTIALS_MESSAGE))
}

/// The mailbox `record` may use for a call allowed to `scopes`: it must
/// carry one of them, and `user_id` must be `me` or its subject.
pub(crate) fn authorize(
    record: &AccessRecord,
    user_id: &str,
    scopes: &[&str],
) -> Result<String, ApiError> {
    if !record.scopes.iter().any(|s| scopes.contains(&s.as_str())) {
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
    Ok(user)
}

/// A read request, authorized: the locked state, its query parameters, the
/// mailbox and whether the token carries `gmail.metadata` (whose limits then
/// apply, whatever else it carries).
pub(crate) struct Read<'s> {
    pub state: MutexGuard<'s, State>,
    pub params: Vec<(String, String)>,
    pub user: String,
    pub metadata_only: bool,
}

impl Read<'_> {
    /// The values of query parameter `name`, in order.
    pub(crate) fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.params
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The page a list asks for: `maxResults` (default 100, 1 to 500) and the offset its
    /// `pageToken` carries (0 without one).
    pub(crate) fn page(&self) -> (usize, usize) {
        let max = self
            .first("maxResults")
            .and_then(|m| m.parse::<usize>().ok())
            .unwrap_or(100)
            .clamp(1, 500);
        let from = self
            .first("pageToken")
            .and_then(|t| t.parse::<usize>().ok())
            .unwrap_or(0);
        (max, from)
    }

    /// The first value of query parameter `name`.
    pub(crate) fn first<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.values(name).next()
    }
}

/// The shared opening of every read handler: parses the query, locks the
/// state, authorizes the token for reading `user_id`'s mailbox and applies
/// a status or HTML-page [`FaultRule::read`](super::FaultRule::read) rule
/// (latency and dropped connections do not apply to reads).
pub(crate) fn open_read<'s>(
    shared: &'s Shared,
    headers: &HeaderMap,
    user_id: &str,
    query: Option<&str>,
) -> Result<Read<'s>, Box<Response>> {
    let params = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut state = shared.lock();
    let token = bearer_token(headers);
    let (user, metadata_only) = access(&state, token.as_deref())
        .and_then(|record| {
            let user = authorize(record, user_id, &READ_SCOPES)?;
            let metadata_only = record.scopes.iter().any(|s| s == GMAIL_METADATA_SCOPE);
            Ok((user, metadata_only))
        })
        .map_err(|e| Box::new(e.into_response()))?;
    let plan = state.faults.plan(Endpoint::Read, Some(&user));
    if let Some(response) = plan
        .fault
        .as_ref()
        .and_then(|f| respond::fault_response(f, false))
    {
        return Err(Box::new(response));
    }
    Ok(Read {
        state,
        params,
        user,
        metadata_only,
    })
}
