//! Enrolling senders for `[credentials] kind = "authorized_user"`: the OAuth authorization
//! code flow with PKCE, shared by `mailroom auth login` (a loopback redirect) and the web flow
//! served by the worker's HTTP listener ([`routes`]).
//!
//! An enrollment asks Google for `openid`, the userinfo scopes and `gmail.send` with
//! `access_type=offline` and `prompt=consent` (so a refresh token comes back every time),
//! exchanges the code at `[google] token_url`, learns the account's address from
//! `[google] userinfo_url`, checks it against `[jobs] allowed_senders`, stores the refresh
//! token encrypted in Redis and lifts the sender's quarantine.
//!
//! The web flow has two routes: `GET /oauth2/start`, guarded by the admin bearer token of
//! `[credentials] admin_token_file`, redirects to Google; `GET /oauth2/callback` finishes.
//! The `state` and the PKCE verifier wait in Redis (`{queue}:oauth:state:<state>`, encrypted,
//! ten minutes, single use), so any replica can finish a flow another one started.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use mailroom_jobs::{Address, Policy, SenderAllowlist};
use mailroom_queue::Queue;
use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::config::{Config, GoogleSection};
use crate::credentials::{
    ClientSecrets, CredentialError, GMAIL_SEND_SCOPE, Sealed, TokenKeys, TokenStore,
    classify_token_error,
};
use crate::google_http::{StatusRecorder, build_http_client, error_chain};

/// `https://www.googleapis.com/auth/userinfo.email`.
pub const USERINFO_EMAIL_SCOPE: &str = "https://www.googleapis.com/auth/userinfo.email";
/// `https://www.googleapis.com/auth/userinfo.profile`.
pub const USERINFO_PROFILE_SCOPE: &str = "https://www.googleapis.com/auth/userinfo.profile";

/// The scopes an enrollment asks for: who the account is, and sending mail.
pub const LOGIN_SCOPES: [&str; 4] = [
    "openid",
    USERINFO_EMAIL_SCOPE,
    USERINFO_PROFILE_SCOPE,
    GMAIL_SEND_SCOPE,
];

/// How long a web flow may take between `/oauth2/start` and `/oauth2/callback`.
pub const STATE_TTL: Duration = Duration::from_secs(600);

/// The path Google redirects to in the web flow, below `[credentials] public_url`.
pub const CALLBACK_PATH: &str = "/oauth2/callback";

/// Why an enrollment failed. Messages never contain a code or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnrollError {
    /// A configured URL is unusable.
    #[error("{key}: {message}")]
    Config {
        /// The config key.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Google refused the sign-in (`error=` on the redirect), e.g. `access_denied`.
    #[error("Google refused the sign-in: {0}")]
    Denied(String),
    /// The code could not be exchanged for tokens.
    #[error("exchanging the authorization code failed: {0}")]
    Exchange(CredentialError),
    /// Google answered without a refresh token.
    #[error(
        "Google returned no refresh token; remove the app's access at \
         https://myaccount.google.com/permissions and sign in again"
    )]
    NoRefreshToken,
    /// The account did not grant the Gmail send scope.
    #[error(
        "the account did not allow sending mail (scope {GMAIL_SEND_SCOPE}); sign in again and \
         allow \"Send email on your behalf\""
    )]
    ScopeNotGranted,
    /// The account's address could not be read.
    #[error("reading the account's address from the userinfo endpoint failed: {0}")]
    Userinfo(String),
    /// The account is not an allowed sender.
    #[error(
        "{0} is not in [jobs] allowed_senders; add it there (or pass --force to store it anyway)"
    )]
    NotAllowed(String),
    /// Redis failed while storing the token.
    #[error("storing the token failed: {0}")]
    Store(String),
}

/// An authorization request to send the browser to, and what finishing it needs.
pub struct Authorization {
    /// Google's consent URL.
    pub url: url::Url,
    /// The `state` parameter the redirect must carry back.
    pub state: SecretString,
    /// The PKCE verifier for the code exchange.
    pub verifier: PkceCodeVerifier,
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("url", &self.url.as_str())
            .finish_non_exhaustive()
    }
}

/// A finished enrollment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    /// The account's address (lower case), now an enrolled sender.
    pub email: String,
    /// True when the sender was quarantined and no longer is.
    pub released: bool,
    /// Why the quarantine could not be lifted, if it could not (the token is stored).
    pub release_error: Option<String>,
}

type FlowClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

struct EnrollerInner {
    store: TokenStore,
    secrets: ClientSecrets,
    auth_url: AuthUrl,
    token_url: TokenUrl,
    userinfo_url: String,
    revoke_url: String,
    http: reqwest::Client,
    allowlist: Option<SenderAllowlist>,
}

/// Runs the authorization code flow for one OAuth client and stores the resulting tokens.
/// Cheap to clone.
#[derive(Clone)]
pub struct Enroller {
    inner: Arc<EnrollerInner>,
}

impl fmt::Debug for Enroller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Enroller")
            .field("client_id", &self.inner.secrets.client_id)
            .field("auth_url", &self.inner.auth_url.as_str())
            .finish_non_exhaustive()
    }
}

impl Enroller {
    /// An enroller for the client `secrets` using the `google` endpoints (the configured ones
    /// win over those of the client file), storing into `store` (which needs a keyring) and
    /// admitting the senders `policy` allows.
    ///
    /// # Errors
    /// [`EnrollError::Config`] for an unusable endpoint URL.
    pub fn new(
        store: TokenStore,
        secrets: ClientSecrets,
        google: &GoogleSection,
        policy: &Policy,
    ) -> Result<Self, EnrollError> {
        let auth_url = AuthUrl::new(google.auth_url.clone()).map_err(|e| EnrollError::Config {
            key: "google.auth_url",
            message: e.to_string(),
        })?;
        let token_url =
            TokenUrl::new(google.token_url.clone()).map_err(|e| EnrollError::Config {
                key: "google.token_url",
                message: e.to_string(),
            })?;
        let http = build_http_client(google).map_err(|e| EnrollError::Config {
            key: "google",
            message: format!("cannot build the HTTP client: {e}"),
        })?;
        Ok(Self {
            inner: Arc::new(EnrollerInner {
                store,
                secrets,
                auth_url,
                token_url,
                userinfo_url: google.userinfo_url.clone(),
                revoke_url: google.revoke_url.clone(),
                http,
                allowlist: policy.allowed_senders.clone(),
            }),
        })
    }

    /// The store tokens go to.
    #[must_use]
    pub fn store(&self) -> &TokenStore {
        &self.inner.store
    }

    /// The OAuth client's id.
    #[must_use]
    pub fn client_id(&self) -> &str {
        &self.inner.secrets.client_id
    }

    fn client(&self, redirect_uri: &str) -> Result<FlowClient, EnrollError> {
        let redirect =
            RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| EnrollError::Config {
                key: "redirect_uri",
                message: e.to_string(),
            })?;
        let secrets = &self.inner.secrets;
        Ok(BasicClient::new(ClientId::new(secrets.client_id.clone()))
            .set_client_secret(ClientSecret::new(secrets.expose_secret().to_owned()))
            .set_auth_type(AuthType::RequestBody)
            .set_auth_uri(self.inner.auth_url.clone())
            .set_token_uri(self.inner.token_url.clone())
            .set_redirect_uri(redirect))
    }

    /// A new authorization request (random `state`, PKCE S256) redirecting to `redirect_uri`.
    ///
    /// # Errors
    /// [`EnrollError::Config`] when `redirect_uri` is not a URL.
    pub fn authorization(&self, redirect_uri: &str) -> Result<Authorization, EnrollError> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = self
            .client(redirect_uri)?
            .authorize_url(CsrfToken::new_random)
            .add_scopes(LOGIN_SCOPES.iter().map(|s| Scope::new((*s).to_owned())))
            .set_pkce_challenge(challenge)
            .add_extra_param("access_type", "offline")
            .add_extra_param("prompt", "consent")
            .url();
        Ok(Authorization {
            url,
            state: SecretString::from(state.secret().clone()),
            verifier,
        })
    }

    /// Finishes a flow: exchanges `code` (with the PKCE `verifier`, at the same
    /// `redirect_uri`), reads the account's address, checks it against the allowlist (unless
    /// `force`), stores the refresh token and lifts the sender's quarantine.
    ///
    /// # Errors
    /// [`EnrollError`] saying which step failed.
    pub async fn complete(
        &self,
        code: &str,
        verifier: PkceCodeVerifier,
        redirect_uri: &str,
        force: bool,
    ) -> Result<Enrolled, EnrollError> {
        let client = self.client(redirect_uri)?;
        let recorder = StatusRecorder::new(&self.inner.http);
        let answer = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(verifier)
            .set_redirect_uri(Cow::Owned(
                RedirectUrl::new(redirect_uri.to_owned()).map_err(|e| EnrollError::Config {
                    key: "redirect_uri",
                    message: e.to_string(),
                })?,
            ))
            .request_async(&recorder)
            .await
            .map_err(|e| EnrollError::Exchange(classify_token_error(&e, recorder.status())))?;
        let access = SecretString::from(answer.access_token().secret().clone());
        let scopes: Vec<String> = answer.scopes().map_or_else(
            || LOGIN_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            |granted| granted.iter().map(|s| s.to_string()).collect(),
        );
        let Some(refresh) = answer.refresh_token() else {
            return Err(EnrollError::NoRefreshToken);
        };
        let refresh = SecretString::from(refresh.secret().clone());
        if !scopes
            .iter()
            .any(|s| s == GMAIL_SEND_SCOPE || s == "https://mail.google.com/")
        {
            self.revoke_quietly(&refresh).await;
            return Err(EnrollError::ScopeNotGranted);
        }
        let email = match self.userinfo(&access).await {
            Ok(email) => email,
            Err(e) => {
                self.revoke_quietly(&refresh).await;
                return Err(e);
            }
        };
        if !force && !self.allowed(&email) {
            self.revoke_quietly(&refresh).await;
            return Err(EnrollError::NotAllowed(email));
        }
        self.inner
            .store
            .put(&email, &refresh, &self.inner.secrets.client_id, &scopes)
            .await
            .map_err(|e| EnrollError::Store(e.to_string()))?;
        let (released, release_error) = match self.inner.store.queue().release_sender(&email).await
        {
            Ok(released) => (released, None),
            Err(e) => (false, Some(e.to_string())),
        };
        tracing::info!(sender = %email, released, "stored a refresh token");
        Ok(Enrolled {
            email,
            released,
            release_error,
        })
    }

    fn allowed(&self, email: &str) -> bool {
        match &self.inner.allowlist {
            None => true,
            Some(list) => Address::parse(email).is_ok_and(|a| list.allows(&a)),
        }
    }

    async fn userinfo(&self, access: &SecretString) -> Result<String, EnrollError> {
        let response = self
            .inner
            .http
            .get(&self.inner.userinfo_url)
            .bearer_auth(access.expose_secret())
            .send()
            .await
            .map_err(|e| EnrollError::Userinfo(error_chain(&e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(EnrollError::Userinfo(format!("HTTP {status}")));
        }
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|_| EnrollError::Userinfo("the answer is not JSON".to_owned()))?;
        if body
            .get("email_verified")
            .and_then(serde_json::Value::as_bool)
            == Some(false)
        {
            return Err(EnrollError::Userinfo(
                "Google says the account's address is not verified".to_owned(),
            ));
        }
        body.get("email")
            .and_then(serde_json::Value::as_str)
            .filter(|e| e.contains('@'))
            .map(|e| e.trim().to_ascii_lowercase())
            .ok_or_else(|| EnrollError::Userinfo("the answer has no email".to_owned()))
    }

    /// Gives back a token that will not be stored, so it does not linger; failures are only
    /// logged.
    async fn revoke_quietly(&self, token: &SecretString) {
        if let Err(e) = revoke_token(&self.inner.http, &self.inner.revoke_url, token).await {
            tracing::warn!(error = %e, "could not revoke an unused refresh token");
        }
    }
}

/// What Google said to a revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// The token is revoked now.
    Revoked,
    /// Google did not know the token any more (`invalid_token`): it was already revoked or
    /// expired.
    AlreadyInvalid,
}

/// Asks Google (`revoke_url`) to revoke `token`.
///
/// # Errors
/// [`CredentialError::Unavailable`] when the endpoint cannot be reached or fails (5xx), and
/// [`CredentialError::BadKey`] for another refusal.
pub async fn revoke_token(
    http: &reqwest::Client,
    revoke_url: &str,
    token: &SecretString,
) -> Result<Revoked, CredentialError> {
    let response = http
        .post(revoke_url)
        .form(&[("token", token.expose_secret())])
        .send()
        .await
        .map_err(|e| CredentialError::Unavailable(error_chain(&e)))?;
    let status = response.status();
    if status.is_success() {
        return Ok(Revoked::Revoked);
    }
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    let error = body
        .get("error")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if status.is_client_error() && matches!(error.as_str(), "invalid_token" | "invalid_grant") {
        return Ok(Revoked::AlreadyInvalid);
    }
    let message = if error.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {error}")
    };
    if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
        Err(CredentialError::Unavailable(message))
    } else {
        Err(CredentialError::BadKey(message))
    }
}

/// The web flow's shared state: the enroller, the digest of the admin token and the callback
/// URL. Cheap to clone.
#[derive(Clone)]
pub struct OnboardingState {
    enroller: Enroller,
    keys: Arc<TokenKeys>,
    admin_digest: [u8; 32],
    redirect_uri: String,
}

impl fmt::Debug for OnboardingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnboardingState")
            .field("enroller", &self.enroller)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl OnboardingState {
    /// The web flow for `enroller` (whose store must have a keyring), guarded by
    /// `admin_token`, with Google redirecting to `<public_url>/oauth2/callback`.
    ///
    /// # Errors
    /// An empty admin token, a store without keys, or a `public_url` that is not http(s).
    pub fn new(
        enroller: Enroller,
        admin_token: &SecretString,
        public_url: &str,
    ) -> anyhow::Result<Self> {
        let token = admin_token.expose_secret().trim();
        anyhow::ensure!(!token.is_empty(), "the admin token is empty");
        let keys = enroller
            .store()
            .keys()
            .cloned()
            .context("the token store has no keyring")?;
        let base = public_url.trim().trim_end_matches('/');
        let parsed = url::Url::parse(base)
            .with_context(|| format!("credentials.public_url: {base:?} is not a URL"))?;
        anyhow::ensure!(
            matches!(parsed.scheme(), "http" | "https"),
            "credentials.public_url: must be an http(s) URL"
        );
        Ok(Self {
            enroller,
            keys,
            admin_digest: Sha256::digest(token.as_bytes()).into(),
            redirect_uri: format!("{base}{CALLBACK_PATH}"),
        })
    }

    /// The web flow as configured: `[credentials] client_secrets`, `token_keys`,
    /// `admin_token_file` and `public_url`, `[google]` and `[jobs] allowed_senders`, storing
    /// beside `queue`.
    ///
    /// # Errors
    /// A missing or unreadable file or setting, named.
    pub fn from_config(config: &Config, queue: Queue) -> anyhow::Result<Self> {
        let c = &config.credentials;
        let secrets = ClientSecrets::from_config(None, c)?;
        let keys = Arc::new(TokenKeys::from_config(c)?);
        let admin_file = c
            .admin_token_file
            .as_deref()
            .context("credentials.admin_token_file: not set (the web flow needs an admin token)")?;
        let admin = SecretString::from(std::fs::read_to_string(admin_file).with_context(|| {
            format!(
                "credentials.admin_token_file: cannot read {}",
                admin_file.display()
            )
        })?);
        let public_url = c
            .public_url
            .as_deref()
            .context("credentials.public_url: not set (Google must know where to redirect)")?;
        let enroller = Enroller::new(
            TokenStore::new(queue, keys),
            secrets,
            &config.google,
            &config.policy()?,
        )?;
        Self::new(enroller, &admin, public_url)
            .with_context(|| format!("credentials.admin_token_file: {}", admin_file.display()))
    }

    /// The callback URL Google redirects to (register it with the OAuth client).
    #[must_use]
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(token) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
        else {
            return false;
        };
        same_digest(&Sha256::digest(token.as_bytes()).into(), &self.admin_digest)
    }

    fn state_key(&self, state: &str) -> String {
        self.enroller
            .store()
            .queue()
            .key(&format!("oauth:state:{state}"))
    }

    async fn save_state(&self, auth: &Authorization) -> Result<(), redis::RedisError> {
        let state = auth.state.expose_secret();
        let sealed = self.keys.encrypt(
            auth.verifier.secret().as_bytes(),
            &format!("oauth-state:{state}"),
        );
        let record = sealed.to_json();
        let () = redis::cmd("SET")
            .arg(self.state_key(state))
            .arg(record)
            .arg("EX")
            .arg(STATE_TTL.as_secs())
            .query_async(&mut self.enroller.store().queue().connection())
            .await?;
        Ok(())
    }

    /// Takes (reads and deletes) the verifier saved for `state`; `None` when unknown, expired
    /// or already used.
    async fn take_state(&self, state: &str) -> Result<Option<PkceCodeVerifier>, redis::RedisError> {
        if state.is_empty()
            || state.len() > 128
            || !state
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        {
            return Ok(None);
        }
        let record: Option<String> = redis::cmd("GETDEL")
            .arg(self.state_key(state))
            .query_async(&mut self.enroller.store().queue().connection())
            .await?;
        let Some(record) = record else {
            return Ok(None);
        };
        let sealed = match Sealed::from_json(&record) {
            Ok(sealed) => sealed,
            Err(e) => {
                tracing::warn!(error = %e, "a saved OAuth state is damaged");
                return Ok(None);
            }
        };
        let Ok(plain) = self.keys.decrypt(&sealed, &format!("oauth-state:{state}")) else {
            return Ok(None);
        };
        Ok(String::from_utf8(plain.to_vec())
            .ok()
            .map(PkceCodeVerifier::new))
    }
}

/// Compares two secrets in constant time (their SHA-256 digests, so lengths do not leak).
#[must_use]
pub fn same_secret(a: &str, b: &str) -> bool {
    same_digest(
        &Sha256::digest(a.as_bytes()).into(),
        &Sha256::digest(b.as_bytes()).into(),
    )
}

/// Compares two digests in constant time.
fn same_digest(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The web flow's routes, `GET /oauth2/start` and `GET /oauth2/callback`, to merge into the
/// worker's HTTP listener.
pub fn routes(state: OnboardingState) -> Router {
    Router::new()
        .route("/oauth2/start", get(start))
        .route(CALLBACK_PATH, get(callback))
        .with_state(state)
}

/// `GET /oauth2/start`: with the admin bearer token, a redirect to Google's consent screen.
async fn start(State(state): State<OnboardingState>, headers: HeaderMap) -> Response {
    if !state.authorized(&headers) {
        let mut response = page(
            StatusCode::UNAUTHORIZED,
            "Not authorized",
            "<p>Starting an enrollment needs the admin token: send \
             <code>Authorization: Bearer &lt;token&gt;</code>.</p>",
        );
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"mailroom\""),
        );
        return response;
    }
    let auth = match state.enroller.authorization(&state.redirect_uri) {
        Ok(auth) => auth,
        Err(e) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    if let Err(e) = state.save_state(&auth).await {
        tracing::warn!(error = %e, "could not save an OAuth state");
        return error_page(
            StatusCode::SERVICE_UNAVAILABLE,
            "Redis is unavailable; try again in a moment.",
        );
    }
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(location) = HeaderValue::from_str(auth.url.as_str()) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    no_store(&mut response);
    response
}

/// `GET /oauth2/callback?code&state`: finishes the flow `start` began.
async fn callback(
    State(state): State<OnboardingState>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let param = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let verifier = match state.take_state(param("state").unwrap_or_default()).await {
        Ok(Some(verifier)) => verifier,
        Ok(None) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in is unknown, expired or already finished (the state does not \
                 match). Start again.",
            );
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not read an OAuth state");
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Redis is unavailable; start again in a moment.",
            );
        }
    };
    if let Some(error) = param("error") {
        return error_page(
            StatusCode::BAD_REQUEST,
            &EnrollError::Denied(describe_denial(error, param("error_description"))).to_string(),
        );
    }
    let Some(code) = param("code") else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Google's answer has no authorization code.",
        );
    };
    match state
        .enroller
        .complete(code, verifier, &state.redirect_uri, false)
        .await
    {
        Ok(enrolled) => confirmation(&enrolled),
        Err(e) => {
            tracing::warn!(error = %e, "web enrollment failed");
            let status = match e {
                EnrollError::Exchange(CredentialError::Unavailable(_)) | EnrollError::Store(_) => {
                    StatusCode::SERVICE_UNAVAILABLE
                }
                _ => StatusCode::BAD_REQUEST,
            };
            error_page(status, &e.to_string())
        }
    }
}

/// `error` and `error_description` of a refused sign-in, for a message.
#[must_use]
pub fn describe_denial(error: &str, description: Option<&str>) -> String {
    let what = if error == "access_denied" {
        "the account did not grant access (access_denied)".to_owned()
    } else {
        error.to_owned()
    };
    match description {
        Some(d) => format!("{what}: {d}"),
        None => what,
    }
}

/// The page shown after a successful enrollment.
#[must_use]
pub fn confirmation(enrolled: &Enrolled) -> Response {
    page(
        StatusCode::OK,
        "Sender enrolled",
        &format!(
            "<p>mailroom can now send as <strong>{}</strong>.</p>\
             <p>You can close this window.</p>",
            escape(&enrolled.email)
        ),
    )
}

/// A page explaining a failure.
#[must_use]
pub fn error_page(status: StatusCode, message: &str) -> Response {
    page(
        status,
        "Enrollment failed",
        &format!("<p>{}</p>", escape(message)),
    )
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>mailroom: {title}</title>\
         </head><body style=\"font-family: sans-serif; max-width: 40em; margin: 3em auto\">\
         <h1>{title}</h1>{body}</body></html>\n"
    );
    let mut response = (status, Html(html)).into_response();
    no_store(&mut response);
    response
}

fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// `text` with HTML's special characters escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn digests_compare_whole() {
        let a: [u8; 32] = Sha256::digest(b"token").into();
        let b: [u8; 32] = Sha256::digest(b"token").into();
        let c: [u8; 32] = Sha256::digest(b"tokeN").into();
        assert!(same_digest(&a, &b));
        assert!(!same_digest(&a, &c));
    }

    #[test]
    fn denials_read_well() {
        assert_eq!(
            describe_denial("access_denied", None),
            "the account did not grant access (access_denied)"
        );
        assert_eq!(
            describe_denial("invalid_scope", Some("bad")),
            "invalid_scope: bad"
        );
    }
}
