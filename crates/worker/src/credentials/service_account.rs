//! A Google Workspace service account with domain-wide delegation: one yup-oauth2
//! authenticator per sender (`subject = sender`), created on first use and kept; tokens are
//! kept until shortly before they expire, then minted again at the key file's `token_uri`.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use yup_oauth2::authenticator::Authenticator;
use yup_oauth2::error::AuthErrorCode;
use yup_oauth2::{
    DefaultHyperClientBuilder, HyperClientBuilder, ServiceAccountAuthenticator, ServiceAccountKey,
};

use super::{
    AccessToken, CredentialError, GMAIL_SEND_SCOPE, RecentFailure, RefreshHook, TokenSource,
};

type Connector = <DefaultHyperClientBuilder as HyperClientBuilder>::Connector;

/// Tokens for every sender of a Workspace domain, through one service account key.
pub struct ServiceAccountSource {
    key: ServiceAccountKey,
    timeout: Duration,
    hook: RefreshHook,
    senders: Mutex<HashMap<String, Arc<Sender>>>,
}

/// One sender's authenticator and its last token.
struct Sender {
    auth: tokio::sync::OnceCell<Authenticator<Connector>>,
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
            .field("client_email", &self.key.client_email)
            .field("token_uri", &self.key.token_uri)
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

    /// The source `[credentials] service_account_key` names.
    ///
    /// # Errors
    /// [`CredentialError::BadKey`] when the key is not configured or cannot be used.
    pub fn from_config(config: &crate::Config, hook: RefreshHook) -> Result<Self, CredentialError> {
        let path = config
            .credentials
            .service_account_key
            .as_deref()
            .ok_or_else(|| {
                CredentialError::BadKey("credentials.service_account_key is not set".to_owned())
            })?;
        Self::from_file(path, config.google.timeout, hook)
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
        let key: ServiceAccountKey = serde_json::from_str(json)
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
        Ok(Self {
            key,
            timeout,
            hook,
            senders: Mutex::new(HashMap::new()),
        })
    }

    /// The service account's address.
    #[must_use]
    pub fn client_email(&self) -> &str {
        &self.key.client_email
    }

    fn sender(&self, sender: &str) -> Arc<Sender> {
        let mut senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        senders
            .entry(sender.to_ascii_lowercase())
            .or_insert_with(|| {
                Arc::new(Sender {
                    auth: tokio::sync::OnceCell::new(),
                    token: Mutex::new(None),
                    refresh: tokio::sync::Mutex::new(()),
                    failed: RecentFailure::default(),
                })
            })
            .clone()
    }

    async fn mint(&self, sender: &str, entry: &Sender) -> Result<AccessToken, CredentialError> {
        let auth = entry
            .auth
            .get_or_try_init(|| async {
                ServiceAccountAuthenticator::builder(self.key.clone())
                    .subject(sender)
                    .build()
                    .await
                    .map_err(|e| CredentialError::BadKey(format!("cannot use the key: {e}")))
            })
            .await?;
        let minted = tokio::time::timeout(
            self.timeout,
            auth.force_refreshed_token(&[GMAIL_SEND_SCOPE]),
        )
        .await
        .map_err(|_| {
            CredentialError::Unavailable(format!(
                "no answer from the token endpoint within {:?}",
                self.timeout
            ))
        })?
        .map_err(classify_mint_error)?;
        let token = minted.token().ok_or_else(|| {
            CredentialError::Unavailable("the token endpoint sent no access token".to_owned())
        })?;
        let expires_at = minted
            .expiration_time()
            .and_then(|t| DateTime::<Utc>::from_timestamp(t.unix_timestamp(), 0));
        Ok(AccessToken::new(token, expires_at))
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
            let entry = self.sender(sender);
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
            let minted = self.mint(sender, &entry).await;
            entry.failed.record(&minted);
            (self.hook)(minted.is_ok());
            let token = minted?;
            let lifetime = token
                .expires_at
                .and_then(|at| (at - Utc::now()).to_std().ok())
                .unwrap_or(Duration::from_secs(3600));
            *entry.token.lock().unwrap_or_else(|e| e.into_inner()) =
                Some((token.clone(), lifetime));
            Ok(token)
        })
    }

    fn invalidate(&self, sender: &str) {
        *self
            .sender(sender)
            .token
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// What a failure to mint a delegated token (a yup-oauth2 error) means for the sender.
fn classify_mint_error(e: yup_oauth2::Error) -> CredentialError {
    match e {
        yup_oauth2::Error::AuthError(auth) => {
            let text = auth
                .error_description
                .clone()
                .unwrap_or_else(|| auth.error.as_str().to_owned());
            match auth.error {
                AuthErrorCode::InvalidGrant if text.to_ascii_lowercase().contains("signature") => {
                    CredentialError::BadKey(text)
                }
                AuthErrorCode::InvalidGrant => CredentialError::Revoked(text),
                AuthErrorCode::UnauthorizedClient
                | AuthErrorCode::InvalidScope
                | AuthErrorCode::AccessDenied => CredentialError::DelegationDenied(text),
                AuthErrorCode::InvalidClient | AuthErrorCode::InvalidRequest => {
                    CredentialError::BadKey(text)
                }
                _ => CredentialError::Unavailable(format!("{}: {text}", auth.error.as_str())),
            }
        }
        yup_oauth2::Error::UserError(text) => CredentialError::BadKey(text),
        yup_oauth2::Error::CredentialSourceError(e) => CredentialError::BadKey(e.to_string()),
        other => CredentialError::Unavailable(other.to_string()),
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
        let json = serde_json::json!({
            "type": "service_account",
            "private_key": "-----BEGIN PRIVATE KEY-----\nSECRETSECRET\n-----END PRIVATE KEY-----\n",
            "client_email": "mailer@project.iam.gserviceaccount.com",
            "token_uri": "http://127.0.0.1:1/token",
        });
        let source =
            ServiceAccountSource::from_json(&json.to_string(), Duration::from_secs(5), hook())
                .unwrap();
        let shown = format!("{source:?}");
        assert!(shown.contains("mailer@project"), "{shown}");
        assert!(!shown.contains("SECRETSECRET"), "{shown}");
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
