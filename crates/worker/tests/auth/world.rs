//! The world the stored-token tests run in: a Redis of their own, the fake Google, an OAuth
//! client and a token key file, and helpers to look at what they left.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use mailroom_queue::{Queue, QueueConfig};
use mailroom_testkit::RedisServer;
use mailroom_testkit::google::{ClientKind, FakeGoogle, OAuthClient};
use mailroom_worker::config::{
    Config, CredentialKind, CredentialsSection, GoogleSection, JobsSection,
};
use mailroom_worker::credentials::{
    AuthorizedUserSource, ClientSecrets, RefreshHook, TokenKeys, TokenStore,
};
use secrecy::SecretString;

/// A Redis of its own and a directory for the files the credentials are read from.
pub(crate) struct Env {
    pub(crate) redis: RedisServer,
    pub(crate) dir: tempfile::TempDir,
}

impl Env {
    pub(crate) async fn queue(&self) -> Queue {
        Queue::connect(&self.redis.url(), QueueConfig::default())
            .await
            .expect("connect to redis")
    }
}

/// Writes a file in `dir` and returns its path.
pub(crate) fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write file");
    // Secret files others may read are refused.
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod 600");
    path
}

/// A world for stored tokens: Redis, the fake Google, an OAuth client and a key file.
pub(crate) struct World {
    pub(crate) env: Env,
    pub(crate) google: FakeGoogle,
    pub(crate) client: OAuthClient,
    pub(crate) client_file: PathBuf,
    pub(crate) keys_file: PathBuf,
}

impl World {
    pub(crate) fn new(kind: ClientKind) -> Self {
        let env = Env {
            redis: RedisServer::start(),
            dir: tempfile::tempdir().expect("temp dir"),
        };
        let google = FakeGoogle::start();
        let client = google.oauth_client(kind);
        let client_file = write_file(env.dir.path(), "client_secret.json", client.json.as_bytes());
        let keys_file = write_file(
            env.dir.path(),
            "token-keys",
            format!("{}\n", TokenKeys::generate_line("k1")).as_bytes(),
        );
        Self {
            env,
            google,
            client,
            client_file,
            keys_file,
        }
    }

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

    pub(crate) fn config(&self) -> Config {
        Config {
            google: self.google_section(),
            credentials: CredentialsSection {
                kind: CredentialKind::AuthorizedUser,
                client_secrets: Some(self.client_file.clone()),
                token_keys: Some(self.keys_file.clone()),
                ..CredentialsSection::default()
            },
            jobs: JobsSection {
                allowed_senders: vec!["*@example.com".to_owned()],
                ..JobsSection::default()
            },
            ..Config::default()
        }
    }

    pub(crate) fn keys(&self) -> Arc<TokenKeys> {
        let text = std::fs::read_to_string(&self.keys_file).unwrap();
        Arc::new(TokenKeys::parse(&text, "token-keys", false).unwrap())
    }

    pub(crate) async fn store(&self) -> TokenStore {
        TokenStore::new(self.env.queue().await, self.keys())
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

/// A plain connection to the test's Redis, for looking at keys directly.
pub(crate) async fn raw_conn(env: &Env) -> redis::aio::MultiplexedConnection {
    redis::Client::open(env.redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Every key and value in the Redis, as text.
pub(crate) async fn raw_redis(env: &Env) -> String {
    mailroom_testkit::redis_dump(&mut raw_conn(env).await).await
}

pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub(crate) fn location(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), 302, "{response:?}");
    response.headers()[reqwest::header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

pub(crate) fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
