//! A console world: Redis, the fake Google, an OAuth web client whose redirect URI is the
//! API's `/oauth2/callback`, `[credentials] kind = "authorized_user"`, and a running `mailroom
//! api` with an `admin` key and a `read` key.

use std::fs;
use std::process::Stdio;
use std::time::{Duration, Instant};

use mailroom_queue::Queue;
use mailroom_testkit::google::{ClientKind, FakeGoogle};
use mailroom_worker::credentials::TokenKeys;

use crate::common::{Env, Worker, write_secret};

/// The senders a console world allows.
pub const SENDERS: &str = "[jobs]\nallowed_senders = [\"*@example.com\"]\n";

pub struct World {
    pub env: Env,
    pub google: FakeGoogle,
    /// The running `mailroom api`, stopped when the world is dropped.
    pub api: Worker,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The secret of a key with `admin`.
    pub admin: String,
    /// The secret of a key with `read` only.
    pub reader: String,
    /// The secret of a key with `send` only.
    pub sender: String,
    /// A client that follows no redirect.
    pub http: reqwest::Client,
}

/// Mints a key with `mailroom api new-key`; returns (secret, line).
fn new_key(env: &Env, id: &str, scopes: &str) -> (String, String) {
    let out = env.run(&["api", "new-key", id, "--scopes", scopes]).ok();
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {out}"))
            .trim()
            .to_owned()
    };
    (field("secret:"), field("line:"))
}

impl World {
    pub fn start() -> Self {
        let google = FakeGoogle::start();
        let port = mailroom_testkit::free_port();
        let base = format!("http://127.0.0.1:{port}");
        let client = google.oauth_client(ClientKind::Web {
            redirect_uris: vec![format!("{base}/oauth2/callback")],
        });
        let env = Env::new(SENDERS);
        let dir = env.dir.path();
        let client_file = write_secret(dir, "client_secret.json", client.json.as_bytes());
        let token_keys = write_secret(
            dir,
            "token-keys",
            format!("{}\n", TokenKeys::generate_line("k1")).as_bytes(),
        );
        let mut toml = fs::read_to_string(&env.config).unwrap();
        toml.push_str(&format!(
            "\n[google]\ntoken_url = \"{}\"\nauth_url = \"{}\"\nuserinfo_url = \"{}\"\n\
             tokeninfo_url = \"{}\"\nrevoke_url = \"{}\"\ntimeout = \"10s\"\n\n\
             [credentials]\nkind = \"authorized_user\"\nclient_secrets = \"{}\"\n\
             token_keys = \"{}\"\npublic_url = \"{base}\"\n",
            google.token_url(),
            google.auth_url(),
            google.userinfo_url(),
            google.tokeninfo_url(),
            google.revoke_url(),
            client_file.display(),
            token_keys.display(),
        ));
        fs::write(&env.config, toml).unwrap();
        let (admin, admin_line) = new_key(&env, "ops", "admin");
        let (reader, reader_line) = new_key(&env, "viewer", "read");
        let (sender, sender_line) = new_key(&env, "app", "send");
        let keys = write_secret(
            dir,
            "api-keys",
            format!("{admin_line}\n{reader_line}\n{sender_line}\n").as_bytes(),
        );
        let log = dir.join("api.log");
        let child = env
            .command(&["api"])
            .env("MAILROOM__API__LISTEN", format!("127.0.0.1:{port}"))
            .env("MAILROOM__API__KEYS_FILE", &keys)
            .stdout(Stdio::null())
            .stderr(Stdio::from(fs::File::create(&log).unwrap()))
            .spawn()
            .expect("spawn mailroom api");
        let mut api = Worker::new(child, log);
        wait_listening(&mut api);
        Self {
            env,
            google,
            api,
            base,
            admin,
            reader,
            sender,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// The API's log so far.
    pub fn api_log(&self) -> String {
        self.api.log_text()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn queue(&self) -> Queue {
        self.env.queue().await
    }

    /// Signs in with `key` over plain HTTP; returns the `Cookie` header value.
    pub async fn sign_in(&self, key: &str) -> String {
        let answer = self
            .http
            .post(self.url("/login"))
            .form(&[("key", key)])
            .send()
            .await
            .unwrap();
        assert_eq!(
            answer.status().as_u16(),
            303,
            "sign-in; log:\n{}",
            self.api_log()
        );
        let cookie = answer.headers()["set-cookie"].to_str().unwrap();
        cookie.split(';').next().unwrap().to_owned()
    }

    /// `GET path` with `cookie`; returns (status, body).
    pub async fn get(&self, path: &str, cookie: &str) -> (u16, String) {
        let answer = self
            .http
            .get(self.url(path))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        (answer.status().as_u16(), answer.text().await.unwrap())
    }

    /// `POST path` with `cookie` and `form`; returns (status, Location, body).
    pub async fn post(
        &self,
        path: &str,
        cookie: &str,
        form: &[(&str, &str)],
    ) -> (u16, String, String) {
        let answer = self
            .http
            .post(self.url(path))
            .header("cookie", cookie)
            .form(form)
            .send()
            .await
            .unwrap();
        let location = answer
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (
            answer.status().as_u16(),
            location,
            answer.text().await.unwrap(),
        )
    }

    /// Dead-letters `n` jobs from noreply@ whose reason names the sender allowlist: a worker
    /// that allows only billing@ takes them. Returns their ids.
    pub async fn dead_letters(&self, n: usize) -> Vec<String> {
        let queue = self.queue().await;
        let jobs: Vec<_> = (0..n)
            .map(|i| crate::common::job("noreply@example.com", &format!("u{i}@example.org"), "Hi"))
            .collect();
        let ids = crate::common::enqueue_all(&queue, &jobs).await;
        let strict = self.env.worker(
            "strict",
            &[("MAILROOM__JOBS__ALLOWED_SENDERS", "billing@example.com")],
        );
        crate::common::wait_dead(&queue, n as u64, Duration::from_secs(30)).await;
        strict.stop();
        ids.iter().map(ToString::to_string).collect()
    }
}

/// The CSRF token in a page's forms.
pub fn csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

/// The text of the element with `id` (its content up to the next tag).
pub fn by_id(html: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\">");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no #{id} in {html}"))
        + marker.len();
    html[at..].split('<').next().unwrap().trim().to_owned()
}

/// Waits for the API's "http api listening" line.
fn wait_listening(api: &mut Worker) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !api
        .log_lines()
        .iter()
        .any(|l| l["message"] == "http api listening")
    {
        api.assert_running();
        assert!(
            Instant::now() < deadline,
            "api not listening:\n{}",
            api.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
