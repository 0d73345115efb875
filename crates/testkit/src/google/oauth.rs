//! Google's OAuth 2.0 endpoints: `/token` (JWT bearer, refresh token and
//! authorization code grants), the consent endpoint `/o/oauth2/v2/auth`,
//! userinfo, tokeninfo and `/revoke`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{RawQuery, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

use super::faults::{Endpoint, Fault};
use super::keys::{self, Jwt};
use super::respond::{self, Dropped};
use super::state::{
    AccessRecordInit, AuthRequest, ClientKind, CodeRecord, Shared, State, TokenGrant, TokenProblem,
    USERINFO_EMAIL_SCOPE, USERINFO_PROFILE_SCOPE, normalize_email, random_token,
};

/// The JWT bearer grant type service accounts use.
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Longest lifetime (`exp - iat`) of a JWT assertion.
const MAX_ASSERTION_LIFETIME: i64 = 3600;
/// Clock skew tolerated on `iat`.
const CLOCK_SKEW: i64 = 300;

type SharedState = AxumState<Arc<Shared>>;

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

    fn with(mut self, subject: Option<&str>, client_id: Option<&str>) -> Outcome {
        self.subject = self.subject.or(subject.map(str::to_owned));
        self.client_id = self.client_id.or(client_id.map(str::to_owned));
        self
    }
}

/// `POST /token`.
pub(crate) async fn token(
    AxumState(shared): SharedState,
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
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    let mut drop_after = false;
    match plan.fault {
        Some(Fault::DropConnection) => drop_after = true,
        Some(fault) => {
            if let Some(response) = respond::fault_response(&fault, true) {
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
        }
        None => {}
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
    let response = if drop_after {
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
    let (access_token, lifetime) = state.issue_access_token(AccessRecordInit {
        client_id: account.client_id.clone(),
        subject: token_subject,
        scopes,
        refresh_token: None,
        offline: false,
    });
    Outcome {
        response: respond::json(
            200,
            &json!({
                "access_token": access_token,
                "expires_in": lifetime.as_secs(),
                "token_type": "Bearer",
            }),
        ),
        subject,
        client_id: Some(account.client_id),
        error: None,
    }
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
    let (access_token, lifetime) = state.issue_access_token(AccessRecordInit {
        client_id: client_id.clone(),
        subject: record.user.clone(),
        scopes: scopes.clone(),
        refresh_token: Some(refresh_token.clone()),
        offline: true,
    });
    Outcome {
        response: respond::json(
            200,
            &json!({
                "access_token": access_token,
                "expires_in": lifetime.as_secs(),
                "scope": scopes.join(" "),
                "token_type": "Bearer",
            }),
        ),
        subject: Some(record.user),
        client_id: Some(client_id),
        error: None,
    }
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
        Some(r) if r.client_id == client_id && r.issued.elapsed() < super::state::CODE_LIFETIME => {
            r
        }
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
    let (access_token, lifetime) = state.issue_access_token(AccessRecordInit {
        client_id: client_id.clone(),
        subject: record.user.clone(),
        scopes: record.scopes.clone(),
        refresh_token: refresh_token.clone(),
        offline: record.offline,
    });
    let mut body = json!({
        "access_token": access_token,
        "expires_in": lifetime.as_secs(),
        "scope": record.scopes.join(" "),
        "token_type": "Bearer",
    });
    if let Some(refresh_token) = refresh_token {
        body["refresh_token"] = json!(refresh_token);
    }
    Outcome {
        response: respond::json(200, &body),
        subject: Some(record.user),
        client_id: Some(client_id),
        error: None,
    }
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

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))`.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
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
fn requested_scopes(scope: Option<&str>) -> Option<Vec<String>> {
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

/// The token endpoint's answer to a missing or unknown scope.
fn invalid_scope() -> Outcome {
    Outcome::refuse(
        400,
        "invalid_scope",
        "Invalid OAuth scope or ID token audience provided.",
    )
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
        || scope == super::state::MAIL_GOOGLE_SCOPE
        || scope
            .strip_prefix("https://www.googleapis.com/auth/")
            .is_some_and(|rest| {
                !rest.is_empty()
                    && rest
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            })
}

/// `GET /o/oauth2/v2/auth`: consents as the current browser user and
/// redirects back with a code.
pub(crate) async fn authorize(
    AxumState(shared): SharedState,
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
    if let Some(response) = apply_simple_faults(&shared).await {
        return response;
    }

    let mut state = shared.lock();
    let param = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };

    let Some(client_id) = param("client_id") else {
        return error_page(
            400,
            "invalid_request",
            "Missing required parameter: client_id",
        );
    };
    let Some(client) = state.clients.get(client_id).cloned() else {
        return error_page(400, "invalid_client", "The OAuth client was not found.");
    };
    let Some(redirect_uri) = param("redirect_uri") else {
        return error_page(
            400,
            "invalid_request",
            "Missing required parameter: redirect_uri",
        );
    };
    let redirect_ok = match &client.kind {
        ClientKind::Installed => is_loopback_uri(redirect_uri),
        ClientKind::Web { redirect_uris } => redirect_uris.iter().any(|u| u == redirect_uri),
    };
    let Some(mut location) = Url::parse(redirect_uri).ok().filter(|_| redirect_ok) else {
        return error_page(
            400,
            "redirect_uri_mismatch",
            &format!(
                "You can't sign in to this app because it doesn't comply with Google's OAuth 2.0 policy. redirect_uri={redirect_uri}"
            ),
        );
    };
    let state_param = params.get("state").cloned();
    if param("response_type") != Some("code") {
        let mut pairs = location.query_pairs_mut();
        pairs.append_pair("error", "unsupported_response_type");
        if let Some(s) = &state_param {
            pairs.append_pair("state", s);
        }
        drop(pairs);
        return redirect(&location);
    }
    let Some(scope) = param("scope") else {
        return error_page(400, "invalid_request", "Missing required parameter: scope");
    };
    let Some(scopes) = requested_scopes(Some(scope)) else {
        return error_page(
            400,
            "invalid_scope",
            &format!("Some requested scopes were invalid: {scope}"),
        );
    };
    let challenge = match (param("code_challenge"), param("code_challenge_method")) {
        (None, None) => None,
        (Some(challenge), method) => {
            let method = method.unwrap_or("plain");
            if method != "S256" && method != "plain" {
                return error_page(
                    400,
                    "invalid_request",
                    "Invalid code_challenge_method value.",
                );
            }
            Some((challenge.to_owned(), method.to_owned()))
        }
        (None, Some(_)) => {
            return error_page(
                400,
                "invalid_request",
                "Missing required parameter: code_challenge",
            );
        }
    };
    let offline = match param("access_type") {
        None | Some("online") => false,
        Some("offline") => true,
        Some(other) => {
            return error_page(
                400,
                "invalid_request",
                &format!("Invalid access_type: {other}"),
            );
        }
    };
    let Some(user) = state.consenting_user.clone() else {
        return error_page(
            400,
            "access_denied",
            "No Google account is signed in to the browser (FakeGoogle::set_consenting_user).",
        );
    };
    let consent_prompted =
        param("prompt").is_some_and(|p| p.split_whitespace().any(|p| p == "consent"));
    let already_offline = state
        .offline_grants
        .contains(&(client_id.to_owned(), user.clone()));
    let code = format!("4/0{}", random_token(70));
    state.codes.insert(
        code.clone(),
        CodeRecord {
            client_id: client_id.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            user,
            scopes: scopes.clone(),
            challenge,
            offline,
            issue_refresh_token: offline && (consent_prompted || !already_offline),
            issued: std::time::Instant::now(),
        },
    );
    {
        let mut pairs = location.query_pairs_mut();
        if let Some(s) = &state_param {
            pairs.append_pair("state", s);
        }
        pairs.append_pair("code", &code);
        pairs.append_pair("scope", &scopes.join(" "));
        pairs.append_pair("authuser", "0");
        pairs.append_pair("prompt", "consent");
    }
    redirect(&location)
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

/// The access token of a request: `Authorization: Bearer …`, or the
/// `access_token` query or form parameter.
fn bearer_or_param(headers: &HeaderMap, params: &HashMap<String, String>) -> Option<String> {
    bearer_token(headers).or_else(|| params.get("access_token").cloned())
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

/// `GET /oauth2/v3/userinfo` and `GET /v1/userinfo`.
pub(crate) async fn userinfo(
    AxumState(shared): SharedState,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let params = parse_form(query.unwrap_or_default().as_bytes());
    if let Some(response) = apply_simple_faults(&shared).await {
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
        body["email_verified"] = json!(true);
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
pub(crate) async fn tokeninfo(
    AxumState(shared): SharedState,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let mut params = parse_form(&body);
    params.extend(parse_form(query.unwrap_or_default().as_bytes()));
    if let Some(response) = apply_simple_faults(&shared).await {
        return response;
    }
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
        .duration_since(SystemTime::now())
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
            body["email_verified"] = json!("true");
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
pub(crate) async fn revoke(
    AxumState(shared): SharedState,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let mut params = parse_form(&body);
    params.extend(parse_form(query.unwrap_or_default().as_bytes()));
    if let Some(response) = apply_simple_faults(&shared).await {
        return response;
    }
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

/// Applies `Endpoint::Any` rules to the endpoints that have no user to
/// match on; `Some` when the fault answered.
async fn apply_simple_faults(shared: &Shared) -> Option<Response> {
    let plan = shared.lock().faults.plan(Endpoint::Any, None);
    if !plan.delay.is_zero() {
        tokio::time::sleep(plan.delay).await;
    }
    match plan.fault {
        Some(Fault::DropConnection) => Some(respond::dropped()),
        Some(fault) => respond::fault_response(&fault, false),
        None => None,
    }
}

/// Parses an `application/x-www-form-urlencoded` body or query (the first
/// value of a repeated name wins).
pub(crate) fn parse_form(bytes: &[u8]) -> HashMap<String, String> {
    let mut form = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(bytes) {
        form.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    form
}

/// Seconds since the epoch.
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
