//! Send-as aliases: `users.settings.sendAs.list`
//! (`GET /gmail/v1/users/{userId}/settings/sendAs`), and what a send does
//! with its `From`. As at Gmail, a From that is neither the sending user's
//! address nor one of its verified send-as aliases is rewritten to the
//! user's address; the message records the From it came with
//! ([`SentMessage::rewritten_from`](super::SentMessage::rewritten_from)).
//!
//! Aliases are set per user by tests ([`FakeGoogle::add_send_as`]); the
//! list needs `gmail.settings.basic` (or a scope that reads the mailbox).

use std::sync::Arc;

use axum::extract::{Path, State as AxumState};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};

use super::FakeGoogle;
use super::ids::normalize_email;
use super::mime::header_value;
use super::request::bearer_token;
use super::respond;
use super::send_body::ApiError;
use super::state::Shared;
use super::types::MAIL_GOOGLE_SCOPE;

/// `https://www.googleapis.com/auth/gmail.settings.basic`: read and
/// manage basic mail settings (send-as aliases among them).
pub const GMAIL_SETTINGS_BASIC_SCOPE: &str = "https://www.googleapis.com/auth/gmail.settings.basic";

/// Scopes `sendAs.list` accepts.
const LIST_SCOPES: [&str; 4] = [
    GMAIL_SETTINGS_BASIC_SCOPE,
    "https://www.googleapis.com/auth/gmail.readonly",
    "https://www.googleapis.com/auth/gmail.modify",
    MAIL_GOOGLE_SCOPE,
];

impl FakeGoogle {
    /// Gives `user` the send-as alias `alias`, verified (`accepted`) or
    /// still `pending` (a pending alias is rewritten like any stranger).
    pub fn add_send_as(&self, user: &str, alias: &str, verified: bool) {
        let mut state = self.shared.lock();
        let record = state.ensure_user(user);
        record.send_as.insert(normalize_email(alias), verified);
    }

    /// Removes `user`'s send-as alias `alias`.
    pub fn remove_send_as(&self, user: &str, alias: &str) {
        if let Some(record) = self.shared.lock().users.get_mut(&normalize_email(user)) {
            record.send_as.remove(&normalize_email(alias));
        }
    }
}

/// `GET /gmail/v1/users/{userId}/settings/sendAs`.
pub(crate) async fn list(
    AxumState(shared): AxumState<Arc<Shared>>,
    Path(user_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let state = shared.lock();
    let Some(token) = bearer_token(&headers) else {
        return ApiError::new(401, "required", "Login Required.").into_response();
    };
    let Ok(record) = state.valid_access_token(&token) else {
        return ApiError::new(401, "authError", "Invalid Credentials").into_response();
    };
    if !record
        .scopes
        .iter()
        .any(|s| LIST_SCOPES.contains(&s.as_str()))
    {
        return ApiError::new(
            403,
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
        )
        .into_response();
    }
    let user = record.subject.clone();
    if user_id != "me" && !user_id.eq_ignore_ascii_case(&user) {
        return ApiError::new(403, "forbidden", format!("Delegation denied for {user}"))
            .into_response();
    }
    let Some(account) = state.user(&user) else {
        return ApiError::new(400, "failedPrecondition", "Precondition check failed.")
            .into_response();
    };
    let mut entries = vec![json!({
        "sendAsEmail": account.email,
        "displayName": "",
        "replyToAddress": "",
        "signature": "",
        "isPrimary": true,
        "isDefault": true,
    })];
    for (alias, verified) in &account.send_as {
        entries.push(json!({
            "sendAsEmail": alias,
            "displayName": "",
            "replyToAddress": "",
            "signature": "",
            "isDefault": false,
            "treatAsAlias": true,
            "verificationStatus": if *verified { "accepted" } else { "pending" },
        }));
    }
    respond::json(200, &json!({ "sendAs": Value::Array(entries) }))
}

/// The message as Gmail keeps it: unchanged when its From is `user` or a
/// verified alias of `user` (in `aliases`), else with its From rewritten
/// to `user`; and the From it came with, when rewritten.
pub(crate) fn rewrite_from(
    raw: Vec<u8>,
    user: &str,
    aliases: &std::collections::BTreeMap<String, bool>,
) -> (Vec<u8>, Option<String>) {
    let Some(from) = header_value(&raw, "from") else {
        return (raw, None);
    };
    let address = match (from.rfind('<'), from.rfind('>')) {
        (Some(open), Some(close)) if open < close => &from[open + 1..close],
        _ => from.as_str(),
    };
    let address = normalize_email(address);
    if address == user || aliases.get(&address).copied().unwrap_or(false) {
        return (raw, None);
    }
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(raw.len());
    let (head, body) = raw.split_at(head_end);
    let mut out = Vec::with_capacity(raw.len());
    let mut skipping = false;
    for line in head.split_inclusive(|&b| b == b'\n') {
        let folded = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
        if skipping && folded {
            continue;
        }
        skipping = line.len() >= 5 && line[..5].eq_ignore_ascii_case(b"from:");
        if skipping {
            out.extend_from_slice(format!("From: {user}\r\n").as_bytes());
        } else {
            out.extend_from_slice(line);
        }
    }
    out.extend_from_slice(body);
    (out, Some(from))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::rewrite_from;

    #[test]
    fn a_from_that_is_not_a_verified_alias_is_rewritten() {
        let raw = b"From: Alerts\r\n <alerts@example.com>\r\nTo: a@b.c\r\n\r\nhi\r\n".to_vec();
        let mut aliases = BTreeMap::new();
        let (kept, was) = rewrite_from(raw.clone(), "n1@example.com", &aliases);
        assert_eq!(was.as_deref(), Some("Alerts <alerts@example.com>"));
        assert_eq!(
            kept,
            b"From: n1@example.com\r\nTo: a@b.c\r\n\r\nhi\r\n".to_vec()
        );
        aliases.insert("alerts@example.com".to_owned(), true);
        assert_eq!(
            rewrite_from(raw.clone(), "n1@example.com", &aliases),
            (raw, None)
        );
    }
}
