//! Stored refresh tokens (`[credentials] kind = "authorized_user"`) against the fake Google,
//! through the real `mailroom auth` commands: `auth login` end to end (`login`), and key
//! rotation, revocation, `auth list` and `auth check` (`tokens`), and what an enrollment
//! refuses or cleans up (`checks`). The web flow and the token
//! source, which run in the test process, are tested in `crates/worker/tests/auth.rs`.

mod checks;
#[path = "../common/mod.rs"]
mod common;
mod login;
mod tokens;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::{Env, write_file};
use mailroom_queue::Queue;
use mailroom_testkit::google::{ClientKind, FakeGoogle, OAuthClient};
use mailroom_worker::config::GoogleSection;
use mailroom_worker::credentials::{
    AuthorizedUserSource, ClientSecrets, RefreshHook, TokenKeys, TokenStore,
};
use secrecy::SecretString;

/// A world for `mailroom auth`: Redis, the fake Google, an OAuth client, a key file, and a
/// config naming them all.
struct World {
    env: Env,
    google: FakeGoogle,
    client: OAuthClient,
    keys_file: PathBuf,
}

impl World {
    fn new(kind: ClientKind, allowed: &[&str]) -> Self {
        let env = Env::new("");
        let google = FakeGoogle::start();
        let client = google.oauth_client(kind);
        let client_file = write_file(env.dir.path(), "client_secret.json", client.json.as_bytes());
        let keys_file = write_file(
            env.dir.path(),
            "token-keys",
            format!("{}\n", TokenKeys::generate_line("k1")).as_bytes(),
        );
        let allowed: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
        let extra = format!(
            "\n[google]\ntoken_url = \"{}\"\nauth_url = \"{}\"\nuserinfo_url = \"{}\"\n\
             tokeninfo_url = \"{}\"\nrevoke_url = \"{}\"\ntimeout = \"10s\"\n\n\
             [credentials]\nkind = \"authorized_user\"\nclient_secrets = \"{}\"\n\
             token_keys = \"{}\"\n\n[jobs]\nallowed_senders = [{}]\n",
            google.token_url(),
            google.auth_url(),
            google.userinfo_url(),
            google.tokeninfo_url(),
            google.revoke_url(),
            client_file.display(),
            keys_file.display(),
            allowed.join(", "),
        );
        let mut toml = std::fs::read_to_string(&env.config).unwrap();
        toml.push_str(&extra);
        std::fs::write(&env.config, toml).unwrap();
        Self {
            env,
            google,
            client,
            keys_file,
        }
    }

    fn google_section(&self) -> GoogleSection {
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

    fn keys(&self) -> Arc<TokenKeys> {
        let text = std::fs::read_to_string(&self.keys_file).unwrap();
        Arc::new(TokenKeys::parse(&text, "token-keys", false).unwrap())
    }

    async fn store(&self) -> TokenStore {
        TokenStore::new(self.env.queue().await, self.keys())
    }

    /// Stores a refresh token the fake issued to `email`, as a login would; returns it.
    async fn enroll(&self, email: &str) -> String {
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

    fn source(&self, store: TokenStore, hook: RefreshHook) -> AuthorizedUserSource {
        let secrets = ClientSecrets::parse(&self.client.json, "client_secret.json").unwrap();
        AuthorizedUserSource::new(store, secrets, &self.google_section(), hook).unwrap()
    }
}

/// Every key and value in the Redis, as text.
async fn raw_redis(queue: &Queue) -> String {
    mailroom_testkit::redis_dump(&mut queue.connection()).await
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn location(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), 302, "{response:?}");
    response.headers()[reqwest::header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned()
}

fn query(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
