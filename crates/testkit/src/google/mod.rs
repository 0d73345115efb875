//! A fake Google: OAuth 2.0 and Gmail's `users.messages.send` on a local
//! HTTP port, close enough to the real protocols that yup-oauth2, the
//! `oauth2` crate, google-gmail1 and plain reqwest cannot tell the
//! difference.
//!
//! [`FakeGoogle::start`] runs an HTTP server on `127.0.0.1` (a free port) in
//! its own thread with its own tokio runtime; every other method is
//! synchronous, so the fake serves `#[test]` and `#[tokio::test]` functions
//! alike. Dropping it stops the server.
//!
//! The paths mirror Google's, so one base URL configures every client:
//!
//! | Google | fake |
//! | --- | --- |
//! | `https://oauth2.googleapis.com/token` | [`FakeGoogle::token_url`] |
//! | `https://accounts.google.com/o/oauth2/v2/auth` | [`FakeGoogle::auth_url`] |
//! | `https://openidconnect.googleapis.com/v1/userinfo` (also `/oauth2/v3/userinfo`) | [`FakeGoogle::userinfo_url`] |
//! | `https://oauth2.googleapis.com/tokeninfo` (`/oauth2/v3/tokeninfo`) | [`FakeGoogle::tokeninfo_url`] |
//! | `https://oauth2.googleapis.com/revoke` | [`FakeGoogle::revoke_url`] |
//! | `https://gmail.googleapis.com/` (google-gmail1's root and base URL) | [`FakeGoogle::base_url`] |
//!
//! # What it checks
//!
//! * Service accounts ([`FakeGoogle::service_account`]) get a real key file;
//!   the token endpoint verifies the RS256 JWT signature, `aud`, `exp`/`iat`
//!   and scopes, and for impersonation (`sub`) that the user is a domain
//!   user ([`FakeGoogle::add_domain_user`]) and that domain-wide delegation
//!   covers every scope ([`FakeGoogle::grant_delegation`]).
//! * OAuth clients ([`FakeGoogle::oauth_client`]) get a `client_secret.json`;
//!   the consent endpoint consents as the "browser user" and redirects with a
//!   code; the code exchange checks the client, the redirect URI and PKCE;
//!   refresh tokens ([`FakeGoogle::authorized_user`]) can be revoked.
//! * A send needs a live access token with `gmail.send` (or
//!   `https://mail.google.com/`) for a known mailbox, `userId` `me` or that
//!   address, a parseable message with a recipient, and quota
//!   ([`Quota`]). Accepted messages are recorded ([`FakeGoogle::sent`]).
//!
//! Errors are answered as Google answers them: OAuth's
//! `{"error":"invalid_grant","error_description":"…"}` on the token
//! endpoint, `{"error":{"code":…,"message":…,"errors":[…],"status":…}}` on
//! the API. [`FaultRule`]s make chosen requests fail, stall or lose their
//! connection.
//!
//! # Example
//!
//! ```no_run
//! use mailroom_testkit::google::{FakeGoogle, GMAIL_SEND_SCOPE};
//!
//! let google = FakeGoogle::start();
//! let account = google.service_account("mailer@project.iam.gserviceaccount.com");
//! google.add_domain_user("noreply@example.com");
//! google.grant_delegation(&account.client_id, &[GMAIL_SEND_SCOPE]);
//! // Write account.key_json to a file, point the client at
//! // google.base_url(), send...
//! assert!(google.sent_by("noreply@example.com").is_empty());
//! ```
//!
//! # Source layout
//!
//! * `mod.rs`: [`FakeGoogle`] (server thread, registration and inspection)
//!   and the routes.
//! * `state.rs`: the shared state, the public record types and ID makers.
//! * `oauth.rs`: token, consent, userinfo, tokeninfo and revoke endpoints.
//! * `gmail.rs`: `users.messages.send` and multipart parsing.
//! * `faults.rs`: [`FaultRule`], [`Fault`] and how rules are picked.
//! * `quota.rs`: [`Quota`] and its sliding windows.
//! * `keys.rs`: the cached RSA key pairs and JWT verification.
//! * `respond.rs`: Google-style JSON errors, HTML pages, dropped connections.

use std::collections::BTreeMap;
use std::future::IntoFuture;
use std::net::TcpListener;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::json;
use tokio::sync::oneshot;

mod faults;
mod gmail;
mod keys;
mod oauth;
mod quota;
mod respond;
mod state;

pub use faults::{Endpoint, Fault, FaultRule};
pub use quota::Quota;
pub use state::{
    AuthRequest, ClientKind, GMAIL_SEND_SCOPE, MAIL_GOOGLE_SCOPE, OAuthClient, OPENID_SCOPE,
    SentMessage, ServiceAccount, TokenGrant, USERINFO_EMAIL_SCOPE, USERINFO_PROFILE_SCOPE,
};

use state::{
    AUTHORIZED_USER_SCOPES, AccessRecordInit, ClientRecord, PROJECT_ID, ServiceAccountRecord,
    Shared, State, normalize_email, random_digits, random_hex, random_lower_alnum, random_token,
};

/// Largest request body accepted (Gmail's upload limit is 35 MB).
const MAX_BODY_BYTES: usize = 36 * 1024 * 1024;

/// Options for [`FakeGoogle::start_with`].
#[derive(Debug, Clone, PartialEq)]
pub struct FakeGoogleOptions {
    /// Listen on this port (on 127.0.0.1); `None` picks a free one.
    pub port: Option<u16>,
    /// Lifetime of issued access tokens (`expires_in`). Default one hour.
    pub token_lifetime: Duration,
    /// Gmail's usage limits. Default: Google's ([`Quota::default`]).
    pub quota: Quota,
    /// Seed of the generator [`FaultRule::probability`] draws from.
    pub fault_seed: u64,
}

impl Default for FakeGoogleOptions {
    fn default() -> Self {
        FakeGoogleOptions {
            port: None,
            token_lifetime: Duration::from_secs(3600),
            quota: Quota::default(),
            fault_seed: 0x5eed,
        }
    }
}

/// A fake Google on `127.0.0.1`: see the [module docs](self).
///
/// Dropping it stops the server and closes every connection.
#[derive(Debug)]
pub struct FakeGoogle {
    shared: Arc<Shared>,
    port: u16,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeGoogle {
    /// Starts a fake with [`FakeGoogleOptions::default`] on a free port.
    pub fn start() -> FakeGoogle {
        FakeGoogle::start_with(FakeGoogleOptions::default())
    }

    /// Starts a fake with these options. The server accepts connections
    /// when this returns.
    ///
    /// # Panics
    ///
    /// If the port cannot be bound or the server thread cannot be started.
    pub fn start_with(opts: FakeGoogleOptions) -> FakeGoogle {
        let listener = TcpListener::bind(("127.0.0.1", opts.port.unwrap_or(0)))
            .unwrap_or_else(|e| panic!("fake Google cannot listen on 127.0.0.1: {e}"));
        listener
            .set_nonblocking(true)
            .unwrap_or_else(|e| panic!("fake Google cannot make its socket non-blocking: {e}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("fake Google has no local address: {e}"))
            .port();
        let shared = Arc::new(Shared::new(
            format!("http://127.0.0.1:{port}/"),
            State::new(opts.token_lifetime, opts.quota, opts.fault_seed),
        ));
        let app = router(Arc::clone(&shared));
        let (shutdown, stop) = oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name(format!("fake-google-{port}"))
            .spawn(move || serve(listener, app, stop))
            .unwrap_or_else(|e| panic!("cannot start the fake Google thread: {e}"));
        FakeGoogle {
            shared,
            port,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT/`, with the trailing slash google-gmail1's
    /// `root_url`/`base_url` expect.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The token endpoint, `…/token` (also the `token_uri` of every key file
    /// and client secret the fake hands out).
    pub fn token_url(&self) -> String {
        self.shared.token_url()
    }

    /// The authorization (consent) endpoint, `…/o/oauth2/v2/auth`.
    pub fn auth_url(&self) -> String {
        self.shared.auth_url()
    }

    /// The OpenID userinfo endpoint, `…/v1/userinfo` (`…/oauth2/v3/userinfo`
    /// answers the same).
    pub fn userinfo_url(&self) -> String {
        format!("{}v1/userinfo", self.shared.base_url)
    }

    /// The tokeninfo endpoint, `…/oauth2/v3/tokeninfo`.
    pub fn tokeninfo_url(&self) -> String {
        format!("{}oauth2/v3/tokeninfo", self.shared.base_url)
    }

    /// The revocation endpoint, `…/revoke`.
    pub fn revoke_url(&self) -> String {
        format!("{}revoke", self.shared.base_url)
    }

    /// Registers a service account (or returns the one registered under
    /// this address) with its key file. Without a delegation grant its
    /// tokens can only act as the account itself, which has no mailbox.
    pub fn service_account(&self, client_email: &str) -> ServiceAccount {
        let key = keys::primary();
        let record = self.register_service_account(client_email);
        self.key_file(client_email, &record, key.private_pem())
    }

    /// A key file for the service account `client_email` (registered if
    /// new) whose private key is not the registered one: every token
    /// request made with it fails with `invalid_grant` "Invalid JWT
    /// Signature.", as with a deleted key.
    pub fn service_account_with_wrong_key(&self, client_email: &str) -> ServiceAccount {
        let key = keys::secondary();
        let record = self.register_service_account(client_email);
        self.key_file(client_email, &record, key.private_pem())
    }

    fn register_service_account(&self, client_email: &str) -> ServiceAccountRecord {
        // Generated before taking the lock: the first key takes a while.
        let _ = keys::primary();
        self.shared
            .lock()
            .service_accounts
            .entry(normalize_email(client_email))
            .or_insert_with(|| ServiceAccountRecord {
                client_id: random_digits(21),
                private_key_id: random_hex(40),
            })
            .clone()
    }

    fn key_file(
        &self,
        client_email: &str,
        record: &ServiceAccountRecord,
        private_pem: &str,
    ) -> ServiceAccount {
        let base = &self.shared.base_url;
        let encoded_email: String =
            url::form_urlencoded::byte_serialize(client_email.as_bytes()).collect();
        let key = json!({
            "type": "service_account",
            "project_id": PROJECT_ID,
            "private_key_id": record.private_key_id,
            "private_key": private_pem,
            "client_email": client_email,
            "client_id": record.client_id,
            "auth_uri": self.auth_url(),
            "token_uri": self.token_url(),
            "auth_provider_x509_cert_url": format!("{base}oauth2/v1/certs"),
            "client_x509_cert_url": format!("{base}robot/v1/metadata/x509/{encoded_email}"),
            "universe_domain": "googleapis.com",
        });
        ServiceAccount {
            client_id: record.client_id.clone(),
            client_email: client_email.to_owned(),
            key_json: serde_json::to_string_pretty(&key).unwrap_or_default(),
        }
    }

    /// Adds a Google Workspace user: a mailbox service accounts with
    /// domain-wide delegation may impersonate.
    pub fn add_domain_user(&self, email: &str) {
        self.shared.lock().ensure_user(email).domain_user = true;
    }

    /// Grants domain-wide delegation to the service account with this
    /// client ID for these scopes (replacing an earlier grant), for every
    /// domain user.
    pub fn grant_delegation(&self, client_id: &str, scopes: &[&str]) {
        self.shared.lock().delegations.insert(
            client_id.to_owned(),
            scopes.iter().map(|s| (*s).to_owned()).collect(),
        );
    }

    /// Withdraws the service account's domain-wide delegation: impersonating
    /// token requests then fail with `unauthorized_client` (tokens already
    /// issued stay valid until they expire, as at Google).
    pub fn revoke_delegation(&self, client_id: &str) {
        self.shared.lock().delegations.remove(client_id);
    }

    /// Registers an OAuth client and returns its ID, secret and
    /// `client_secret.json`.
    pub fn oauth_client(&self, kind: ClientKind) -> OAuthClient {
        let client_id = format!(
            "{}-{}.apps.googleusercontent.com",
            random_digits(12),
            random_lower_alnum(32)
        );
        let client_secret = format!("GOCSPX-{}", random_token(28));
        let (section, redirect_uris) = match &kind {
            ClientKind::Installed => ("installed", vec!["http://localhost".to_owned()]),
            ClientKind::Web { redirect_uris } => ("web", redirect_uris.clone()),
        };
        let json = json!({
            section: {
                "client_id": client_id,
                "project_id": PROJECT_ID,
                "auth_uri": self.auth_url(),
                "token_uri": self.token_url(),
                "auth_provider_x509_cert_url": format!("{}oauth2/v1/certs", self.shared.base_url),
                "client_secret": client_secret,
                "redirect_uris": redirect_uris,
            }
        });
        self.shared.lock().clients.insert(
            client_id.clone(),
            ClientRecord {
                secret: client_secret.clone(),
                kind,
            },
        );
        OAuthClient {
            client_id,
            client_secret,
            json: serde_json::to_string_pretty(&json).unwrap_or_default(),
        }
    }

    /// Has `email` consent to `client` with offline access and returns the
    /// refresh token (scopes `gmail.send`, `openid`, `userinfo.email`,
    /// `userinfo.profile`). Registers the account; the first such user
    /// becomes the consenting browser user.
    ///
    /// # Panics
    ///
    /// If `client` was not registered with this fake.
    pub fn authorized_user(&self, client: &OAuthClient, email: &str) -> String {
        let mut state = self.shared.lock();
        assert!(
            state.clients.contains_key(&client.client_id),
            "OAuth client {} is not registered with this fake Google",
            client.client_id
        );
        let email = state.ensure_user(email).email.clone();
        if state.consenting_user.is_none() {
            state.consenting_user = Some(email.clone());
        }
        let scopes = AUTHORIZED_USER_SCOPES
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        state.issue_refresh_token(&client.client_id, &email, scopes)
    }

    /// Revokes every refresh and access token of `email`: refreshing then
    /// fails with `invalid_grant` and API calls with 401.
    pub fn revoke_user(&self, email: &str) {
        self.shared.lock().revoke_user(email);
    }

    /// Sets the account signed in to the "browser": the consent endpoint
    /// consents as this user (registered if new).
    pub fn set_consenting_user(&self, email: &str) {
        let mut state = self.shared.lock();
        let email = state.ensure_user(email).email.clone();
        state.consenting_user = Some(email);
    }

    /// Sets the lifetime of access tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.shared.lock().token_lifetime = lifetime;
    }

    /// Replaces the usage limits (the spending history is kept).
    pub fn set_quota(&self, quota: Quota) {
        self.shared.lock().quota = quota;
    }

    /// Issues an access token for `email` (registered as an account if new)
    /// with these scopes directly, as if some OAuth flow had run.
    pub fn access_token(&self, email: &str, scopes: &[&str]) -> String {
        let mut state = self.shared.lock();
        let email = state.ensure_user(email).email.clone();
        state
            .issue_access_token(AccessRecordInit {
                client_id: "fake-google-direct".to_owned(),
                subject: email,
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                refresh_token: None,
                offline: false,
            })
            .0
    }

    /// Adds a fault rule (after the existing ones).
    pub fn inject(&self, rule: FaultRule) {
        self.shared.lock().faults.push(rule);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Every accepted message, oldest first.
    pub fn sent(&self) -> Vec<SentMessage> {
        self.shared.lock().sent.clone()
    }

    /// The accepted messages sent from `user`'s mailbox, oldest first.
    pub fn sent_by(&self, user: &str) -> Vec<SentMessage> {
        let user = normalize_email(user);
        self.shared
            .lock()
            .sent
            .iter()
            .filter(|m| m.user == user)
            .cloned()
            .collect()
    }

    /// Every token endpoint call, oldest first.
    pub fn token_grants(&self) -> Vec<TokenGrant> {
        self.shared.lock().grants.clone()
    }

    /// Every consent endpoint request, oldest first.
    pub fn auth_requests(&self) -> Vec<AuthRequest> {
        self.shared.lock().auth_requests.clone()
    }

    /// How many send requests arrived, whatever became of them.
    pub fn send_attempts(&self) -> u64 {
        self.shared.lock().send_attempts
    }

    /// How many send requests were answered with each status (dropped
    /// connections are not counted).
    pub fn responses_by_status(&self) -> BTreeMap<u16, u64> {
        self.shared.lock().send_statuses.clone()
    }

    /// How many sends by `user` were refused for quota or rate limits
    /// (including injected rate-limit faults).
    pub fn rate_limited_responses(&self, user: &str) -> u64 {
        self.shared
            .lock()
            .rate_limited
            .get(&normalize_email(user))
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for FakeGoogle {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The server thread: runs until `stop` fires (or its sender is dropped),
/// then drops the runtime, which closes every open connection.
fn serve(listener: TcpListener, app: Router, stop: oneshot::Receiver<()>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("cannot build the fake Google runtime: {e}"));
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)
            .unwrap_or_else(|e| panic!("fake Google cannot use its socket: {e}"));
        tokio::select! {
            result = axum::serve(listener, app).into_future() => {
                if let Err(e) = result {
                    eprintln!("fake Google server stopped: {e}");
                }
            }
            _ = stop => {}
        }
    });
}

/// The routes, with Google's paths.
fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/token", post(oauth::token))
        .route("/o/oauth2/v2/auth", get(oauth::authorize))
        .route(
            "/oauth2/v3/userinfo",
            get(oauth::userinfo).post(oauth::userinfo),
        )
        .route("/v1/userinfo", get(oauth::userinfo).post(oauth::userinfo))
        .route(
            "/oauth2/v3/tokeninfo",
            get(oauth::tokeninfo).post(oauth::tokeninfo),
        )
        .route("/revoke", post(oauth::revoke).get(oauth::revoke))
        .route(
            "/upload/gmail/v1/users/{user_id}/messages/send",
            post(gmail::send_upload),
        )
        .route(
            "/gmail/v1/users/{user_id}/messages/send",
            post(gmail::send_json),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(shared)
}

/// Any other path.
async fn not_found() -> Response {
    respond::google_error(404, "notFound", "Requested entity was not found.", None)
}

/// A known path with the wrong method.
async fn method_not_allowed() -> Response {
    respond::google_error(405, "httpMethodNotAllowed", "Method Not Allowed", None)
}
