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
//!   ([`Quota`]). A From that is neither the user nor a verified send-as
//!   alias ([`FakeGoogle::add_send_as`]) is rewritten, as Gmail does.
//!   Accepted messages are recorded ([`FakeGoogle::sent`]), and
//!   so is every send request with its answer ([`FakeGoogle::send_log`]).
//! * A recipient marked [`FakeGoogle::undeliverable`] bounces: the sender
//!   finds Gmail's delivery status notification in its inbox, with a new
//!   history id (`users.history.list`, `users.getProfile`).
//! * Token expiry, code lifetimes and quota windows follow the fake's own
//!   clock, which [`FakeGoogle::advance_clock`] moves forward without
//!   waiting.
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
//! * `mod.rs`: [`FakeGoogle`] (starting, URLs, accounts and settings).
//! * `server.rs`: the routes and the server thread.
//! * `inspect.rs`: what tests read back (messages, logs, counts).
//! * `in_flight.rs`: sends in flight per user, and the most at once.
//! * `credentials.rs`: the key files, client secrets and tokens it hands out.
//! * `types.rs`: the scope constants and the public record types.
//! * `state.rs`: the shared state and ID makers.
//! * `token/`: the token endpoint and its grants.
//! * `consent.rs`: the consent endpoint.
//! * `account.rs`: userinfo, tokeninfo and revoke.
//! * `request.rs`: parameters, credentials and scopes read from requests.
//! * `gmail.rs`: `users.messages.send`: checks, quota, recording.
//! * `gmail_read.rs`: `users.messages.list` and `users.messages.get` over
//!   the accepted and received messages.
//! * `gmail_history.rs`: `users.getProfile` and `users.history.list`.
//! * `gmail_auth.rs`: the token, scope and mailbox checks of every Gmail
//!   call, and the shared opening of the read handlers.
//! * `mailbox.rs`: history ids, labels and received messages.
//! * `bounce.rs`: [`Undeliverable`] recipients and the bounces Gmail
//!   returns for them.
//! * `send_as.rs`: send-as aliases (`users.settings.sendAs.list`) and the
//!   From a send keeps or has rewritten.
//! * `send_body.rs`: the raw message read from either form of a send.
//! * `mime.rs`: multipart bodies, header fields and base64.
//! * `faults/`: [`FaultRule`], [`Fault`] and how rules are picked.
//! * `quirks.rs`: answers that differ from Google's usual ones, and every
//!   secret handed out ([`FakeGoogle::secrets`]).
//! * `quota.rs`: [`Quota`] and its sliding windows.
//! * `keys.rs`: the cached RSA key pairs and JWT verification.
//! * `respond.rs`: Google-style JSON errors, HTML pages, dropped connections.

use std::net::TcpListener;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use tokio::sync::oneshot;

mod account;
mod bounce;
mod consent;
mod credentials;
mod faults;
mod gmail;
mod gmail_auth;
mod gmail_history;
mod gmail_read;
mod ids;
mod in_flight;
mod inspect;
mod keys;
mod mailbox;
mod mime;
mod quirks;
mod quota;
mod request;
mod respond;
mod send_as;
mod send_body;
mod server;
mod state;
mod token;
mod types;

pub use bounce::Undeliverable;
pub use faults::{Endpoint, Fault, FaultRule};
pub use gmail_read::ReadCalls;
pub use quota::Quota;
pub use send_as::GMAIL_SETTINGS_BASIC_SCOPE;
pub use types::{
    AuthRequest, ClientKind, GMAIL_METADATA_SCOPE, GMAIL_READONLY_SCOPE, GMAIL_SEND_SCOPE,
    MAIL_GOOGLE_SCOPE, OAuthClient, OPENID_SCOPE, SendAttempt, SentMessage, ServiceAccount,
    TokenGrant, USERINFO_EMAIL_SCOPE, USERINFO_PROFILE_SCOPE,
};

use state::{Shared, State};

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
        let app = server::router(Arc::clone(&shared));
        let (shutdown, stop) = oneshot::channel::<()>();
        let thread = thread::Builder::new()
            .name(format!("fake-google-{port}"))
            .spawn(move || server::serve(listener, app, stop))
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

    /// Adds a Google Workspace user: a mailbox service accounts with
    /// domain-wide delegation may impersonate.
    pub fn add_domain_user(&self, email: &str) {
        self.shared.lock().ensure_user(email).domain_user = true;
    }

    /// Removes a Google Workspace user (an admin suspended or deleted it):
    /// impersonating it fails with `invalid_grant` from now on, and every
    /// token it holds is revoked.
    pub fn remove_domain_user(&self, email: &str) {
        let mut state = self.shared.lock();
        state.ensure_user(email).domain_user = false;
        state.revoke_user(email);
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

    /// Moves the fake's clock forward by `by`: access tokens expire,
    /// authorization codes age and Gmail's quota windows slide as if that
    /// much time had passed, without waiting for it. Signed JWT assertions
    /// are still checked against the real time (their signer uses it), and
    /// the logs ([`FakeGoogle::send_log`], [`FakeGoogle::sent`], …) keep
    /// recording real times.
    pub fn advance_clock(&self, by: Duration) {
        self.shared.lock().clock_offset += by;
    }

    /// Sets the lifetime of access tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.shared.lock().token_lifetime = lifetime;
    }

    /// Replaces the usage limits (the spending history is kept).
    pub fn set_quota(&self, quota: Quota) {
        self.shared.lock().quota = quota;
    }

    /// Adds a fault rule (after the existing ones).
    pub fn inject(&self, rule: FaultRule) {
        self.shared.lock().faults.push(rule);
    }

    /// Adds several fault rules, in order (after the existing ones): for
    /// instance the rules of [`FaultRule::one_of`].
    pub fn inject_all(&self, rules: impl IntoIterator<Item = FaultRule>) {
        let mut state = self.shared.lock();
        for rule in rules {
            state.faults.push(rule);
        }
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
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
