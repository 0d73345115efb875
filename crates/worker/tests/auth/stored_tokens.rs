//! What every stored-token test needs beside its Redis: the fake Google, an OAuth client and
//! a token key file written to disk, and the token store and source over them. Shared by the
//! in-process tests here and the `mailroom auth` tests in `tests/auth` (which include this
//! file by path), so that both enroll and read tokens the same way.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mailroom_queue::{Queue, QueueConfig};
use mailroom_testkit::google::{ClientKind, FakeGoogle, OAuthClient};
use mailroom_worker::config::GoogleSection;
use mailroom_worker::credentials::{
    AuthorizedUserSource, ClientSecrets, RefreshHook, TokenKeys, TokenStore,
};
use secrecy::SecretString;

pub(crate) use mailroom_testkit::write_secret;

/// The fake Google, an OAuth client of `kind` (its secrets file written) and a key file with
/// one key, `k1`, for the Redis at `redis_url`.
pub(crate) struct Tokens {
    pub(crate) google: FakeGoogle,
    pub(crate) client: OAuthClient,
    pub(crate) client_file: PathBuf,
    pub(crate) keys_file: PathBuf,
    redis_url: String,
}

impl Tokens {
    pub(crate) fn new(kind: ClientKind, dir: &Path, redis_url: String) -> Self {
        let google = FakeGoogle::start();
        let client = google.oauth_client(kind);
        let client_file = write_secret(dir, "client_secret.json", client.json.as_bytes());
        let keys_file = write_secret(
            dir,
            "token-keys",
            format!("{}\n", TokenKeys::generate_line("k1")).as_bytes(),
        );
        Self {
            google,
            client,
            client_file,
            keys_file,
            redis_url,
        }
    }

    /// The `[google]` section pointing at the fake.
    pub(crate) fn google_section(&self) -> GoogleSection {
        GoogleSection {
            token_url: self.google.token_url(),
            auth_url: self.google.auth_url(),
            userinfo_url: self.google.userinfo_url(),
            tokeninfo_url: self.google.tokeninfo_url(),
            revoke_url: self.google.revoke_url(),
            timeout: Duration::from_secs(10),
            ..GoogleSection::default()
        }
    }

    /// The keys as the key file holds them now.
    pub(crate) fn keys(&self) -> Arc<TokenKeys> {
        let text = std::fs::read_to_string(&self.keys_file).unwrap();
        Arc::new(TokenKeys::parse(&text, "token-keys", false).unwrap())
    }

    pub(crate) async fn store(&self) -> TokenStore {
        let queue = Queue::connect(&self.redis_url, QueueConfig::default())
            .await
            .expect("connect to redis");
        TokenStore::new(queue, self.keys())
    }

    /// Stores a refresh token the fake issued to `email`, as a login would; returns it.
    pub(crate) async fn enroll(&self, email: &str) -> String {
        let token = self.google.authorized_user(&self.client, email);
        self.store()
            .await
            .put(
                email,
                &SecretString::from(token.clone()),
                &self.client.client_id,
                &[mailroom_worker::credentials::GMAIL_SEND_SCOPE.to_owned()],
            )
            .await
            .unwrap();
        token
    }

    pub(crate) fn source(&self, store: TokenStore, hook: RefreshHook) -> AuthorizedUserSource {
        let secrets = ClientSecrets::parse(&self.client.json, "client_secret.json").unwrap();
        AuthorizedUserSource::new(store, secrets, &self.google_section(), hook).unwrap()
    }
}

/// An HTTP client that does not follow redirects, to look at them.
pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Where a 302 answer sends the browser.
pub(crate) fn location(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), 302, "{response:?}");
    response.headers()[reqwest::header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

/// The query parameters of `url`.
pub(crate) fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
