//! `mailroom auth login --no-browser`: the loopback listener, state, PKCE and the exchange,
//! with the test playing the browser.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use mailroom_testkit::google::ClientKind;
use mailroom_worker::credentials::TokenSource as _;
use secrecy::ExposeSecret;

use crate::common::write_secret;
use crate::{World, http, location, query, raw_redis};

/// A running `mailroom auth login --no-browser`, its printed URL and its stderr so far.
pub(crate) struct Login {
    child: Child,
    pub(crate) url: String,
    stderr: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
}

impl Login {
    pub(crate) fn start(world: &World, extra: &[&str]) -> Self {
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
    pub(crate) fn finish(mut self) -> (Option<i32>, String, String) {
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
pub(crate) async fn follow(url: &str) -> (u16, String) {
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
    let key = write_secret(
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
