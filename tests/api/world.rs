//! A running `mailroom api` over a Redis of its own, with a key file of four keys, and a
//! client that speaks to it.

use std::fs;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{Env, Worker};

/// The secrets of the world's keys.
pub struct Keys {
    /// `send` and `read`, no sender list of its own.
    pub app: String,
    /// `read` only.
    pub reader: String,
    /// `admin` only.
    pub admin: String,
    /// `send`, narrowed to billing@example.com (and other@example.com, which the config does
    /// not allow).
    pub billing: String,
}

/// The config of every API world: two allowed senders.
pub const CONFIG: &str =
    "[jobs]\nallowed_senders = [\"noreply@example.com\", \"billing@example.com\"]\n";

pub struct Api {
    pub env: Env,
    pub process: Worker,
    pub base: String,
    pub keys: Keys,
    pub http: reqwest::Client,
}

/// Mints a key with `mailroom api new-key`; returns (secret, line).
pub fn new_key(env: &Env, args: &[&str]) -> (String, String) {
    let mut all = vec!["api", "new-key"];
    all.extend_from_slice(args);
    let out = env.run(&all).ok();
    let field = |name: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {out}"))
            .trim()
            .to_owned()
    };
    (field("secret:"), field("line:"))
}

impl Api {
    /// A world whose config has `extra` on top of [`CONFIG`].
    pub fn start(extra: &str) -> Self {
        let env = Env::new(&format!("{CONFIG}\n{extra}"));
        let (app, app_line) = new_key(&env, &["app", "--scopes", "send,read"]);
        let (reader, reader_line) = new_key(&env, &["reader", "--scopes", "read"]);
        let (admin, admin_line) = new_key(&env, &["ops", "--scopes", "admin"]);
        let (billing, billing_line) = new_key(
            &env,
            &[
                "billing",
                "--scopes",
                "send",
                "--senders",
                "billing@example.com,other@example.com",
            ],
        );
        let file = crate::common::write_secret(
            env.dir.path(),
            "api-keys",
            format!("# test keys\n{app_line}\n{reader_line}\n{admin_line}\n{billing_line}\n")
                .as_bytes(),
        );
        let keys = Keys {
            app,
            reader,
            admin,
            billing,
        };
        let process = spawn_api(&env, &file.display().to_string(), &[]);
        Self::on(env, process, keys)
    }

    fn on(env: Env, mut process: Worker, keys: Keys) -> Self {
        let addr = api_addr(&mut process);
        Self {
            env,
            process,
            base: format!("http://{addr}"),
            keys,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with `key` as its bearer.
    pub fn with(&self, method: reqwest::Method, path: &str, key: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(key)
    }

    pub async fn post_job(&self, key: &str, job: &serde_json::Value) -> reqwest::Response {
        self.with(reqwest::Method::POST, "/v1/messages", key)
            .json(job)
            .send()
            .await
            .expect("POST /v1/messages")
    }
}

/// Starts `mailroom api` with the key file `keys`, its log in `<dir>/api.log`.
pub fn spawn_api(env: &Env, keys: &str, vars: &[(&str, &str)]) -> Worker {
    let log = env.dir.path().join("api.log");
    let child = env
        .command(&["api"])
        .env("MAILROOM__API__LISTEN", "127.0.0.1:0")
        .env("MAILROOM__API__KEYS_FILE", keys)
        .envs(vars.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::from(fs::File::create(&log).expect("log file")))
        .spawn()
        .expect("spawn mailroom api");
    Worker::new(child, log)
}

/// The address `mailroom api` logged.
pub fn api_addr(process: &mut Worker) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        process.assert_running();
        if let Some(addr) = process.log_lines().iter().find_map(|l| {
            (l["message"].as_str()? == "http api listening")
                .then(|| l["addr"].as_str().map(str::to_owned))?
        }) {
            return addr;
        }
        assert!(
            Instant::now() < deadline,
            "no listening line; log:\n{}",
            process.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A valid job from `from`.
pub fn job(from: &str, to: &str) -> serde_json::Value {
    serde_json::json!({
        "version": "v1", "from": from, "to": [to], "subject": "Hello", "text": "Hi there",
    })
}

/// The body of a problem answer, after checking its media type and status.
pub async fn problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(kind, "application/problem+json");
    let body: serde_json::Value = response.json().await.expect("a JSON problem");
    assert_eq!(body["status"], status);
    body
}
