//! A Google Workspace service account with domain-wide delegation: for each sender a JWT
//! assertion (`sub = sender`) signed with the account's key is exchanged for an access token
//! at the key file's `token_uri` (`jwt_grant`). The key is parsed once and one HTTP client (one root
//! certificate store) serves every sender; what is kept per sender (its token, its refresh
//! lock) lives in a [`SenderCache`]: at most `credentials.max_cached_senders`, each dropped
//! after `credentials.sender_idle` unused, so memory stays bounded whatever senders appear.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures::future::BoxFuture;
use jsonwebtoken::EncodingKey;
use serde::Deserialize;

use super::cache::SenderCache;
use super::jwt_grant::JwtGrant;
use super::{AccessToken, CredentialError, RecentFailure, RefreshHook, TokenSource};

/// The fields of a service account key file the worker uses.
#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    key_type: Option<String>,
    private_key: String,
    private_key_id: Option<String>,
    client_email: String,
    token_uri: String,
}

/// Tokens for every sender of a Workspace domain, through one service account key.
pub struct ServiceAccountSource {
    client_email: String,
    token_uri: String,
    key_id: Option<String>,
    signer: EncodingKey,
    http: reqwest::Client,
    hook: RefreshHook,
    senders: Arc<SenderCache<Sender>>,
    /// The scopes asked for, space-separated.
    scope: String,
}

/// One sender's last token and refresh state.
#[derive(Default)]
pub(crate) struct Sender {
    /// The last token and how long it was valid for when minted.
    token: Mutex<Option<(AccessToken, Duration)>>,
    refresh: tokio::sync::Mutex<()>,
    /// The last mint's failure while the token endpoint is unavailable.
    failed: RecentFailure,
}

impl fmt::Debug for ServiceAccountSource {
    // The key holds the private key: show who it is, nothing else.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceAccountSource")
            .field("client_email", &self.client_email)
            .field("token_uri", &self.token_uri)
            .field("senders_cached", &self.senders.len())
            .finish_non_exhaustive()
    }
}

impl ServiceAccountSource {
    /// Reads the key file at `path`.
    ///
    /// # Errors
    /// [`CredentialError::BadKey`] naming the file when it cannot be read or is not a service
    /// account key.
    pub fn from_file(
        path: &Path,
        timeout: Duration,
        hook: RefreshHook,
    ) -> Result<Self, CredentialError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CredentialError::BadKey(format!("cannot read {}: {e}", path.display())))?;
        Self::from_json(&text, timeout, hook)
            .map_err(|e| CredentialError::BadKey(format!("{}: {e}", path.display())))
    }

    /// The source `[credentials] service_account_key` names, keeping at most
    /// `credentials.max_cached_senders` senders for `credentials.sender_idle` each.
    ///
    /// # Errors
    /// [`CredentialError::BadKey`] when the key is not configured or cannot be used.
    pub fn from_config(config: &crate::Config, hook: RefreshHook) -> Result<Self, CredentialError> {
        let c = &config.credentials;
        let path = c.service_account_key.as_deref().ok_or_else(|| {
            CredentialError::BadKey("credentials.service_account_key is not set".to_owned())
        })?;
        super::secret_file::check(
            path,
            "credentials.service_account_key",
            c.allow_group_readable_secrets,
        )
        .map_err(|e| CredentialError::BadKey(e.to_string()))?;
        let source = Self::from_file(path, config.google.timeout, hook)?;
        if config.environment == crate::config::Environment::Production
            && !source.token_uri.starts_with("https://")
        {
            return Err(CredentialError::BadKey(format!(
                "{}: the key file's token_uri {} is not https://, refused in production",
                path.display(),
                source.token_uri
            )));
        }
        let source = source.with_read_scope(config.gmail.read_scope());
        Ok(source.with_cache(c.max_cached_senders, c.sender_idle))
    }

    /// Parses a service account key (the JSON file Google Cloud gives you).
    ///
    /// # Errors
    /// [`CredentialError::BadKey`] when it is not one.
    pub fn from_json(
        json: &str,
        timeout: Duration,
        hook: RefreshHook,
    ) -> Result<Self, CredentialError> {
        let key: KeyFile = serde_json::from_str(json)
            .map_err(|e| CredentialError::BadKey(format!("not a service account key file: {e}")))?;
        if key
            .key_type
            .as_deref()
            .is_some_and(|t| t != "service_account")
        {
            return Err(CredentialError::BadKey(format!(
                "the key file is of type {:?}, not \"service_account\"",
                key.key_type.as_deref().unwrap_or_default()
            )));
        }
        if !key.private_key.contains("PRIVATE KEY") {
            return Err(CredentialError::BadKey(
                "the key file has no PEM private key".to_owned(),
            ));
        }
        let signer = EncodingKey::from_rsa_pem(key.private_key.as_bytes()).map_err(|e| {
            CredentialError::BadKey(format!("the key file's private key cannot sign: {e}"))
        })?;
        crate::google_http::install_crypto();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("mailroom/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| CredentialError::BadKey(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            client_email: key.client_email,
            token_uri: key.token_uri,
            key_id: key.private_key_id,
            signer,
            http,
            hook,
            senders: Arc::new(SenderCache::new(10_000, Duration::from_secs(3600))),
            scope: super::GMAIL_SEND_SCOPE.to_owned(),
        })
    }

    /// Asks for `scope` besides `gmail.send`, when given (`gmail.metadata` for
    /// `gmail.check_before_resend`, `gmail.readonly` for `gmail.read_bounces`): the
    /// domain-wide delegation grant must then cover both.
    #[must_use]
    pub fn with_read_scope(mut self, scope: Option<&str>) -> Self {
        self.scope = match scope {
            Some(read) => format!("{} {read}", super::GMAIL_SEND_SCOPE),
            None => super::GMAIL_SEND_SCOPE.to_owned(),
        };
        self
    }

    /// Asks for `scope` too (the domain-wide delegation grant must then cover it).
    #[must_use]
    pub fn with_extra_scope(mut self, scope: &str) -> Self {
        self.scope = format!("{} {scope}", self.scope);
        self
    }

    /// Keeps at most `capacity` senders' tokens, each for `idle` after its last use (swept
    /// in the background while a tokio runtime runs).
    #[must_use]
    pub fn with_cache(mut self, capacity: usize, idle: Duration) -> Self {
        self.senders = Arc::new(SenderCache::new(capacity, idle));
        SenderCache::sweep_in_background(&self.senders);
        self
    }

    /// The service account's address.
    #[must_use]
    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    /// How many senders' tokens are kept in memory now.
    #[must_use]
    pub fn cached_senders(&self) -> usize {
        self.senders.len()
    }

    async fn mint(&self, sender: &str) -> Result<(AccessToken, Duration), CredentialError> {
        let grant = JwtGrant {
            issuer: &self.client_email,
            token_uri: &self.token_uri,
            key_id: self.key_id.as_deref(),
            signer: &self.signer,
            scope: &self.scope,
        };
        grant.exchange(&self.http, sender).await
    }
}

/// `sender` in lower case, copied only when it has an upper-case letter (it is looked up on
/// every send).
fn lowercase(sender: &str) -> std::borrow::Cow<'_, str> {
    if sender.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(sender.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(sender)
    }
}

/// True while `token` is good for a send: not within a quarter of its life (at most a
/// minute) of expiring.
pub(crate) fn fresh(token: &AccessToken, lifetime_hint: Duration) -> bool {
    token.expires_at.is_none_or(|at| {
        let margin = (lifetime_hint / 4).min(Duration::from_secs(60));
        Utc::now() + chrono::Duration::from_std(margin).unwrap_or_default() < at
    })
}

impl TokenSource for ServiceAccountSource {
    fn token<'a>(&'a self, sender: &'a str) -> BoxFuture<'a, Result<AccessToken, CredentialError>> {
        Box::pin(async move {
            let entry = self.senders.get(&lowercase(sender));
            let cached = |entry: &Sender| {
                entry
                    .token
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone()
            };
            let valid = |(t, lifetime): &(AccessToken, Duration)| fresh(t, *lifetime);
            if let Some((token, _)) = cached(&entry).filter(valid) {
                return Ok(token);
            }
            // One refresh per sender at a time; the others use its result, a token or, while
            // the token endpoint is unavailable, its failure.
            let _refreshing = entry.refresh.lock().await;
            if let Some((token, _)) = cached(&entry).filter(valid) {
                return Ok(token);
            }
            if let Some(failed) = entry.failed.get() {
                return Err(failed);
            }
            let minted = self.mint(sender).await;
            entry.failed.record(&minted);
            (self.hook)(minted.is_ok());
            let (token, lifetime) = minted?;
            *entry.token.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((token.clone(), lifetime));
            Ok(token)
        })
    }

    fn invalidate(&self, sender: &str) {
        if let Some(entry) = self.senders.peek(&lowercase(sender)) {
            *entry.token.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook() -> RefreshHook {
        Arc::new(|_| {})
    }

    #[test]
    fn a_file_that_is_not_a_service_account_key_is_refused_by_name() {
        let err = ServiceAccountSource::from_json(
            r#"{"installed":{"client_id":"x"}}"#,
            Duration::from_secs(5),
            hook(),
        )
        .unwrap_err();
        assert!(
            matches!(err, CredentialError::BadKey(m) if m.contains("not a service account key"))
        );
    }

    #[test]
    fn debug_never_shows_the_private_key() {
        let google = mailroom_testkit::google::FakeGoogle::start();
        let account = google.service_account("mailer@project.iam.gserviceaccount.com");
        let source =
            ServiceAccountSource::from_json(&account.key_json, Duration::from_secs(5), hook())
                .unwrap();
        let shown = format!("{source:?}");
        assert!(shown.contains("mailer@project"), "{shown}");
        let key: serde_json::Value = serde_json::from_str(&account.key_json).unwrap();
        let pem = key["private_key"].as_str().unwrap();
        for line in pem.lines().filter(|l| !l.starts_with("-----")) {
            assert!(!shown.contains(line), "{shown}");
        }
    }

    #[test]
    fn a_key_that_cannot_sign_is_refused_by_name() {
        let json = serde_json::json!({
            "type": "service_account",
            "private_key": "-----BEGIN PRIVATE KEY-----\nSECRETSECRET\n-----END PRIVATE KEY-----\n",
            "client_email": "mailer@project.iam.gserviceaccount.com",
            "token_uri": "http://127.0.0.1:1/token",
        });
        let err =
            ServiceAccountSource::from_json(&json.to_string(), Duration::from_secs(5), hook())
                .unwrap_err();
        assert!(
            matches!(&err, CredentialError::BadKey(m) if m.contains("cannot sign") && !m.contains("SECRETSECRET")),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn while_the_token_endpoint_fails_one_request_answers_a_senders_callers() {
        use mailroom_testkit::google::{FakeGoogle, Fault, FaultRule};

        crate::google_http::install_crypto();
        let google = FakeGoogle::start();
        let account = google.service_account("mailer@demo.iam.gserviceaccount.com");
        google.grant_delegation(&account.client_id, &[super::super::GMAIL_SEND_SCOPE]);
        google.add_domain_user("a@example.com");
        google.add_domain_user("b@example.com");
        google.inject(FaultRule::token(Fault::unavailable()));
        let source =
            ServiceAccountSource::from_json(&account.key_json, Duration::from_secs(5), hook())
                .unwrap();

        let answers =
            futures::future::join_all((0..20).map(|_| source.token("a@example.com"))).await;
        assert!(
            answers
                .iter()
                .all(|a| matches!(a, Err(CredentialError::Unavailable(_)))),
            "{answers:?}"
        );
        assert_eq!(google.token_grants().len(), 1, "one request for 20 callers");
        // Another sender asks on its own.
        assert!(source.token("b@example.com").await.is_err());
        assert_eq!(google.token_grants().len(), 2);

        google.clear_faults();
        assert!(
            source.token("a@example.com").await.is_err(),
            "the failure still answers within REFRESH_RETRY"
        );
        assert_eq!(google.token_grants().len(), 2);
        // The period passes on tokio's clock, without waiting for it; real time goes on after.
        tokio::time::pause();
        tokio::time::advance(super::super::REFRESH_RETRY).await;
        tokio::time::resume();
        source
            .token("a@example.com")
            .await
            .expect("a token once the endpoint is asked again");
        let grants = google.token_grants();
        assert_eq!(grants.len(), 3);
        assert!(grants[2].ok);
    }

    #[test]
    fn tokens_are_kept_until_near_their_expiry() {
        let soon = AccessToken::new("t", Some(Utc::now() + chrono::Duration::seconds(30)));
        assert!(!fresh(&soon, Duration::from_secs(3600)));
        let later = AccessToken::new("t", Some(Utc::now() + chrono::Duration::seconds(600)));
        assert!(fresh(&later, Duration::from_secs(3600)));
    }
}
