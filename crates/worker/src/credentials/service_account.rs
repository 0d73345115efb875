//! A Google Workspace service account with domain-wide delegation: for each sender a JWT
//! assertion (`sub = sender`) signed with the account's key is exchanged for an access token
//! at the key file's `token_uri`. The key is parsed once and one HTTP client (one root
//! certificate store) serves every sender; what is kept per sender (its token, its refresh
//! lock) lives in a [`SenderCache`]: at most `credentials.max_cached_senders`, each dropped
//! after `credentials.sender_idle` unused, so memory stays bounded whatever senders appear.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures::future::BoxFuture;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

use super::cache::SenderCache;
use super::{
    AccessToken, CredentialError, GMAIL_SEND_SCOPE, RecentFailure, RefreshHook, TokenSource,
};
use crate::google_http::error_chain;

/// Longest lifetime believed of an access token, whatever `expires_in` says (Google's are
/// an hour).
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);

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

/// The claims of the JWT assertion.
#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: i64,
    exp: i64,
}

/// The token endpoint's answer, success or OAuth error.
#[derive(Deserialize)]
struct Answer {
    access_token: Option<String>,
    expires_in: Option<serde_json::Value>,
    error: Option<String>,
    error_description: Option<String>,
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
        })
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

    /// The signed assertion asking for a `gmail.send` token as `sender`.
    fn assertion(&self, sender: &str) -> Result<String, CredentialError> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            iss: &self.client_email,
            sub: sender,
            scope: GMAIL_SEND_SCOPE,
            aud: &self.token_uri,
            iat: now,
            exp: now + 3600,
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid.clone_from(&self.key_id);
        jsonwebtoken::encode(&header, &claims, &self.signer)
            .map_err(|e| CredentialError::BadKey(format!("cannot sign the assertion: {e}")))
    }

    async fn mint(&self, sender: &str) -> Result<(AccessToken, Duration), CredentialError> {
        let assertion = self.assertion(sender)?;
        let response = self
            .http
            .post(&self.token_uri)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|e| CredentialError::Unavailable(error_chain(&e)))?;
        let status = response.status().as_u16();
        let answer: Option<Answer> = response.json().await.ok();
        let Some(answer) = answer else {
            return Err(CredentialError::Unavailable(format!(
                "HTTP {status}: the token endpoint's answer is not OAuth JSON"
            )));
        };
        if let Some(code) = answer.error.as_deref() {
            let text = answer.error_description.as_deref().unwrap_or(code);
            return Err(classify_mint_error(status, code, text));
        }
        let token = answer
            .access_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                CredentialError::Unavailable(format!(
                    "HTTP {status}: no access token in the answer"
                ))
            })?;
        let lifetime = lifetime(answer.expires_in.as_ref());
        let expires_at = chrono::Duration::from_std(lifetime)
            .ok()
            .and_then(|d| Utc::now().checked_add_signed(d));
        Ok((AccessToken::new(token, expires_at), lifetime))
    }
}

/// An `expires_in` as a lifetime, clamped to [`MAX_TOKEN_LIFETIME`]: a number or a string of
/// seconds, an hour when absent or unreadable.
fn lifetime(expires_in: Option<&serde_json::Value>) -> Duration {
    let seconds = expires_in.and_then(|v| {
        v.as_u64()
            .or_else(|| {
                v.as_f64()
                    .filter(|f| *f >= 0.0)
                    .map(|f| f.min(u64::MAX as f64) as u64)
            })
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
    });
    seconds.map_or(Duration::from_secs(3600), |s| {
        Duration::from_secs(s).min(MAX_TOKEN_LIFETIME)
    })
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
            let entry = self.senders.get(&sender.to_ascii_lowercase());
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
        if let Some(entry) = self.senders.peek(&sender.to_ascii_lowercase()) {
            *entry.token.lock().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }
}

/// What a refused assertion (an OAuth error `code` with its `text`, at HTTP `status`) means
/// for the sender.
fn classify_mint_error(status: u16, code: &str, text: &str) -> CredentialError {
    let text = text.to_owned();
    match code {
        "invalid_grant" if text.to_ascii_lowercase().contains("signature") => {
            CredentialError::BadKey(text)
        }
        "invalid_grant" => CredentialError::Revoked(text),
        "unauthorized_client" | "invalid_scope" | "access_denied" => {
            CredentialError::DelegationDenied(text)
        }
        "invalid_client" | "invalid_request" => CredentialError::BadKey(text),
        _ if status >= 500 || status == 429 => {
            CredentialError::Unavailable(format!("HTTP {status}: {code}: {text}"))
        }
        _ => CredentialError::BadKey(format!("HTTP {status}: {code}: {text}")),
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

    #[test]
    fn expires_in_is_clamped_and_read_in_any_form() {
        use serde_json::json;
        assert_eq!(lifetime(None), Duration::from_secs(3600));
        assert_eq!(lifetime(Some(&json!(3599))), Duration::from_secs(3599));
        assert_eq!(lifetime(Some(&json!("120"))), Duration::from_secs(120));
        assert_eq!(lifetime(Some(&json!(u64::MAX))), MAX_TOKEN_LIFETIME);
        assert_eq!(lifetime(Some(&json!(1e300))), MAX_TOKEN_LIFETIME);
        assert_eq!(lifetime(Some(&json!(-5))), Duration::from_secs(3600));
    }

    #[tokio::test]
    async fn while_the_token_endpoint_fails_one_request_answers_a_senders_callers() {
        use mailroom_testkit::google::{FakeGoogle, Fault, FaultRule};

        crate::google_http::install_crypto();
        let google = FakeGoogle::start();
        let account = google.service_account("mailer@demo.iam.gserviceaccount.com");
        google.grant_delegation(&account.client_id, &[GMAIL_SEND_SCOPE]);
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
