//! The token endpoint, `POST /token`, and its grants: JWT bearer (service
//! accounts), refresh token and authorization code.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::HeaderMap;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::faults::{Endpoint, Fault};
use super::keys::{self, Jwt};
use super::request::{basic_credentials, parse_form, requested_scopes};
use super::respond::{self, Dropped};
use super::state::{AccessRecordInit, CODE_LIFETIME, Shared, State, normalize_email};
use super::types::TokenGrant;

/// The JWT bearer grant type service accounts use.
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Longest lifetime (`exp - iat`) of a JWT assertion.
const MAX_ASSERTION_LIFETIME: i64 = 3600;
/// Clock skew tolerated on `iat`.
const CLOCK_SKEW: i64 = 300;

/// The result of one token request, before faults and logging.
struct Outcome {
    response: Response,
    subject: Option<String>,
    client_id: Option<String>,
    error: Option<String>,
}

impl Outcome {
    fn refuse(status: u16, error: &str, description: &str) -> Outcome {
        Outcome {
            response: respond::oauth_error(status, error, description),
            subject: None,
            client_id: None,
            error: Some(error.to_owned()),
        }
    }

    /// Issues an access token for `grant` and answers `200` with
    /// `access_token`, `expires_in`, `token_type` and the `extra` fields
    /// (`scope`, `refresh_token`); logged as a grant for `subject`.
    fn issued(
        state: &mut State,
        grant: AccessRecordInit,
        subject: Option<String>,
        extra: Value,
    ) -> Outcome {
        let client_id = grant.client_id.clone();
        let (access_token, lifetime) = state.issue_access_token(grant);
        let mut body = json!({
            "access_token": access_token,
            "expires_in": lifetime.as_secs(),
            "token_type": "Bearer",
        });
        if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
            body.extend(extra);
        }
        Outcome {
            response: respond::json(200, &body),
            subject,
            client_id: Some(client_id),
            error: None,
        }
    }

    fn with(mut self, subject: Option<&str>, client_id: Option<&str>) -> Outcome {
        self.subject = self.subject.or(subject.map(str::to_owned));
        self.client_id = self.client_id.or(client_id.map(str::to_owned));
        self
    }
}

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
        "refresh_token" => refresh_grant(&mut state, &form, &headers),
        "authorization_code" => code_grant(&mut state, &form, &headers),
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

/// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`.
fn jwt_grant(state: &mut State, token_url: &str, form: &HashMap<String, String>) -> Outcome {
    let Some(assertion) = form.get("assertion") else {
        return Outcome::refuse(
            400,
            "invalid_request",
            "Missing required parameter: assertion",
        );
    };
    let Some(jwt) = Jwt::parse(assertion) else {
        return Outcome::refuse(400, "invalid_grant", "Invalid JWT Signature.");
    };
    let subject = jwt.claim_str("sub").map(normalize_email);
    let Some(issuer) = jwt.claim_str("iss").map(normalize_email) else {
        return Outcome::refuse(400, "invalid_request", "Invalid JWT: missing iss claim.");
    };
    let Some(account) = state.service_accounts.get(&issuer).cloned() else {
        return Outcome::refuse(400, "invalid_grant", "Invalid grant: account not found")
            .with(subject.as_deref(), None);
    };
    let client_id = Some(account.client_id.as_str());
    let alg_ok = jwt.header.get("alg").and_then(Value::as_str) == Some("RS256");
    let kid_ok = jwt
        .header
        .get("kid")
        .and_then(Value::as_str)
        .is_none_or(|kid| kid == account.private_key_id);
    if !alg_ok || !kid_ok || !keys::primary().verifies(jwt.signing_input.as_bytes(), &jwt.signature)
    {
        return Outcome::refuse(400, "invalid_grant", "Invalid JWT Signature.")
            .with(subject.as_deref(), client_id);
    }
    if jwt.claim_str("aud") != Some(token_url) {
        return Outcome::refuse(
            400,
            "invalid_grant",
            &format!("Invalid JWT: Failed audience check. The right audience is {token_url}"),
        )
        .with(subject.as_deref(), client_id);
    }
    let now = unix_now();
    let times_ok = match (jwt.claim_i64("iat"), jwt.claim_i64("exp")) {
        (Some(iat), Some(exp)) => {
            exp > now && iat <= now + CLOCK_SKEW && exp > iat && exp - iat <= MAX_ASSERTION_LIFETIME
        }
        _ => false,
    };
    if !times_ok {
        return Outcome::refuse(
            400,
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        )
        .with(subject.as_deref(), client_id);
    }
    let Some(scopes) = requested_scopes(jwt.claim_str("scope")) else {
        return invalid_scope().with(subject.as_deref(), client_id);
    };

    let token_subject = match &subject {
        None => issuer.clone(),
        Some(sub) => {
            if !state.user(sub).is_some_and(|u| u.domain_user) {
                return Outcome::refuse(400, "invalid_grant", "Invalid email or User ID")
                    .with(Some(sub), client_id);
            }
            let delegated = state.delegations.get(&account.client_id);
            if !scopes
                .iter()
                .all(|s| delegated.is_some_and(|granted| granted.contains(s)))
            {
                return Outcome::refuse(
                    401,
                    "unauthorized_client",
                    "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
                )
                .with(Some(sub), client_id);
            }
            sub.clone()
        }
    };
    let grant = AccessRecordInit {
        client_id: account.client_id,
        subject: token_subject,
        scopes,
        refresh_token: None,
        offline: false,
    };
    Outcome::issued(state, grant, subject, json!({}))
}

/// `grant_type=refresh_token`.
fn refresh_grant(
    state: &mut State,
    form: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Outcome {
    let client_id = match authenticate_client(state, form, headers) {
        Ok(id) => id,
        Err(outcome) => return *outcome,
    };
    let Some(refresh_token) = form.get("refresh_token") else {
        return Outcome::refuse(
            400,
            "invalid_request",
            "Missing required parameter: refresh_token",
        )
        .with(None, Some(&client_id));
    };
    let record = match state.refresh_tokens.get(refresh_token) {
        Some(r) if !r.revoked && r.client_id == client_id => r.clone(),
        other => {
            return Outcome::refuse(400, "invalid_grant", "Token has been expired or revoked.")
                .with(other.map(|r| r.user.as_str()), Some(&client_id));
        }
    };
    let scopes = match form.get("scope") {
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
        refresh_token: Some(refresh_token.clone()),
        offline: true,
    };
    Outcome::issued(state, grant, Some(record.user), extra)
}

/// `grant_type=authorization_code`.
fn code_grant(state: &mut State, form: &HashMap<String, String>, headers: &HeaderMap) -> Outcome {
    let client_id = match authenticate_client(state, form, headers) {
        Ok(id) => id,
        Err(outcome) => return *outcome,
    };
    let Some(code) = form.get("code") else {
        return Outcome::refuse(400, "invalid_request", "Missing required parameter: code")
            .with(None, Some(&client_id));
    };
    // A code is single-use: it is gone after this request, whatever the outcome.
    let record = match state.codes.remove(code) {
        Some(r) if r.client_id == client_id && r.issued.elapsed() < CODE_LIFETIME => r,
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
    let mut extra = json!({ "scope": record.scopes.join(" ") });
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

/// The token endpoint's answer to a missing or unknown scope.
fn invalid_scope() -> Outcome {
    Outcome::refuse(
        400,
        "invalid_scope",
        "Invalid OAuth scope or ID token audience provided.",
    )
}

/// Seconds since the epoch.
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
