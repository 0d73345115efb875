//! The credentials the fake hands out: service-account key files, OAuth
//! client secrets (`client_secret.json`), and refresh and access tokens
//! issued without running a flow.

use serde_json::json;

use super::FakeGoogle;
use super::ids::{normalize_email, random_digits, random_hex, random_lower_alnum, random_token};
use super::keys;
use super::state::{
    AUTHORIZED_USER_SCOPES, AccessRecordInit, ClientRecord, PROJECT_ID, ServiceAccountRecord,
};
use super::types::{ClientKind, OAuthClient, ServiceAccount};

impl FakeGoogle {
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
}
