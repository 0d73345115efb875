//! The grants of OAuth clients: `refresh_token` and `authorization_code`
//! (with PKCE), and how the calling client is authenticated.

use std::collections::HashMap;

use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::outcome::{Outcome, invalid_scope};
use crate::google::request::{basic_credentials, requested_scopes};
use crate::google::state::{AccessRecordInit, CODE_LIFETIME, State};

/// `grant_type=refresh_token` or `authorization_code`: authenticates the
/// client, then runs the grant on its token or code.
pub(super) fn client_grant(
    state: &mut State,
    grant_type: &str,
    form: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Outcome {
    let refresh = grant_type == "refresh_token";
    let param = if refresh { "refresh_token" } else { "code" };
    match client_and_param(state, form, headers, param) {
        Ok((client_id, token)) if refresh => {
            refresh_grant(state, client_id, token, form.get("scope"))
        }
        Ok((client_id, code)) => code_grant(state, form, client_id, code),
        Err(outcome) => *outcome,
    }
}

/// `grant_type=refresh_token`, for `client_id`, narrowed to the `scope`
/// asked for if any.
fn refresh_grant(
    state: &mut State,
    client_id: String,
    refresh_token: &str,
    scope: Option<&String>,
) -> Outcome {
    let record = match state.refresh_tokens.get(refresh_token) {
        Some(r) if !r.revoked && r.client_id == client_id => r.clone(),
        other => {
            return Outcome::refuse(400, "invalid_grant", "Token has been expired or revoked.")
                .with(other.map(|r| r.user.as_str()), Some(&client_id));
        }
    };
    let scopes = match scope {
        None => record.scopes.clone(),
        Some(requested) => match requested_scopes(Some(requested)) {
            Some(scopes) if scopes.iter().all(|s| record.scopes.contains(s)) => scopes,
            Some(_) => {
                return Outcome::refuse(400, "invalid_scope", "Bad Request")
                    .with(Some(&record.user), Some(&client_id));
            }
            None => return invalid_scope().with(Some(&record.user), Some(&client_id)),
        },
    };
    let extra = json!({ "scope": scopes.join(" ") });
    let grant = AccessRecordInit {
        client_id,
        subject: record.user.clone(),
        scopes,
        refresh_token: Some(refresh_token.to_owned()),
        offline: true,
    };
    Outcome::issued(state, grant, Some(record.user), extra)
}

/// `grant_type=authorization_code`, for `client_id`.
fn code_grant(
    state: &mut State,
    form: &HashMap<String, String>,
    client_id: String,
    code: &str,
) -> Outcome {
    let now = state.now();
    // A code is single-use: it is gone after this request, whatever the outcome.
    let record = match state.codes.remove(code) {
        Some(r) if r.client_id == client_id && now.duration_since(r.issued) < CODE_LIFETIME => r,
        other => {
            return Outcome::refuse(400, "invalid_grant", "Bad Request")
                .with(other.as_ref().map(|r| r.user.as_str()), Some(&client_id));
        }
    };
    let user = Some(record.user.as_str());
    if form.get("redirect_uri") != Some(&record.redirect_uri) {
        return Outcome::refuse(400, "redirect_uri_mismatch", "Bad Request")
            .with(user, Some(&client_id));
    }
    if let Some((challenge, method)) = &record.challenge {
        let Some(verifier) = form.get("code_verifier") else {
            return Outcome::refuse(400, "invalid_grant", "Missing code verifier.")
                .with(user, Some(&client_id));
        };
        let computed = if method == "S256" {
            URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
        } else {
            verifier.clone()
        };
        if &computed != challenge {
            return Outcome::refuse(400, "invalid_grant", "Invalid code verifier.")
                .with(user, Some(&client_id));
        }
    }
    let refresh_token = record
        .issue_refresh_token
        .then(|| state.issue_refresh_token(&client_id, &record.user, record.scopes.clone()));
    let mut extra = if state.quirks.omit_scope {
        json!({})
    } else {
        json!({ "scope": record.scopes.join(" ") })
    };
    if let Some(refresh_token) = &refresh_token {
        extra["refresh_token"] = json!(refresh_token);
    }
    let grant = AccessRecordInit {
        client_id,
        subject: record.user.clone(),
        scopes: record.scopes,
        refresh_token,
        offline: record.offline,
    };
    Outcome::issued(state, grant, Some(record.user), extra)
}

/// The authenticated client's ID and the grant's parameter `name`, which
/// it must have.
fn client_and_param<'f>(
    state: &State,
    form: &'f HashMap<String, String>,
    headers: &HeaderMap,
    name: &str,
) -> Result<(String, &'f String), Box<Outcome>> {
    let client_id = authenticate_client(state, form, headers)?;
    let Some(value) = form.get(name) else {
        return Err(Box::new(
            Outcome::refuse(
                400,
                "invalid_request",
                &format!("Missing required parameter: {name}"),
            )
            .with(None, Some(&client_id)),
        ));
    };
    Ok((client_id, value))
}

/// The calling client's ID, from the form (`client_id`, `client_secret`) or
/// HTTP Basic (form-urlencoded ID and secret, RFC 6749 §2.3.1), checked
/// against the registered secret.
fn authenticate_client(
    state: &State,
    form: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<String, Box<Outcome>> {
    let (id, secret) = match basic_credentials(headers) {
        Some((id, secret)) => (Some(id), Some(secret)),
        None => (
            form.get("client_id").cloned(),
            form.get("client_secret").cloned(),
        ),
    };
    let Some(id) = id else {
        return Err(Box::new(Outcome::refuse(
            400,
            "invalid_request",
            "Could not determine client ID from request.",
        )));
    };
    let Some(client) = state.clients.get(&id) else {
        return Err(Box::new(
            Outcome::refuse(401, "invalid_client", "The OAuth client was not found.")
                .with(None, Some(&id)),
        ));
    };
    if secret.as_deref() != Some(client.secret.as_str()) {
        return Err(Box::new(
            Outcome::refuse(401, "invalid_client", "Unauthorized").with(None, Some(&id)),
        ));
    }
    Ok(id)
}
