//! Everything the fake knows and remembers: registered accounts, clients and
//! delegations, issued tokens and codes, accepted messages and the request
//! logs tests inspect. One [`State`] sits behind a mutex shared by the
//! server and [`FakeGoogle`](super::FakeGoogle).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use super::faults::FaultSet;
use super::ids::{normalize_email, random_digits, random_token};
use super::quota::{Quota, QuotaTracker};
use super::types::{
    AuthRequest, ClientKind, GMAIL_SEND_SCOPE, OPENID_SCOPE, SendAttempt, SentMessage, TokenGrant,
    USERINFO_EMAIL_SCOPE, USERINFO_PROFILE_SCOPE,
};

/// The scopes of refresh tokens made by
/// [`FakeGoogle::authorized_user`](super::FakeGoogle::authorized_user).
pub(crate) const AUTHORIZED_USER_SCOPES: [&str; 4] = [
    GMAIL_SEND_SCOPE,
    OPENID_SCOPE,
    USERINFO_EMAIL_SCOPE,
    USERINFO_PROFILE_SCOPE,
];

/// The project every registered account and client belongs to.
pub(crate) const PROJECT_ID: &str = "mailroom-fake";

/// How long an authorization code may wait to be exchanged.
pub(crate) const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// A registered service account.
#[derive(Debug, Clone)]
pub(crate) struct ServiceAccountRecord {
    pub client_id: String,
    pub private_key_id: String,
}

/// A Google account the fake knows.
#[derive(Debug, Clone)]
pub(crate) struct UserRecord {
    /// The address as registered (lowercase).
    pub email: String,
    /// The stable numeric account ID (`sub`).
    pub sub: String,
    /// A Workspace user a service account may impersonate.
    pub domain_user: bool,
    /// Its send-as aliases (lowercase), each verified or pending.
    pub send_as: std::collections::BTreeMap<String, bool>,
}

/// A registered OAuth client.
#[derive(Debug, Clone)]
pub(crate) struct ClientRecord {
    pub secret: String,
    pub kind: ClientKind,
}

/// An issued refresh token.
#[derive(Debug, Clone)]
pub(crate) struct RefreshRecord {
    pub client_id: String,
    pub user: String,
    pub scopes: Vec<String>,
    pub revoked: bool,
}

/// An issued access token.
#[derive(Debug, Clone)]
pub(crate) struct AccessRecord {
    /// The OAuth client, or the service account's client ID.
    pub client_id: String,
    /// The user (or, without impersonation, the service account) it acts as.
    pub subject: String,
    pub scopes: Vec<String>,
    pub expires_at: SystemTime,
    /// The refresh token it was obtained with, if any.
    pub refresh_token: Option<String>,
    /// Whether the token was issued with `access_type=offline`.
    pub offline: bool,
    pub revoked: bool,
}

/// An issued, not yet exchanged authorization code.
#[derive(Debug, Clone)]
pub(crate) struct CodeRecord {
    pub client_id: String,
    pub redirect_uri: String,
    pub user: String,
    pub scopes: Vec<String>,
    /// `(code_challenge, method)` when PKCE was used.
    pub challenge: Option<(String, String)>,
    pub offline: bool,
    /// Whether the exchange also returns a refresh token.
    pub issue_refresh_token: bool,
    pub issued: Instant,
}

/// Why an access token is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenProblem {
    Unknown,
    Expired,
    Revoked,
}

/// The fake's whole state.
#[derive(Debug)]
pub(crate) struct State {
    /// How far [`FakeGoogle::advance_clock`](super::FakeGoogle::advance_clock)
    /// moved the fake's clock ahead of the real one.
    pub clock_offset: Duration,
    pub token_lifetime: Duration,
    pub quota: Quota,
    pub quota_tracker: QuotaTracker,
    pub faults: FaultSet,

    pub service_accounts: HashMap<String, ServiceAccountRecord>,
    pub users: BTreeMap<String, UserRecord>,
    /// Domain-wide delegation: client ID → scopes.
    pub delegations: HashMap<String, BTreeSet<String>>,
    pub clients: HashMap<String, ClientRecord>,
    pub refresh_tokens: HashMap<String, RefreshRecord>,
    pub access_tokens: HashMap<String, AccessRecord>,
    pub codes: HashMap<String, CodeRecord>,
    /// (client ID, user) pairs that have consented to offline access.
    pub offline_grants: HashSet<(String, String)>,
    pub consenting_user: Option<String>,
    /// Thread IDs per user.
    pub threads: HashMap<String, HashSet<String>>,

    pub sent: Vec<SentMessage>,
    pub grants: Vec<TokenGrant>,
    pub auth_requests: Vec<AuthRequest>,
    pub send_attempts: u64,
    pub send_log: Vec<SendAttempt>,
    pub send_statuses: BTreeMap<u16, u64>,
    pub rate_limited: HashMap<String, u64>,
    pub quirks: super::quirks::Quirks,
    pub in_flight: super::in_flight::InFlight,
    pub read_calls: super::gmail_read::ReadCalls,
    /// Mailbox history and received messages (bounces).
    pub mailboxes: super::mailbox::Mailboxes,
    /// `users.history.list` calls answered 200.
    pub history_calls: u64,
    /// Recipients whose mail bounces, and how.
    pub undeliverable: HashMap<String, super::bounce::Undeliverable>,
}

impl State {
    pub(crate) fn new(token_lifetime: Duration, quota: Quota, fault_seed: u64) -> State {
        State {
            clock_offset: Duration::ZERO,
            token_lifetime,
            quota,
            quota_tracker: QuotaTracker::default(),
            faults: FaultSet::new(fault_seed),
            service_accounts: HashMap::new(),
            users: BTreeMap::new(),
            delegations: HashMap::new(),
            clients: HashMap::new(),
            refresh_tokens: HashMap::new(),
            access_tokens: HashMap::new(),
            codes: HashMap::new(),
            offline_grants: HashSet::new(),
            consenting_user: None,
            threads: HashMap::new(),
            sent: Vec::new(),
            grants: Vec::new(),
            auth_requests: Vec::new(),
            send_attempts: 0,
            send_log: Vec::new(),
            quirks: super::quirks::Quirks::default(),
            in_flight: super::in_flight::InFlight::default(),
            read_calls: super::gmail_read::ReadCalls::default(),
            mailboxes: super::mailbox::Mailboxes::default(),
            history_calls: 0,
            undeliverable: HashMap::new(),
            send_statuses: BTreeMap::new(),
            rate_limited: HashMap::new(),
        }
    }

    /// The fake's monotonic clock (code lifetimes, quota windows): the real
    /// one moved forward by the clock offset.
    pub(crate) fn now(&self) -> Instant {
        Instant::now() + self.clock_offset
    }

    /// The fake's wall clock (access token expiry), moved forward alike.
    pub(crate) fn system_now(&self) -> SystemTime {
        SystemTime::now() + self.clock_offset
    }

    /// The user with this address (any case), registering it if new.
    pub(crate) fn ensure_user(&mut self, email: &str) -> &mut UserRecord {
        let email = normalize_email(email);
        self.users
            .entry(email.clone())
            .or_insert_with(|| UserRecord {
                email,
                sub: random_digits(21),
                domain_user: false,
                send_as: std::collections::BTreeMap::new(),
            })
    }

    /// The known user with this address (any case).
    pub(crate) fn user(&self, email: &str) -> Option<&UserRecord> {
        self.users.get(&normalize_email(email))
    }

    /// Issues an access token; returns it and its lifetime.
    pub(crate) fn issue_access_token(&mut self, grant: AccessRecordInit) -> (String, Duration) {
        let lifetime = self.token_lifetime;
        let token = format!("ya29.{}", random_token(150));
        self.access_tokens.insert(
            token.clone(),
            AccessRecord {
                client_id: grant.client_id,
                subject: grant.subject,
                scopes: grant.scopes,
                expires_at: self.system_now() + lifetime,
                refresh_token: grant.refresh_token,
                offline: grant.offline,
                revoked: false,
            },
        );
        (token, lifetime)
    }

    /// Issues a refresh token for `user` and `client_id`.
    pub(crate) fn issue_refresh_token(
        &mut self,
        client_id: &str,
        user: &str,
        scopes: Vec<String>,
    ) -> String {
        let token = format!("1//0{}", random_token(100));
        self.refresh_tokens.insert(
            token.clone(),
            RefreshRecord {
                client_id: client_id.to_owned(),
                user: normalize_email(user),
                scopes,
                revoked: false,
            },
        );
        self.offline_grants
            .insert((client_id.to_owned(), normalize_email(user)));
        token
    }

    /// The access token if it is valid now.
    pub(crate) fn valid_access_token(&self, token: &str) -> Result<&AccessRecord, TokenProblem> {
        let record = self.access_tokens.get(token).ok_or(TokenProblem::Unknown)?;
        if record.revoked {
            Err(TokenProblem::Revoked)
        } else if record.expires_at <= self.system_now() {
            Err(TokenProblem::Expired)
        } else {
            Ok(record)
        }
    }

    /// Revokes a refresh token and every access token obtained with it.
    pub(crate) fn revoke_refresh_token(&mut self, token: &str) {
        if let Some(record) = self.refresh_tokens.get_mut(token) {
            record.revoked = true;
        }
        for access in self.access_tokens.values_mut() {
            if access.refresh_token.as_deref() == Some(token) {
                access.revoked = true;
            }
        }
    }

    /// Revokes every token of `email`.
    pub(crate) fn revoke_user(&mut self, email: &str) {
        let email = normalize_email(email);
        for record in self.refresh_tokens.values_mut() {
            if record.user == email {
                record.revoked = true;
            }
        }
        for record in self.access_tokens.values_mut() {
            if record.subject == email {
                record.revoked = true;
            }
        }
        self.offline_grants.retain(|(_, user)| *user != email);
        self.codes.retain(|_, code| code.user != email);
    }

    /// Counts one quota or rate-limit refusal of a send by `user`.
    pub(crate) fn count_rate_limited(&mut self, user: &str) {
        *self.rate_limited.entry(normalize_email(user)).or_default() += 1;
    }
}

/// What a new access token is for.
#[derive(Debug, Clone)]
pub(crate) struct AccessRecordInit {
    pub client_id: String,
    pub subject: String,
    pub scopes: Vec<String>,
    pub refresh_token: Option<String>,
    pub offline: bool,
}

/// The state and the addresses the server answers on.
#[derive(Debug)]
pub(crate) struct Shared {
    /// `http://127.0.0.1:PORT/`.
    pub base_url: String,
    state: Mutex<State>,
}

impl Shared {
    pub(crate) fn new(base_url: String, state: State) -> Shared {
        Shared {
            base_url,
            state: Mutex::new(state),
        }
    }

    /// Locks the state (a panic in another holder does not poison it for
    /// good: the state stays usable).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The token endpoint, as written into key files (`aud` must equal it).
    pub(crate) fn token_url(&self) -> String {
        format!("{}token", self.base_url)
    }

    /// The authorization endpoint.
    pub(crate) fn auth_url(&self) -> String {
        format!("{}o/oauth2/v2/auth", self.base_url)
    }
}
