//! What the OAuth endpoints read from a request: form and query
//! parameters, bearer and client credentials, requested scopes; and the
//! fault rules of the endpoints that have no user to match them on.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::faults::Endpoint;
use super::respond;
use super::state::Shared;
use super::types::{MAIL_GOOGLE_SCOPE, USERINFO_EMAIL_SCOPE, USERINFO_PROFILE_SCOPE};

/// Parses an `application/x-www-form-urlencoded` body or query (the first
/// value of a repeated name wins).
pub(crate) fn parse_form(bytes: &[u8]) -> HashMap<String, String> {
    let mut form = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(bytes) {
        form.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    form
}

/// The parameters of a request to tokeninfo or revoke: the form body's and
/// the query's (a name in both takes the query's value). Extracting them
/// also applies the fault rules ([`simple_fault`]) before the handler runs;
/// a fault that answers is the rejection.
pub(crate) struct Params(pub HashMap<String, String>);

impl FromRequest<Arc<Shared>> for Params {
    type Rejection = Response;

    async fn from_request(request: Request, shared: &Arc<Shared>) -> Result<Params, Response> {
        let query = request.uri().query().unwrap_or_default().to_owned();
        let body = Bytes::from_request(request, shared)
            .await
            .map_err(IntoResponse::into_response)?;
        let mut params = parse_form(&body);
        params.extend(parse_form(query.as_bytes()));
        match simple_fault(shared).await {
            Some(response) => Err(response),
            None => Ok(Params(params)),
        }
    }
}

/// Applies `Endpoint::Any` rules to the endpoints that have no user to
/// match on; `Some` when the fault answered.
pub(crate) async fn simple_fault(shared: &Shared) -> Option<Response> {
    let plan = shared.lock().faults.plan(Endpoint::Any, None);
    let due = plan.wait().await;
    if due.drop_after {
        return Some(respond::dropped());
    }
    due.fault
        .and_then(|fault| respond::fault_response(&fault, false))
}

/// `Authorization: Bearer TOKEN`.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// The access token of a request: `Authorization: Bearer …`, or the
/// `access_token` query or form parameter.
pub(crate) fn bearer_or_param(
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Option<String> {
    bearer_token(headers).or_else(|| params.get("access_token").cloned())
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))`.
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id), form_decode(secret)))
}

/// Decodes one `application/x-www-form-urlencoded` component.
fn form_decode(s: &str) -> String {
    url::form_urlencoded::parse(s.as_bytes())
        .next()
        .map(|(k, _)| k.into_owned())
        .unwrap_or_default()
}

/// Splits and checks a `scope` parameter (`email` and `profile` stand for
/// the userinfo scopes); `None` if it is empty or names an unknown scope.
pub(crate) fn requested_scopes(scope: Option<&str>) -> Option<Vec<String>> {
    let scopes: Vec<String> = scope
        .unwrap_or_default()
        .split_whitespace()
        .map(normalize_scope)
        .collect();
    if scopes.is_empty() || !scopes.iter().all(|s| is_known_scope(s)) {
        return None;
    }
    let mut unique = Vec::with_capacity(scopes.len());
    for scope in scopes {
        if !unique.contains(&scope) {
            unique.push(scope);
        }
    }
    Some(unique)
}

/// `email` and `profile` are short for the userinfo scopes.
fn normalize_scope(scope: &str) -> String {
    match scope {
        "email" => USERINFO_EMAIL_SCOPE.to_owned(),
        "profile" => USERINFO_PROFILE_SCOPE.to_owned(),
        other => other.to_owned(),
    }
}

/// Scopes Google knows: `openid`, `https://mail.google.com/` and the
/// `https://www.googleapis.com/auth/…` family.
fn is_known_scope(scope: &str) -> bool {
    scope == "openid"
        || scope == MAIL_GOOGLE_SCOPE
        || scope
            .strip_prefix("https://www.googleapis.com/auth/")
            .is_some_and(|rest| {
                !rest.is_empty()
                    && rest
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            })
}
