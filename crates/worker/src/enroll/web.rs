//! The web flow, served by the worker's HTTP listener: `GET /oauth2/start`, guarded by the
//! admin bearer token of `[credentials] admin_token_file`, redirects to Google;
//! `GET /oauth2/callback` takes the saved state and finishes ([`Enroller::finish`]).

use std::collections::HashMap;
use std::fmt;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mailroom_queue::Queue;
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;

use super::pages::{error_page, finished_page, no_store, page};
use super::state::{StateError, StateStore};
use super::{CALLBACK_PATH, Enroller, Redirect, same_secret};
use crate::config::Config;
use crate::credentials::{ClientSecrets, TokenKeys, TokenStore};

/// The shortest admin token accepted, in characters.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 32;

/// Refuses an admin token shorter than [`MIN_ADMIN_TOKEN_CHARS`] (after trimming).
fn check_admin_token(token: &str) -> anyhow::Result<()> {
    let chars = token.trim().chars().count();
    anyhow::ensure!(
        chars >= MIN_ADMIN_TOKEN_CHARS,
        "the admin token has {chars} characters, fewer than {MIN_ADMIN_TOKEN_CHARS}: make one \
         with `openssl rand -base64 33`"
    );
    Ok(())
}

/// The web flow's shared state: the enroller, the pending sign-ins, the admin token and the
/// callback URL. Cheap to clone.
#[derive(Clone)]
pub struct WebFlow {
    enroller: Enroller,
    states: StateStore,
    admin_token: SecretString,
    redirect_uri: String,
}

impl fmt::Debug for WebFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebFlow")
            .field("enroller", &self.enroller)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl WebFlow {
    /// The web flow for `enroller` (whose store must have a keyring), guarded by
    /// `admin_token`, with Google redirecting to `<public_url>/oauth2/callback`.
    ///
    /// # Errors
    /// An admin token shorter than [`MIN_ADMIN_TOKEN_CHARS`], a store without keys, or a `public_url` that is not http(s).
    pub fn new(
        enroller: Enroller,
        admin_token: &SecretString,
        public_url: &str,
    ) -> anyhow::Result<Self> {
        let token = admin_token.expose_secret().trim();
        check_admin_token(token)?;
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
            states: StateStore::new(enroller.store().queue().clone(), keys),
            enroller,
            admin_token: SecretString::from(token.to_owned()),
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
        let admin_file = c
            .admin_token_file
            .as_deref()
            .context("credentials.admin_token_file: not set (the web flow needs an admin token)")?;
        let admin = read_admin_token(config, admin_file)?;
        let (enroller, public_url) = enroller(config, queue)?;
        Self::new(enroller, &admin, public_url)
            .with_context(|| format!("credentials.admin_token_file: {}", admin_file.display()))
    }

    /// The web flow of the console (`mailroom api`), whose operators start it signed in with
    /// an `admin` API key ([`WebFlow::begin`]): as [`WebFlow::from_config`], but without
    /// `admin_token_file` its `/oauth2/start` refuses every bearer (the token is random).
    ///
    /// # Errors
    /// A missing or unreadable file or setting, named.
    pub fn for_console(config: &Config, queue: Queue) -> anyhow::Result<Self> {
        let admin = match config.credentials.admin_token_file.as_deref() {
            Some(file) => read_admin_token(config, file)?,
            None => {
                use base64::Engine as _;
                use rand::RngCore as _;
                let mut bytes = [0u8; 33];
                rand::rng().fill_bytes(&mut bytes);
                SecretString::from(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
        };
        let (enroller, public_url) = enroller(config, queue)?;
        Self::new(enroller, &admin, public_url)
    }

    /// The callback URL Google redirects to (register it with the OAuth client).
    #[must_use]
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Whether `headers` carry the admin token as a bearer token.
    fn authorized(&self, headers: &HeaderMap) -> bool {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .is_some_and(|(_, token)| same_secret(token.trim(), self.admin_token.expose_secret()))
    }
}

/// Reads the admin token of `credentials.admin_token_file`.
fn read_admin_token(config: &Config, admin_file: &std::path::Path) -> anyhow::Result<SecretString> {
    crate::credentials::check_secret_file(
        admin_file,
        "credentials.admin_token_file",
        config.credentials.allow_group_readable_secrets,
    )?;
    let admin = std::fs::read_to_string(admin_file).with_context(|| {
        format!(
            "credentials.admin_token_file: cannot read {}",
            admin_file.display()
        )
    })?;
    Ok(SecretString::from(admin))
}

/// The enroller of `config`, storing beside `queue`, and `credentials.public_url`.
fn enroller(config: &Config, queue: Queue) -> anyhow::Result<(Enroller, &str)> {
    let c = &config.credentials;
    let secrets = ClientSecrets::from_config(None, c)?;
    let keys = Arc::new(TokenKeys::from_config(c)?);
    let public_url = c
        .public_url
        .as_deref()
        .context("credentials.public_url: not set (Google must know where to redirect)")?;
    let enroller = Enroller::new(
        TokenStore::new(queue, keys),
        secrets,
        &config.google,
        &config.policy()?,
    )?
    .with_hosted_domain(c.hosted_domain.as_deref())
    .with_read_scope(config.gmail.read_scope())
    .with_settings_scope(config.gmail.check_send_as);
    Ok((enroller, public_url))
}

/// The web flow's routes, `GET /oauth2/start` and `GET /oauth2/callback`, to merge into the
/// worker's HTTP listener.
pub fn routes(flow: WebFlow) -> Router {
    Router::new()
        .route("/oauth2/start", get(start))
        .route(CALLBACK_PATH, get(callback))
        .with_state(flow)
}

/// `GET /oauth2/start`: with the admin bearer token, a redirect to Google's consent screen.
async fn start(State(flow): State<WebFlow>, headers: HeaderMap) -> Response {
    if !flow.authorized(&headers) {
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
    match flow.begin().await {
        Ok(location) => {
            let mut response = StatusCode::FOUND.into_response();
            if let Ok(location) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            no_store(&mut response);
            response
        }
        Err(page) => page,
    }
}

impl WebFlow {
    /// Starts a sign-in: saves its state and returns the URL of Google's consent screen to
    /// send the browser to.
    ///
    /// # Errors
    /// The error page to show: the authorization URL cannot be built, or Redis is away.
    pub async fn begin(&self) -> Result<String, Response> {
        let auth = self
            .enroller
            .authorization(&self.redirect_uri)
            .map_err(|e| error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()))?;
        if let Err(e) = self.states.save(&auth).await {
            tracing::warn!(error = %e, "could not save an OAuth state");
            return Err(error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Redis is unavailable; try again in a moment.",
            ));
        }
        Ok(auth.url.to_string())
    }
}

/// `GET /oauth2/callback?code&state`: finishes the flow `start` began.
async fn callback(
    State(flow): State<WebFlow>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let redirect = Redirect::new(params);
    let verifier = match flow.states.take(redirect.state().unwrap_or_default()).await {
        Ok(Some(verifier)) => verifier,
        Ok(None) => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in is unknown, expired or already finished (the state does not \
                 match). Start again.",
            );
        }
        Err(StateError::Redis(e)) => {
            tracing::warn!(error = %e, "could not read an OAuth state");
            return error_page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Redis is unavailable; start again in a moment.",
            );
        }
        Err(e @ StateError::Damaged(_)) => {
            tracing::warn!(error = %e, "a saved OAuth state does not read back");
            return error_page(
                StatusCode::BAD_REQUEST,
                "This sign-in's saved state cannot be read (was the token key changed?). \
                 Start again.",
            );
        }
    };
    let result = flow
        .enroller
        .finish(&redirect, verifier, &flow.redirect_uri, false)
        .await;
    if let Err(e) = &result {
        tracing::warn!(error = %e, "web enrollment failed");
    }
    finished_page(&result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_token_needs_32_characters() {
        let short = check_admin_token(" s3cret-admin \n")
            .unwrap_err()
            .to_string();
        assert!(
            short.contains("has 12 characters, fewer than 32"),
            "{short}"
        );
        assert!(check_admin_token(&"x".repeat(31)).is_err());
        assert!(check_admin_token(&format!("{}\n", "x".repeat(32))).is_ok());
    }
}
