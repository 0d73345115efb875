//! What a token tells about its account, and taking it back: userinfo,
//! tokeninfo and `/revoke`.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use axum::extract::{RawQuery, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use serde_json::json;

use super::quirks::verified;
use super::request::{Params, bearer_or_param, parse_form, simple_fault};
use super::respond;
use super::state::{Shared, TokenProblem};
use super::types::{USERINFO_EMAIL_SCOPE, USERINFO_PROFILE_SCOPE};

type SharedState = AxumState<Arc<Shared>>;

/// `GET /oauth2/v3/userinfo` and `GET /v1/userinfo`.
pub(crate) async fn userinfo(
    AxumState(shared): SharedState,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = parse_form(query.unwrap_or_default().as_bytes());
    if let Some(response) = simple_fault(&shared).await {
        return response;
    }
    let state = shared.lock();
    let record = bearer_or_param(&headers, &params)
        .ok_or(TokenProblem::Unknown)
        .and_then(|t| state.valid_access_token(&t).cloned());
    let record = match record {
        Ok(record) => record,
        Err(_) => {
            let mut response = respond::oauth_error(401, "invalid_request", "Invalid Credentials");
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
                ),
            );
            return response;
        }
    };
    let Some(user) = state.user(&record.subject) else {
        return respond::oauth_error(401, "invalid_request", "Invalid Credentials");
    };
    let has = |scope: &str| record.scopes.iter().any(|s| s == scope);
    if !has("openid") && !has(USERINFO_EMAIL_SCOPE) && !has(USERINFO_PROFILE_SCOPE) {
        return respond::oauth_error(403, "insufficient_scope", "Insufficient Permission");
    }
    let mut body = json!({ "sub": user.sub });
    if has(USERINFO_PROFILE_SCOPE) {
        let (name, given) = display_name(&user.email);
        body["name"] = json!(name);
        body["given_name"] = json!(given);
        body["picture"] = json!(format!(
            "https://lh3.googleusercontent.com/a/{}=s96-c",
            user.sub
        ));
    }
    if has(USERINFO_EMAIL_SCOPE) {
        body["email"] = json!(user.email);
        body["email_verified"] = json!(verified(&state.quirks, &user.email));
        if user.domain_user
            && let Some((_, domain)) = user.email.split_once('@')
        {
            body["hd"] = json!(domain);
        }
    }
    respond::json(200, &body)
}

/// A display name and given name made from the address's local part:
/// `jane.doe@…` → ("Jane Doe", "Jane").
fn display_name(email: &str) -> (String, String) {
    let local = email.split('@').next().unwrap_or(email);
    let words: Vec<String> = local
        .split(['.', '_', '-', '+'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        })
        .collect();
    let given = words.first().cloned().unwrap_or_default();
    (words.join(" "), given)
}

/// `GET|POST /oauth2/v3/tokeninfo?access_token=…`.
pub(crate) async fn tokeninfo(AxumState(shared): SharedState, Params(params): Params) -> Response {
    let state = shared.lock();
    let Some(record) = params
        .get("access_token")
        .and_then(|t| state.valid_access_token(t).ok())
    else {
        return respond::oauth_error(400, "invalid_token", "Invalid Value");
    };
    let expires_at = record
        .expires_at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let expires_in = record
        .expires_at
        .duration_since(state.system_now())
        .unwrap_or(Duration::ZERO)
        .as_secs();
    // Google answers the numbers and the boolean as strings here.
    let mut body = json!({
        "azp": record.client_id,
        "aud": record.client_id,
        "scope": record.scopes.join(" "),
        "exp": expires_at.to_string(),
        "expires_in": expires_in.to_string(),
        "access_type": if record.offline { "offline" } else { "online" },
    });
    let has_email_scope = record.scopes.iter().any(|s| s == USERINFO_EMAIL_SCOPE);
    if let Some(user) = state.user(&record.subject) {
        body["sub"] = json!(user.sub);
        if has_email_scope {
            body["email"] = json!(user.email);
            body["email_verified"] = json!(verified(&state.quirks, &user.email).to_string());
        }
    } else if let Some(account) = state.service_accounts.get(&record.subject) {
        // A service account acting as itself.
        body["sub"] = json!(account.client_id);
        if has_email_scope {
            body["email"] = json!(record.subject);
            body["email_verified"] = json!("true");
        }
    }
    respond::json(200, &body)
}

/// `POST /revoke?token=…` (or `token` in the form body).
pub(crate) async fn revoke(AxumState(shared): SharedState, Params(params): Params) -> Response {
    let mut state = shared.lock();
    let Some(token) = params.get("token") else {
        return respond::oauth_error(400, "invalid_request", "Missing required parameter: token");
    };
    if state.refresh_tokens.get(token).is_some_and(|r| !r.revoked) {
        state.revoke_refresh_token(token);
        return respond::json(200, &json!({}));
    }
    match state
        .valid_access_token(token)
        .map(|r| r.refresh_token.clone())
    {
        Ok(parent) => {
            if let Some(record) = state.access_tokens.get_mut(token) {
                record.revoked = true;
            }
            // Revoking an access token also revokes the refresh token it
            // came from (and so its siblings).
            if let Some(parent) = parent {
                state.revoke_refresh_token(&parent);
            }
            respond::json(200, &json!({}))
        }
        Err(_) => respond::oauth_error(400, "invalid_token", "Token expired or revoked"),
    }
}
