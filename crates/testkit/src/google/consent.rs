//! The authorization (consent) endpoint, `GET /o/oauth2/v2/auth`: it
//! consents as the browser's user and redirects back with a code, or shows
//! Google's error page.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{RawQuery, State as AxumState};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use url::Url;

use super::ids::random_token;
use super::request::{requested_scopes, simple_fault};
use super::respond;
use super::state::{CodeRecord, Shared, State};
use super::types::{AuthRequest, ClientKind};

/// `GET /o/oauth2/v2/auth`: consents as the current browser user and
/// redirects back with a code.
pub(crate) async fn authorize(
    AxumState(shared): AxumState<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Response {
    let params: BTreeMap<String, String> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    shared.lock().auth_requests.push(AuthRequest {
        params: params.clone(),
        at: SystemTime::now(),
    });
    if let Some(response) = simple_fault(&shared).await {
        return response;
    }
    consent(&mut shared.lock(), &params).unwrap_or_else(Refusal::page)
}

/// Checks the request and, if the client and its redirect URI are known,
/// redirects back: with a code, or with the error of a bad `response_type`.
fn consent(state: &mut State, params: &BTreeMap<String, String>) -> Result<Response, Refusal> {
    let param = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let (client_id, redirect_uri, mut location) = redirect_target(state, &param)?;
    let state_param = params.get("state").cloned();
    if param("response_type") != Some("code") {
        let mut pairs = location.query_pairs_mut();
        pairs.append_pair("error", "unsupported_response_type");
        if let Some(s) = &state_param {
            pairs.append_pair("state", s);
        }
        drop(pairs);
        return Ok(redirect(&location));
    }
    let ask = read_ask(&param)?;
    let Some(user) = state.consenting_user.clone() else {
        return Err(Refusal::new(
            "access_denied",
            "No Google account is signed in to the browser (FakeGoogle::set_consenting_user).",
        ));
    };
    let consent_prompted =
        param("prompt").is_some_and(|p| p.split_whitespace().any(|p| p == "consent"));
    let already_offline = state
        .offline_grants
        .contains(&(client_id.to_owned(), user.clone()));
    let scope = ask.scopes.join(" ");
    let code = format!("4/0{}", random_token(70));
    state.codes.insert(
        code.clone(),
        CodeRecord {
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            user,
            scopes: ask.scopes,
            challenge: ask.challenge,
            offline: ask.offline,
            issue_refresh_token: ask.offline && (consent_prompted || !already_offline),
            issued: state.now(),
        },
    );
    {
        let mut pairs = location.query_pairs_mut();
        if let Some(s) = &state_param {
            pairs.append_pair("state", s);
        }
        pairs.append_pair("code", &code);
        pairs.append_pair("scope", &scope);
        pairs.append_pair("authuser", "0");
        pairs.append_pair("prompt", "consent");
    }
    Ok(redirect(&location))
}

/// The client ID, the redirect URI and the URL to redirect to, once the
/// client is known and the URI is one it may use; else the error page.
fn redirect_target<'a>(
    state: &State,
    param: &impl Fn(&str) -> Option<&'a str>,
) -> Result<(&'a str, &'a str, Url), Refusal> {
    let Some(client_id) = param("client_id") else {
        return Err(Refusal::new(
            "invalid_request",
            "Missing required parameter: client_id",
        ));
    };
    let Some(client) = state.clients.get(client_id) else {
        return Err(Refusal::new(
            "invalid_client",
            "The OAuth client was not found.",
        ));
    };
    let Some(redirect_uri) = param("redirect_uri") else {
        return Err(Refusal::new(
            "invalid_request",
            "Missing required parameter: redirect_uri",
        ));
    };
    let redirect_ok = match &client.kind {
        ClientKind::Installed => is_loopback_uri(redirect_uri),
        ClientKind::Web { redirect_uris } => redirect_uris.iter().any(|u| u == redirect_uri),
    };
    let Some(location) = Url::parse(redirect_uri).ok().filter(|_| redirect_ok) else {
        return Err(Refusal::new(
            "redirect_uri_mismatch",
            format!(
                "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. redirect_uri={redirect_uri}"
            ),
        ));
    };
    Ok((client_id, redirect_uri, location))
}

/// What a code request asks for.
struct Ask {
    scopes: Vec<String>,
    /// `(code_challenge, method)` when PKCE is used.
    challenge: Option<(String, String)>,
    /// `access_type=offline`.
    offline: bool,
}

/// Reads the scopes, the PKCE challenge and the access type; else the error
/// page.
fn read_ask<'a>(param: &impl Fn(&str) -> Option<&'a str>) -> Result<Ask, Refusal> {
    let Some(scope) = param("scope") else {
        return Err(Refusal::new(
            "invalid_request",
            "Missing required parameter: scope",
        ));
    };
    let Some(scopes) = requested_scopes(Some(scope)) else {
        return Err(Refusal::new(
            "invalid_scope",
            format!("Some requested scopes were invalid: {scope}"),
        ));
    };
    let challenge = match (param("code_challenge"), param("code_challenge_method")) {
        (None, None) => None,
        (Some(challenge), method) => {
            let method = method.unwrap_or("plain");
            if method != "S256" && method != "plain" {
                return Err(Refusal::new(
                    "invalid_request",
                    "Invalid code_challenge_method value.",
                ));
            }
            Some((challenge.to_owned(), method.to_owned()))
        }
        (None, Some(_)) => {
            return Err(Refusal::new(
                "invalid_request",
                "Missing required parameter: code_challenge",
            ));
        }
    };
    let offline = match param("access_type") {
        None | Some("online") => false,
        Some("offline") => true,
        Some(other) => {
            return Err(Refusal::new(
                "invalid_request",
                format!("Invalid access_type: {other}"),
            ));
        }
    };
    Ok(Ask {
        scopes,
        challenge,
        offline,
    })
}

/// A request refused with the consent screen's error page (400).
struct Refusal {
    error: &'static str,
    details: String,
}

impl Refusal {
    fn new(error: &'static str, details: impl Into<String>) -> Refusal {
        Refusal {
            error,
            details: details.into(),
        }
    }

    fn page(self) -> Response {
        error_page(400, self.error, &self.details)
    }
}

/// Installed apps may redirect to any loopback address over http.
fn is_loopback_uri(uri: &str) -> bool {
    let Ok(url) = Url::parse(uri) else {
        return false;
    };
    url.scheme() == "http"
        && matches!(
            url.host_str(),
            Some("127.0.0.1") | Some("localhost") | Some("[::1]")
        )
}

/// `302 Found` to `location`.
fn redirect(location: &Url) -> Response {
    let mut response = respond::html(302, String::new());
    if let Ok(value) = HeaderValue::from_str(location.as_str()) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// The consent screen's error page.
fn error_page(status: u16, error: &str, details: &str) -> Response {
    let details = details
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    respond::html(
        status,
        format!(
            "<!doctype html><html><head><title>Error {status} ({error})</title></head><body>\
             <h1>Access blocked: Authorization Error</h1><p>Error {status}: {error}</p>\
             <p>{details}</p><p>Request details: error={error}</p></body></html>"
        ),
    )
}
