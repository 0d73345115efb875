//! Enrollment: a sender grants mailroom a refresh token for `[credentials] kind =
//! "authorized_user"`, through the OAuth authorization code flow with PKCE. Two flows start it
//! and share everything after Google's redirect ([`Enroller::finish`]): `mailroom auth login`
//! (a loopback redirect) and the web flow served by the worker's HTTP listener ([`routes`]).
//!
//! An enrollment asks Google for `openid`, `userinfo.email` and `gmail.send` (nothing of the
//! profile) with `access_type=offline` and `prompt=consent` (so a refresh token comes back
//! every time), exchanges the code at `[google] token_url`, checks that `gmail.send` was
//! granted (through `[google] tokeninfo_url` when the answer names no scope), learns the
//! account's address from `[google] userinfo_url` (verified by Google, and in
//! `[credentials] hosted_domain` when that is set), checks it against
//! `[jobs] allowed_senders`, stores the refresh token encrypted in Redis, revokes the one it
//! replaces, and lifts the sender's quarantine. A token that is not stored is revoked at once.
//!
//! - `finish`: Google's redirect ([`Redirect`]) to a stored token ([`Enrolled`]);
//! - `revoke`: revoking a token at Google ([`revoke_token`]);
//! - `state`: the web flow's `state` and PKCE verifier, sealed in Redis;
//! - `web`: the web flow's routes ([`WebFlow`]);
//! - `pages`: the HTML pages both flows show the browser.

mod finish;
mod pages;
mod revoke;
mod state;
mod web;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use mailroom_jobs::{Policy, SenderAllowlist};
use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenUrl,
};
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

pub use finish::{Redirect, describe_denial};
pub use pages::{confirmation, error_page, finished_page};
pub use revoke::{Revoked, revoke_token};
pub use web::{MIN_ADMIN_TOKEN_CHARS, WebFlow, routes};

use crate::config::GoogleSection;
use crate::credentials::{ClientSecrets, CredentialError, GMAIL_SEND_SCOPE, TokenStore};
use crate::google_http::build_http_client;

/// `https://www.googleapis.com/auth/userinfo.email`.
pub const USERINFO_EMAIL_SCOPE: &str = "https://www.googleapis.com/auth/userinfo.email";

/// The scopes an enrollment asks for: the account's address, and sending mail.
pub const ENROLL_SCOPES: [&str; 3] = ["openid", USERINFO_EMAIL_SCOPE, GMAIL_SEND_SCOPE];

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
    /// Google's redirect carried neither a code nor an error.
    #[error("Google's answer has no authorization code")]
    NoCode,
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
    /// Google does not vouch for the account's address (`email_verified` is not true).
    #[error("Google has not verified the address {0}; it cannot enroll")]
    Unverified(String),
    /// The account is not of `[credentials] hosted_domain`.
    #[error(
        "{email} is not an account of the Workspace domain {expected} (credentials.hosted_domain)"
    )]
    WrongDomain {
        /// The account's address.
        email: String,
        /// The domain configured.
        expected: String,
    },
    /// The account is not an allowed sender.
    #[error(
        "{0} is not in [jobs] allowed_senders; add it there (or pass --force to store it anyway)"
    )]
    NotAllowed(String),
    /// Redis failed while storing the token.
    #[error("storing the token failed: {0}")]
    Store(String),
}

impl EnrollError {
    /// True when trying again later may work (Google's token endpoint or Redis was away).
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Exchange(CredentialError::Unavailable(_)) | Self::Store(_)
        )
    }
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
    tokeninfo_url: String,
    revoke_url: String,
    http: reqwest::Client,
    allowlist: Option<SenderAllowlist>,
    hosted_domain: Option<String>,
    /// The reading scope to ask for too (`gmail.check_before_resend`,
    /// `gmail.read_bounces`).
    read_scope: Option<&'static str>,
    /// Ask for `gmail.settings.basic` too (`gmail.check_send_as`).
    settings_scope: bool,
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

fn config_error(key: &'static str) -> impl FnOnce(url::ParseError) -> EnrollError {
    move |e| EnrollError::Config {
        key,
        message: e.to_string(),
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
        let auth_url =
            AuthUrl::new(google.auth_url.clone()).map_err(config_error("google.auth_url"))?;
        let token_url =
            TokenUrl::new(google.token_url.clone()).map_err(config_error("google.token_url"))?;
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
                tokeninfo_url: google.tokeninfo_url.clone(),
                revoke_url: google.revoke_url.clone(),
                http,
                allowlist: policy.allowed_senders.clone(),
                hosted_domain: None,
                read_scope: None,
                settings_scope: false,
            }),
        })
    }

    /// Asks for `scope` too, when given ([`crate::config::GmailSection::read_scope`]).
    #[must_use]
    pub fn with_read_scope(mut self, scope: Option<&'static str>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.read_scope = scope;
        }
        self
    }

    /// Asks for `gmail.settings.basic` too, when `ask` (`gmail.check_send_as` is on), so that
    /// `mailroom auth check --pool` can read the account's send-as aliases.
    #[must_use]
    pub fn with_settings_scope(mut self, ask: bool) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.settings_scope = ask;
        }
        self
    }

    /// Enrolls only accounts of the Workspace domain `domain` (Google's `hd` claim), when
    /// given (`[credentials] hosted_domain`).
    #[must_use]
    pub fn with_hosted_domain(mut self, domain: Option<&str>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.hosted_domain = domain.map(|d| d.trim().to_ascii_lowercase());
        }
        self
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
            RedirectUrl::new(redirect_uri.to_owned()).map_err(config_error("redirect_uri"))?;
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
            .add_scopes(ENROLL_SCOPES.iter().map(|s| Scope::new((*s).to_owned())))
            .add_scopes(
                self.inner
                    .read_scope
                    .map(|scope| Scope::new(scope.to_owned())),
            )
            .add_scopes(
                self.inner
                    .settings_scope
                    .then(|| Scope::new(crate::credentials::GMAIL_SETTINGS_BASIC_SCOPE.to_owned())),
            )
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
}

/// Compares two secrets in constant time (their SHA-256 digests, so lengths do not leak).
#[must_use]
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes())
        .ct_eq(&Sha256::digest(b.as_bytes()))
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("token", "token"));
        assert!(!same_secret("token", "tokeN"));
        assert!(!same_secret("token", "token "));
        assert!(!same_secret("", "token"));
    }
}
