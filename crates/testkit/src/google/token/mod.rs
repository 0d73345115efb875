//! The token endpoint, `POST /token`, and its grants: JWT bearer (service
//! accounts), refresh token and authorization code.
//!
//! * `mod.rs`: the endpoint: faults, the grant log, which grant runs.
//! * `outcome.rs`: what a request came to, and how it is refused or answered.
//! * `jwt.rs`: the JWT bearer grant of service accounts, with delegation.
//! * `client.rs`: OAuth clients' grants (refresh token, code) and their authentication.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::HeaderMap;
use axum::response::Response;

use super::faults::{Endpoint, Fault};
use super::ids::normalize_email;
use super::keys::Jwt;
use super::request::parse_form;
use super::respond::{self, Dropped};
use super::state::{Shared, State};
use super::types::TokenGrant;

mod client;
mod jwt;
mod outcome;

use client::client_grant;
use jwt::jwt_grant;
use outcome::Outcome;

/// The JWT bearer grant type service accounts use.
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// `POST /token`.
pub(crate) async fn token(
    AxumState(shared): AxumState<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let at = SystemTime::now();
    let form = parse_form(&body);
    let grant_type = form.get("grant_type").cloned().unwrap_or_default();
    let (user, plan) = {
        let mut state = shared.lock();
        let user = request_user(&state, &grant_type, &form);
        let plan = state.faults.plan(Endpoint::Token, user.as_deref());
        (user, plan)
    };
    let due = plan.wait().await;
    if let Some(fault) = due.fault
        && let Some(response) = respond::fault_response(&fault, true)
    {
        let error = match &fault {
            Fault::Status { reason, .. } => Some(reason.clone()),
            _ => None,
        };
        shared.lock().grants.push(TokenGrant {
            grant_type,
            subject: user,
            client_id: form.get("client_id").cloned(),
            ok: false,
            status: answered_status(&response),
            error,
            at,
        });
        return response;
    }

    let token_url = shared.token_url();
    let mut state = shared.lock();
    let outcome = match grant_type.as_str() {
        JWT_BEARER => jwt_grant(&mut state, &token_url, &form),
        "refresh_token" | "authorization_code" => {
            client_grant(&mut state, &grant_type, &form, &headers)
        }
        other => Outcome::refuse(
            400,
            "unsupported_grant_type",
            &format!("Invalid grant_type: {other}"),
        ),
    };
    let response = if due.drop_after {
        respond::dropped()
    } else {
        outcome.response
    };
    state.grants.push(TokenGrant {
        grant_type,
        subject: outcome.subject,
        client_id: outcome.client_id,
        ok: outcome.error.is_none(),
        status: answered_status(&response),
        error: outcome.error,
        at,
    });
    response
}

/// The status a client sees; `None` for a dropped connection.
fn answered_status(response: &Response) -> Option<u16> {
    if response.extensions().get::<Dropped>().is_some() {
        None
    } else {
        Some(response.status().as_u16())
    }
}

/// Whose token a token request asks for, read without validating anything
/// (for fault rules and the log).
fn request_user(state: &State, grant_type: &str, form: &HashMap<String, String>) -> Option<String> {
    match grant_type {
        JWT_BEARER => {
            let jwt = Jwt::parse(form.get("assertion")?)?;
            jwt.claim_str("sub").map(normalize_email)
        }
        "refresh_token" => state
            .refresh_tokens
            .get(form.get("refresh_token")?)
            .map(|r| r.user.clone()),
        "authorization_code" => state.codes.get(form.get("code")?).map(|c| c.user.clone()),
        _ => None,
    }
}
