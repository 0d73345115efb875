//! The JWT bearer grant service accounts use: a signed assertion for the
//! account itself, or impersonating a domain user under domain-wide
//! delegation.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::outcome::{Outcome, invalid_scope};
use crate::google::ids::normalize_email;
use crate::google::keys::{self, Jwt};
use crate::google::request::requested_scopes;
use crate::google::state::{AccessRecordInit, ServiceAccountRecord, State};

/// Longest lifetime (`exp - iat`) of a JWT assertion.
const MAX_ASSERTION_LIFETIME: i64 = 3600;
/// Clock skew tolerated on `iat`.
const CLOCK_SKEW: i64 = 300;

/// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`.
pub(super) fn jwt_grant(
    state: &mut State,
    token_url: &str,
    form: &HashMap<String, String>,
) -> Outcome {
    let Some(assertion) = form.get("assertion") else {
        return Outcome::refuse(
            400,
            "invalid_request",
            "Missing required parameter: assertion",
        );
    };
    state.quirks.assertions.push(assertion.clone());
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
    let scopes = match check_assertion(&jwt, &account, token_url) {
        Ok(scopes) => scopes,
        Err(outcome) => return outcome.with(subject.as_deref(), client_id),
    };
    let token_subject = match &subject {
        None => issuer,
        Some(sub) => match check_delegation(state, &account, sub, &scopes) {
            Ok(()) => sub.clone(),
            Err(outcome) => return outcome.with(Some(sub), client_id),
        },
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

/// Checks the assertion's signature (RS256 with the account's key), its
/// audience (the token endpoint) and its times; returns the scopes it asks
/// for.
fn check_assertion(
    jwt: &Jwt,
    account: &ServiceAccountRecord,
    token_url: &str,
) -> Result<Vec<String>, Box<Outcome>> {
    let alg_ok = jwt.header.get("alg").and_then(Value::as_str) == Some("RS256");
    let kid_ok = jwt
        .header
        .get("kid")
        .and_then(Value::as_str)
        .is_none_or(|kid| kid == account.private_key_id);
    if !alg_ok || !kid_ok || !keys::primary().verifies(jwt.signing_input.as_bytes(), &jwt.signature)
    {
        return Err(Box::new(Outcome::refuse(
            400,
            "invalid_grant",
            "Invalid JWT Signature.",
        )));
    }
    if jwt.claim_str("aud") != Some(token_url) {
        return Err(Box::new(Outcome::refuse(
            400,
            "invalid_grant",
            &format!("Invalid JWT: Failed audience check. The right audience is {token_url}"),
        )));
    }
    let now = unix_now();
    let times_ok = match (jwt.claim_i64("iat"), jwt.claim_i64("exp")) {
        (Some(iat), Some(exp)) => {
            exp > now && iat <= now + CLOCK_SKEW && exp > iat && exp - iat <= MAX_ASSERTION_LIFETIME
        }
        _ => false,
    };
    if !times_ok {
        return Err(Box::new(Outcome::refuse(
            400,
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
        )));
    }
    requested_scopes(jwt.claim_str("scope")).ok_or_else(|| Box::new(invalid_scope()))
}

/// Whether the account may act as the user `sub`: a domain user, with
/// domain-wide delegation covering every scope asked for.
fn check_delegation(
    state: &State,
    account: &ServiceAccountRecord,
    sub: &str,
    scopes: &[String],
) -> Result<(), Box<Outcome>> {
    if !state.user(sub).is_some_and(|u| u.domain_user) {
        return Err(Box::new(Outcome::refuse(
            400,
            "invalid_grant",
            "Invalid email or User ID",
        )));
    }
    let delegated = state.delegations.get(&account.client_id);
    if !scopes
        .iter()
        .all(|s| delegated.is_some_and(|granted| granted.contains(s)))
    {
        return Err(Box::new(Outcome::refuse(
            401,
            "unauthorized_client",
            "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
        )));
    }
    Ok(())
}

/// Seconds since the epoch: assertions are signed with the real time.
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
