//! Stored refresh tokens (`[credentials] kind = "authorized_user"`) against the fake Google:
//! `mailroom auth login` end to end, the web flow, refreshing, revocation, key rotation and
//! the client secrets file.

#[path = "../common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use common::{Env, write_file};
use mailroom_queue::Queue;
use mailroom_testkit::google::{ClientKind, FakeGoogle, Fault, FaultRule, OAuthClient};
use mailroom_worker::config::{
    Config, CredentialKind, CredentialsSection, GoogleSection, JobsSection,
};
use mailroom_worker::credentials::{
    AuthorizedUserSource, ClientSecrets, CredentialError, REFRESH_RETRY, RefreshHook, TokenKeys,
    TokenSource, TokenStore,
};
use redis::AsyncCommands as _;
use secrecy::{ExposeSecret, SecretString};

/// A world for `mailroom auth`: Redis, the fake Google, an OAuth client, a key file, and a
/// config naming them all.
struct World {
    env: Env,
    google: FakeGoogle,
    client: OAuthClient,
    client_file: PathBuf,
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
             revoke_url = \"{}\"\ntimeout = \"10s\"\n\n\
             [credentials]\nkind = \"authorized_user\"\nclient_secrets = \"{}\"\n\
             token_keys = \"{}\"\n\n[jobs]\nallowed_senders = [{}]\n",
            google.token_url(),
            google.auth_url(),
            google.userinfo_url(),
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
            client_file,
            keys_file,
        }
    }

    fn google_section(&self) -> GoogleSection {
        GoogleSection {
            token_url: self.google.token_url(),
            auth_url: self.google.auth_url(),
            userinfo_url: self.google.userinfo_url(),
            revoke_url: self.google.revoke_url(),
            timeout: Duration::from_secs(10),
            ..GoogleSection::default()
        }
    }

    fn config(&self) -> Config {
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
    let mut conn = queue.connection();
    let names: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .unwrap();
    let mut dump = String::new();
    for name in names {
        let kind: String = redis::cmd("TYPE")
            .arg(&name)
            .query_async(&mut conn)
            .await
            .unwrap();
        let value = match kind.as_str() {
            "hash" => format!(
                "{:?}",
                conn.hgetall::<_, HashMap<String, String>>(&name)
                    .await
                    .unwrap()
            ),
            "set" => format!(
                "{:?}",
                conn.smembers::<_, Vec<String>>(&name).await.unwrap()
            ),
            "string" => conn.get::<_, String>(&name).await.unwrap(),
            other => format!("({other})"),
        };
        dump.push_str(&format!("{name} = {value}\n"));
    }
    dump
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

/// A running `mailroom auth login --no-browser`, its printed URL and its stderr so far.
struct Login {
    child: Child,
    url: String,
    stderr: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl Login {
    fn start(world: &World, extra: &[&str]) -> Self {
        let mut args = vec!["auth", "login", "--no-browser"];
        args.extend_from_slice(extra);
        let mut child = world
            .env
            .command(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mailroom auth login");
        let pipe = child.stderr.take().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = {
            let stderr = Arc::clone(&stderr);
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if line.trim().starts_with("http") {
                        let _ = tx.send(line.trim().to_owned());
                    }
                    let mut text = stderr.lock().unwrap();
                    text.push_str(&line);
                    text.push('\n');
                }
            })
        };
        let Ok(url) = rx.recv_timeout(Duration::from_secs(30)) else {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "no URL printed; status {:?}\nstdout: {}\nstderr: {}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                stderr.lock().unwrap()
            );
        };
        Self {
            child,
            url,
            stderr,
            reader: Some(reader),
        }
    }

    /// The loopback redirect URI the login listens on.
    fn redirect_uri(&self) -> String {
        query(&self.url)["redirect_uri"].clone()
    }

    /// Waits for the exit; returns (status, stdout, stderr).
    fn finish(mut self) -> (Option<i32>, String, String) {
        let mut stdout = String::new();
        std::io::Read::read_to_string(self.child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
        let status = self.child.wait().unwrap();
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        let stderr = self.stderr.lock().unwrap().clone();
        (status.code(), stdout, stderr)
    }
}

impl Drop for Login {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Plays the browser: consent screen, then the redirect to the loopback listener.
async fn follow(url: &str) -> (u16, String) {
    let http = http();
    let consent = http.get(url).send().await.unwrap();
    let back = location(&consent);
    let page = http.get(&back).send().await.unwrap();
    let status = page.status().as_u16();
    (status, page.text().await.unwrap())
}

#[tokio::test]
async fn login_stores_an_encrypted_token_end_to_end() {
    let world = World::new(ClientKind::Installed, &["*@example.com"]);
    world.google.set_consenting_user("Alice@Example.com");
    let queue = world.env.queue().await;
    queue
        .quarantine_sender("alice@example.com", "invalid_grant")
        .await
        .unwrap();

    let login = Login::start(&world, &[]);
    let redirect_uri = login.redirect_uri();
    assert!(
        redirect_uri.starts_with("http://127.0.0.1:") && redirect_uri.ends_with('/'),
        "{redirect_uri}"
    );
    let (status, page) = follow(&login.url).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("mailroom can now send as <strong>alice@example.com</strong>"),
        "{page}"
    );
    let (code, stdout, stderr) = login.finish();
    assert_eq!(code, Some(0), "stdout: {stdout}\nstderr: {stderr}");
    assert_eq!(stdout, "stored a token for alice@example.com\n", "{stderr}");

    // What was asked of Google.
    let requests = world.google.auth_requests();
    assert_eq!(requests.len(), 1);
    let asked = &requests[0];
    assert_eq!(asked.param("response_type"), Some("code"));
    assert_eq!(
        asked.param("client_id"),
        Some(world.client.client_id.as_str())
    );
    assert_eq!(asked.param("redirect_uri"), Some(redirect_uri.as_str()));
    assert_eq!(asked.param("code_challenge_method"), Some("S256"));
    assert_eq!(asked.param("access_type"), Some("offline"));
    assert_eq!(asked.param("prompt"), Some("consent"));
    assert!(asked.param("state").is_some_and(|s| s.len() >= 16));
    let mut scopes = asked.scopes();
    scopes.sort_unstable();
    assert_eq!(
        scopes,
        [
            "https://www.googleapis.com/auth/gmail.send",
            "https://www.googleapis.com/auth/userinfo.email",
            "https://www.googleapis.com/auth/userinfo.profile",
            "openid",
        ]
    );

    // The token is stored encrypted, works, and lifted the quarantine.
    let store = world.store().await;
    let stored = store
        .get("alice@example.com")
        .await
        .unwrap()
        .expect("stored");
    let refresh = stored.refresh_token.expose_secret().to_owned();
    assert!(refresh.starts_with("1//"), "a fake refresh token");
    assert_eq!(stored.info.client_id, world.client.client_id);
    assert_eq!(stored.info.key_id, "k1");
    let dump = raw_redis(&queue).await;
    assert!(
        dump.contains("{mailroom}:token:alice@example.com"),
        "{dump}"
    );
    assert!(
        !dump.contains(&refresh),
        "refresh token in clear in Redis:\n{dump}"
    );
    assert!(!dump.contains(&refresh[4..40]), "{dump}");
    assert!(!stderr.contains(&refresh[4..40]), "{stderr}");
    let states = queue.sender_states().await.unwrap();
    assert!(
        states
            .iter()
            .all(|s| s.sender != "alice@example.com" || s.quarantined.is_none()),
        "{states:?}"
    );
    let source = world.source(store, Arc::new(|_| {}));
    source
        .token("alice@example.com")
        .await
        .expect("a working token");
}

#[tokio::test]
async fn login_refuses_a_wrong_state_and_keeps_waiting() {
    let world = World::new(ClientKind::Installed, &[]);
    world.google.set_consenting_user("alice@example.com");
    let login = Login::start(&world, &[]);
    let http = http();
    let base = login.redirect_uri();

    for forged in [
        format!("{base}?code=4/0forged&state=not-the-state"),
        format!("{base}?code=4/0forged"),
    ] {
        let page = http.get(&forged).send().await.unwrap();
        assert_eq!(page.status(), 400);
        let text = page.text().await.unwrap();
        assert!(text.contains("state does not match"), "{text}");
    }
    assert!(
        world.google.token_grants().is_empty(),
        "a forged code was exchanged"
    );

    let (status, page) = follow(&login.url).await;
    assert_eq!(status, 200, "{page}");
    let (code, stdout, stderr) = login.finish();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "stored a token for alice@example.com\n");
    assert_eq!(
        stderr
            .matches("ignored a redirect whose state does not match")
            .count(),
        2,
        "{stderr}"
    );
}

#[tokio::test]
async fn login_refuses_a_sender_off_the_allowlist_unless_forced() {
    let world = World::new(ClientKind::Installed, &["*@example.com"]);
    world.google.set_consenting_user("mallory@elsewhere.org");

    let login = Login::start(&world, &[]);
    let (status, page) = follow(&login.url).await;
    assert_eq!(status, 400);
    assert!(
        page.contains("mallory@elsewhere.org is not in [jobs] allowed_senders"),
        "{page}"
    );
    let (code, stdout, stderr) = login.finish();
    assert_eq!(code, Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("mallory@elsewhere.org is not in [jobs] allowed_senders"),
        "{stderr}"
    );
    assert!(world.store().await.list().await.unwrap().is_empty());

    let login = Login::start(&world, &["--force"]);
    let (status, _) = follow(&login.url).await;
    assert_eq!(status, 200);
    let (code, stdout, stderr) = login.finish();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "stored a token for mallory@elsewhere.org\n");
}

#[tokio::test]
async fn login_reports_a_refused_consent() {
    let world = World::new(ClientKind::Installed, &[]);
    world.google.set_consenting_user("alice@example.com");
    let login = Login::start(&world, &[]);
    let state = query(&login.url)["state"].clone();
    let denied = format!("{}?error=access_denied&state={state}", login.redirect_uri());
    let page = http().get(&denied).send().await.unwrap();
    assert_eq!(page.status(), 400);
    let (code, _, stderr) = login.finish();
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(
            "Google refused the sign-in: the account did not grant access (access_denied)"
        ),
        "{stderr}"
    );
}

#[test]
fn login_explains_a_file_that_is_not_an_oauth_client() {
    let world = World::new(ClientKind::Installed, &[]);
    let account = world
        .google
        .service_account("mailer@project.iam.gserviceaccount.com");
    let key = write_file(
        world.env.dir.path(),
        "key.json",
        account.key_json.as_bytes(),
    );
    let out = world.env.run(&[
        "auth",
        "login",
        "--no-browser",
        "--client-secrets",
        key.to_str().unwrap(),
    ]);
    assert_eq!(out.code(), Some(2));
    let err = out.stderr();
    assert!(
        err.contains(
            "expected an OAuth client file with an \"installed\" or \"web\" object, as \
             downloaded from Google Cloud Console; got top-level keys"
        ),
        "{err}"
    );
    assert!(err.contains("\"private_key\""), "{err}");
    assert!(!err.contains("BEGIN PRIVATE KEY"), "{err}");
}

#[tokio::test]
async fn the_web_flow_needs_the_admin_token_and_stores_a_working_token() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let world = World::new(
        ClientKind::Web {
            redirect_uris: vec![format!("{base}/oauth2/callback")],
        },
        &[],
    );
    world.google.set_consenting_user("bob@example.com");
    let admin = write_file(world.env.dir.path(), "admin-token", b"s3cret-admin\n");
    let mut config = world.config();
    config.credentials.admin_token_file = Some(admin);
    config.credentials.public_url = Some(format!("{base}/"));
    let queue = world.env.queue().await;
    queue
        .quarantine_sender("bob@example.com", "invalid_grant")
        .await
        .unwrap();
    let state =
        mailroom_worker::onboarding::OnboardingState::from_config(&config, queue.clone()).unwrap();
    assert_eq!(state.redirect_uri(), format!("{base}/oauth2/callback"));
    let server = tokio::spawn(async move {
        axum::serve(listener, mailroom_worker::onboarding::routes(state))
            .await
            .unwrap();
    });
    let http = http();
    let start = format!("{base}/oauth2/start");

    for request in [
        http.get(&start),
        http.get(&start).bearer_auth("wrong"),
        http.get(format!("{start}?token=s3cret-admin")),
        http.get(&start)
            .header("Authorization", "Basic czNjcmV0LWFkbWlu"),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        assert!(response.headers().contains_key("www-authenticate"));
    }
    assert!(world.google.auth_requests().is_empty());

    let response = http
        .get(&start)
        .bearer_auth("s3cret-admin")
        .send()
        .await
        .unwrap();
    let to_google = location(&response);
    assert!(
        to_google.starts_with(&world.google.auth_url()),
        "{to_google}"
    );
    let params = query(&to_google);
    assert_eq!(params["redirect_uri"], format!("{base}/oauth2/callback"));
    assert_eq!(params["code_challenge_method"], "S256");
    assert!(
        raw_redis(&queue)
            .await
            .contains(&format!("{{mailroom}}:oauth:state:{}", params["state"]))
    );
    let ttl: i64 = queue
        .connection()
        .ttl(format!("{{mailroom}}:oauth:state:{}", params["state"]))
        .await
        .unwrap();
    assert!((590..=600).contains(&ttl), "{ttl}");

    let callback = location(&http.get(&to_google).send().await.unwrap());
    let page = http.get(&callback).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let text = page.text().await.unwrap();
    assert!(
        text.contains("mailroom can now send as <strong>bob@example.com</strong>"),
        "{text}"
    );

    // The state was single use.
    let again = http.get(&callback).send().await.unwrap();
    assert_eq!(again.status(), 400);
    assert!(!raw_redis(&queue).await.contains("oauth:state"));

    let store = world.store().await;
    let stored = store.get("bob@example.com").await.unwrap().expect("stored");
    assert!(
        !raw_redis(&queue)
            .await
            .contains(stored.refresh_token.expose_secret())
    );
    let states = queue.sender_states().await.unwrap();
    assert!(states.iter().all(|s| s.quarantined.is_none()), "{states:?}");
    let source = world.source(store, Arc::new(|_| {}));
    source
        .token("bob@example.com")
        .await
        .expect("a working token");

    let unknown = http
        .get(format!("{base}/oauth2/callback?code=x&state=unknownstate"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
    server.abort();
}

#[tokio::test]
async fn the_source_caches_refreshes_and_classifies() {
    let world = World::new(ClientKind::Installed, &[]);
    world.enroll("carol@example.com").await;
    let (oks, errs) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let hook: RefreshHook = {
        let (oks, errs) = (Arc::clone(&oks), Arc::clone(&errs));
        Arc::new(move |ok| {
            if ok { &oks } else { &errs }.fetch_add(1, Ordering::SeqCst);
        })
    };
    let store = world.store().await;
    let source = world.source(store.clone(), hook);
    let refreshes = || {
        world
            .google
            .token_grants()
            .iter()
            .filter(|g| g.grant_type == "refresh_token")
            .count()
    };

    // Cached: one refresh for many calls, even concurrent ones.
    let first = source.token("carol@example.com").await.unwrap();
    let again = source.token("Carol@Example.com").await.unwrap();
    assert_eq!(first.expose(), again.expose());
    assert_eq!(refreshes(), 1);
    assert!(!format!("{first:?}").contains(first.expose()));
    source.invalidate("carol@example.com");
    let calls: Vec<_> = (0..8).map(|_| source.token("carol@example.com")).collect();
    let tokens = futures::future::join_all(calls).await;
    assert_eq!(refreshes(), 2, "concurrent callers share one refresh");
    assert!(
        tokens
            .iter()
            .all(|t| t.as_ref().unwrap().expose() == tokens[0].as_ref().unwrap().expose())
    );
    let info = &store.list().await.unwrap()[0];
    assert!(info.refreshed_at.is_some() && info.last_error.is_none());

    // Short-lived tokens are refreshed before they expire, without an error.
    world.google.set_token_lifetime(Duration::from_secs(1));
    source.invalidate("carol@example.com");
    let short = source.token("carol@example.com").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let renewed = source.token("carol@example.com").await.unwrap();
    assert_ne!(short.expose(), renewed.expose());
    world.google.set_token_lifetime(Duration::from_secs(3600));

    // Google failing is temporary. The failure answers the sender's callers for
    // REFRESH_RETRY; then the token endpoint is asked again.
    source.invalidate("carol@example.com");
    world
        .google
        .inject(FaultRule::token(Fault::unavailable()).once());
    let err = source.token("carol@example.com").await.unwrap_err();
    assert!(matches!(err, CredentialError::Unavailable(_)), "{err:?}");
    assert!(!err.quarantines());
    let asked = refreshes();
    let again = source.token("carol@example.com").await.unwrap_err();
    assert_eq!(again, err);
    assert_eq!(refreshes(), asked, "not asked again within REFRESH_RETRY");
    tokio::time::sleep(REFRESH_RETRY).await;
    world
        .google
        .inject(FaultRule::token(Fault::BadGateway).once());
    let err = source.token("carol@example.com").await.unwrap_err();
    assert!(matches!(err, CredentialError::Unavailable(_)), "{err:?}");
    tokio::time::sleep(REFRESH_RETRY).await;
    source.token("carol@example.com").await.unwrap();

    // A revoked grant quarantines, and is recorded.
    world.google.revoke_user("carol@example.com");
    source.invalidate("carol@example.com");
    let err = source.token("carol@example.com").await.unwrap_err();
    assert_eq!(
        err,
        CredentialError::Revoked("Token has been expired or revoked.".into())
    );
    assert!(err.quarantines());
    let info = &store.list().await.unwrap()[0];
    assert_eq!(
        info.last_error.as_deref(),
        Some("grant refused (invalid_grant): Token has been expired or revoked.")
    );

    assert_eq!(
        source.token("nobody@example.com").await.unwrap_err(),
        CredentialError::NotEnrolled
    );
    assert!(oks.load(Ordering::SeqCst) >= 4);
    assert!(errs.load(Ordering::SeqCst) >= 4);

    // A client secret Google does not accept is a bad key.
    world.enroll("dave@example.com").await;
    let wrong = world
        .client
        .json
        .replace(&world.client.client_secret, "GOCSPX-wrong");
    let bad = AuthorizedUserSource::new(
        store,
        ClientSecrets::parse(&wrong, "client_secret.json").unwrap(),
        &world.google_section(),
        Arc::new(|_| {}),
    )
    .unwrap();
    let err = bad.token("dave@example.com").await.unwrap_err();
    assert!(matches!(err, CredentialError::BadKey(_)), "{err:?}");
    assert!(!err.to_string().contains("GOCSPX"), "{err}");
}

#[tokio::test]
async fn rotate_key_re_encrypts_and_the_old_key_alone_no_longer_reads() {
    let world = World::new(ClientKind::Installed, &[]);
    world.enroll("carol@example.com").await;
    world.enroll("dave@example.com").await;
    let k1 = std::fs::read_to_string(&world.keys_file).unwrap();
    let k2 = TokenKeys::generate_line("k2");
    std::fs::write(&world.keys_file, format!("{k2}\n{k1}")).unwrap();

    let out = world.env.run(&["auth", "rotate-key"]).ok();
    assert_eq!(
        out,
        "re-encrypted 2 token(s) under key k2; 0 already used it\n"
    );
    let out = world.env.run(&["auth", "rotate-key"]).ok();
    assert_eq!(
        out,
        "re-encrypted 0 token(s) under key k2; 2 already used it\n"
    );

    std::fs::write(&world.keys_file, &k1).unwrap();
    let out = world.env.run(&["auth", "check", "carol@example.com"]);
    assert_eq!(out.code(), Some(1), "{}", out.stderr());
    assert!(
        out.stdout().contains("key \"k2\" is not in the keyring"),
        "{}",
        out.stdout()
    );

    std::fs::write(&world.keys_file, format!("{k2}\n")).unwrap();
    let out = world.env.run(&["auth", "check"]).ok();
    assert!(out.contains("carol@example.com  ok\n"), "{out}");
    assert!(out.contains("dave@example.com   ok\n"), "{out}");
    assert!(!out.contains(k2.split_once(':').unwrap().1));
}

#[tokio::test]
async fn revoke_makes_google_refuse_the_token() {
    let world = World::new(ClientKind::Installed, &[]);
    let token = world.enroll("carol@example.com").await;
    let out = world.env.run(&["auth", "revoke", "Carol@example.com"]).ok();
    assert_eq!(
        out,
        "revoked the token of carol@example.com and deleted it\n"
    );
    assert!(world.store().await.list().await.unwrap().is_empty());

    // Google refuses the token now.
    let refused = http()
        .post(world.google.token_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token.as_str()),
            ("client_id", world.client.client_id.as_str()),
            ("client_secret", world.client.client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("invalid_grant"));

    let out = world.env.run(&["auth", "revoke", "carol@example.com"]);
    assert_eq!(out.code(), Some(2));
    assert!(
        out.stderr()
            .contains("no stored token for carol@example.com")
    );

    // A token Google already forgot is still deleted.
    world.enroll("dave@example.com").await;
    world.google.revoke_user("dave@example.com");
    let out = world.env.run(&["auth", "revoke", "dave@example.com"]).ok();
    assert_eq!(
        out,
        "the token of dave@example.com was already invalid at Google; deleted it\n"
    );
    assert!(world.store().await.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn list_and_check_show_health_and_lift_quarantines() {
    let world = World::new(ClientKind::Installed, &["*@example.com"]);
    world.enroll("carol@example.com").await;
    world.enroll("dave@example.com").await;
    let queue = world.env.queue().await;
    queue
        .quarantine_sender("carol@example.com", "invalid_grant")
        .await
        .unwrap();
    queue
        .quarantine_sender("erin@example.com", "invalid_grant")
        .await
        .unwrap();

    let out = world.env.run(&["auth", "list"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["SENDER", "KIND", "LAST", "REFRESH", "HEALTH"]
    );
    assert!(
        lines[1].starts_with("carol@example.com")
            && lines[1].ends_with("quarantined: invalid_grant"),
        "{out}"
    );
    assert!(lines[1].contains("authorized_user"), "{out}");
    assert!(
        lines[2].starts_with("dave@example.com") && lines[2].ends_with("never refreshed"),
        "{out}"
    );
    assert!(
        lines[3].starts_with("erin@example.com")
            && lines[3].ends_with("quarantined: invalid_grant"),
        "{out}"
    );

    let out = world.env.run(&["auth", "check"]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr());
    assert!(
        out.stdout()
            .contains("carol@example.com  ok (quarantine lifted)"),
        "{}",
        out.stdout()
    );
    assert!(
        out.stdout().contains("dave@example.com   ok\n"),
        "{}",
        out.stdout()
    );

    let out = world.env.run(&["auth", "list", "--json"]).ok();
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rows[0]["sender"], "carol@example.com");
    assert_eq!(rows[0]["health"], "ok");
    assert!(rows[0]["last_refresh"].is_string());
    assert_eq!(rows[2]["health"], "quarantined: invalid_grant");

    world.google.revoke_user("dave@example.com");
    let out = world.env.run(&["auth", "check"]);
    assert_eq!(out.code(), Some(1));
    assert!(
        out.stdout().contains(
            "dave@example.com   grant refused (invalid_grant): Token has been expired or revoked."
        ),
        "{}",
        out.stdout()
    );
    assert!(
        out.stderr()
            .contains("1 of 2 senders have no working credentials")
    );
}

#[test]
fn new_key_prints_a_usable_key_line() {
    let world = World::new(ClientKind::Installed, &[]);
    let out = world.env.run(&["auth", "new-key", "k9"]).ok();
    let keys = TokenKeys::parse(&out, "stdout", false).unwrap();
    assert_eq!(keys.current_id(), "k9");
    let out = world.env.run(&["auth", "new-key", "bad id"]);
    assert_eq!(out.code(), Some(2));
    assert!(
        out.stderr().contains("key id \"bad id\""),
        "{}",
        out.stderr()
    );
}

#[test]
fn a_broken_keyring_is_named_without_its_material() {
    let world = World::new(ClientKind::Installed, &[]);
    let material = base64_of_16();
    std::fs::write(&world.keys_file, format!("# keys\nk1:{material}\n")).unwrap();
    let out = world.env.run(&["auth", "rotate-key"]);
    assert_eq!(out.code(), Some(2));
    let err = out.stderr();
    assert!(
        err.contains(&format!(
            "{}, line 2: key \"k1\" is 16 bytes; AES-256 needs 32",
            world.keys_file.display()
        )),
        "{err}"
    );
    assert!(!err.contains(&material));
}

fn base64_of_16() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode([42u8; 16])
}

#[tokio::test]
async fn list_and_check_cover_service_account_senders() {
    let mut world = World::new(
        ClientKind::Installed,
        &["noreply@example.com", "*@example.org"],
    );
    let account = world
        .google
        .service_account("mailer@project.iam.gserviceaccount.com");
    world.google.add_domain_user("noreply@example.com");
    world.google.add_domain_user("alerts@example.org");
    let key = write_file(
        world.env.dir.path(),
        "service-account.json",
        account.key_json.as_bytes(),
    );
    world.env.vars.extend([
        (
            "MAILROOM__CREDENTIALS__KIND".to_owned(),
            "service_account".to_owned(),
        ),
        (
            "MAILROOM__CREDENTIALS__SERVICE_ACCOUNT_KEY".to_owned(),
            key.display().to_string(),
        ),
    ]);
    let queue = world.env.queue().await;
    queue
        .quarantine_sender("alerts@example.org", "delegation_denied")
        .await
        .unwrap();

    let out = world.env.run(&["auth", "list"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[1].starts_with("alerts@example.org")
            && lines[1].contains("service_account")
            && lines[1].ends_with("quarantined: delegation_denied"),
        "{out}"
    );
    assert!(
        lines[2].starts_with("noreply@example.com") && lines[2].ends_with("ok"),
        "{out}"
    );

    // Without delegation nothing works; with it, every exact address does.
    let out = world.env.run(&["auth", "check"]);
    assert_eq!(out.code(), Some(1));
    assert!(
        out.stdout()
            .contains("noreply@example.com  domain-wide delegation not granted"),
        "{}",
        out.stdout()
    );
    world.google.grant_delegation(
        &account.client_id,
        &[mailroom_worker::credentials::GMAIL_SEND_SCOPE],
    );
    let out = world.env.run(&["auth", "check"]).ok();
    assert_eq!(
        out,
        "SENDER               RESULT\nnoreply@example.com  ok\n"
    );
    let out = world.env.run(&["auth", "check", "alerts@example.org"]).ok();
    assert!(
        out.contains("alerts@example.org  ok (quarantine lifted)"),
        "{out}"
    );
}
