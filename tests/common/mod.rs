//! Fixtures for the end-to-end tests: a Redis of their own, a temporary directory with a config
//! file and an outbox, the real `mailroom` binary (built on first use, see [`MAILROOM`]) run as
//! a child process, and a queue handle to look at the outcome.
#![allow(dead_code)]

use std::fs;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use mailroom_queue::{Queue, QueueConfig};
use mailroom_testkit::{RedisCluster, RedisSentinel, RedisServer};

pub mod google;
pub mod http;
mod jobs;
mod observe;
pub mod report;
mod worker;
// Each test binary uses its own share of these.
#[allow(unused_imports)]
pub use jobs::{enqueue_all, enqueue_jobs, job};
#[allow(unused_imports)]
pub use observe::{
    all_sent, eventually, idle, in_flight, job_fields, state_counts, states, stats, wait_dead,
};
pub use worker::Worker;

/// The `mailroom` binary under test: package `mailroom-worker` built by cargo with the profile
/// of this test (`cargo test --release` runs the release binary), once per test process, the
/// first time a test asks for it. Cargo has released its build lock by the time tests run, and
/// a binary that is up to date costs one no-op `cargo build`.
///
/// The variables cargo sets for this test process (its package's name, version and manifest
/// directory, `OUT_DIR`, …) are not passed on: build scripts such as ring's watch some of them
/// (`rerun-if-env-changed`), so the nested build would run them again with other values and
/// the next `cargo test` would rebuild those crates and all that depends on them once more.
pub static MAILROOM: LazyLock<PathBuf> = LazyLock::new(|| {
    let mut build = escargot::CargoBuild::new();
    for (name, _) in std::env::vars_os() {
        let text = name.to_string_lossy();
        if [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_BIN_EXE_",
            "CARGO_CRATE_",
        ]
        .iter()
        .any(|p| text.starts_with(p))
            || ["OUT_DIR", "CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR"].contains(&&*text)
        {
            build = build.env_remove(&name);
        }
    }
    build
        .manifest_path(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"))
        .package("mailroom-worker")
        .bin("mailroom")
        .current_release()
        .run()
        .unwrap_or_else(|e| panic!("cargo build -p mailroom-worker --bin mailroom: {e}"))
        .path()
        .to_owned()
});

/// The Redis a world runs on: one server of its own, or a three-node cluster of its own.
pub enum Backing {
    Server(RedisServer),
    Cluster(RedisCluster),
    /// A primary, its replica and three Sentinels, reached through the Sentinels.
    Sentinel(RedisSentinel),
}

impl Backing {
    /// The `redis.url` that reaches it (`redis+cluster://…` for a cluster).
    pub fn url(&self) -> String {
        match self {
            Self::Server(server) => server.url(),
            Self::Cluster(cluster) => cluster.url(),
            Self::Sentinel(sentinel) => sentinel.url(),
        }
    }

    /// `single` or `cluster`, as the fault suite's summary table says it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Server(_) => "single",
            Self::Cluster(_) => "cluster",
            Self::Sentinel(_) => "sentinel",
        }
    }

    /// The single server; a cluster world has none.
    pub fn server(&mut self) -> &mut RedisServer {
        match self {
            Self::Server(server) => server,
            _ => panic!("only a single-server world has a single server"),
        }
    }

    /// The Sentinel setup; other worlds have none.
    pub fn sentinel(&mut self) -> &mut RedisSentinel {
        match self {
            Self::Sentinel(sentinel) => sentinel,
            _ => panic!("not a Sentinel world"),
        }
    }

    /// Kills the single server (see [`RedisServer::kill`]), the cluster node serving the
    /// default queue's hash slot (`{mailroom}`), or the Sentinel setup's primary.
    pub fn kill(&mut self) {
        match self {
            Self::Server(server) => server.kill(),
            Self::Cluster(cluster) => {
                let node = cluster.node_for_key("{mailroom}");
                cluster.kill_node(node);
            }
            Self::Sentinel(sentinel) => {
                let primary = sentinel.primary().expect("a primary to kill");
                sentinel.kill_node(primary);
            }
        }
    }

    /// Restarts the single server (see [`RedisServer::restart`]), every killed cluster node
    /// (see [`RedisCluster::restart_node`]), or every killed node of the Sentinel setup.
    pub fn restart(&mut self) {
        match self {
            Self::Server(server) => server.restart(),
            Self::Cluster(cluster) => {
                for node in 0..cluster.urls().len() {
                    if !cluster.node_is_running(node) {
                        cluster.restart_node(node);
                    }
                }
            }
            Self::Sentinel(sentinel) => {
                for node in 0..sentinel.node_count() {
                    if !sentinel.node_is_running(node) {
                        sentinel.restart_node(node);
                    }
                }
            }
        }
    }
}

/// One test's world: Redis, a config file, an outbox directory.
pub struct Env {
    pub redis: Backing,
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub outbox: PathBuf,
    /// Extra `MAILROOM__…` variables for every command.
    pub vars: Vec<(String, String)>,
}

impl Env {
    /// A fresh Redis and a config pointing at it, with `extra` TOML appended (sections other
    /// than `[redis]`, `[transport.outbox]` and `[log]`). Idle reads block for 200 ms at most
    /// (`MAILROOM__QUEUE__BLOCK`), so stopping workers is quick; the HTTP listener takes a free
    /// port (`MAILROOM__HTTP__LISTEN`), so workers never compete for one.
    pub fn new(extra: &str) -> Self {
        Self::on(Backing::Server(RedisServer::start()), extra)
    }

    /// A world like [`Env::new`]'s on a Redis of the caller's choosing: a server with
    /// persistence, say, or a cluster.
    pub fn on(redis: Backing, extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let outbox = dir.path().join("outbox");
        let config = dir.path().join("mailroom.toml");
        let toml = format!(
            "[redis]\nurl = \"{url}\"\n\n[transport.outbox]\ndir = \"{outbox}\"\n\n\
             [log]\nformat = \"json\"\nlevel = \"info\"\n\n{extra}\n",
            url = redis.url(),
            outbox = outbox.display(),
        );
        fs::write(&config, toml).expect("write config");
        let vars = vec![
            ("MAILROOM__QUEUE__BLOCK".to_owned(), "200ms".to_owned()),
            (
                "MAILROOM__HTTP__LISTEN".to_owned(),
                "127.0.0.1:0".to_owned(),
            ),
        ];
        Self {
            redis,
            dir,
            config,
            outbox,
            vars,
        }
    }

    /// A `mailroom` command with this world's config and variables, and a clean environment.
    pub fn command(&self, args: &[&str]) -> Command {
        self.command_via(&[], args)
    }

    /// Like [`Env::command`], run through `wrapper`: a program and its arguments that end by
    /// executing the command after them (`prlimit --data=N --`), so the process it starts is
    /// `mailroom` itself. An empty wrapper runs `mailroom` directly.
    pub fn command_via(&self, wrapper: &[&str], args: &[&str]) -> Command {
        let mut cmd = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut cmd = Command::new(program);
                cmd.args(rest).arg(&*MAILROOM);
                cmd
            }
            None => Command::new(&*MAILROOM),
        };
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("MAILROOM_CONFIG", &self.config)
            .envs(self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `mailroom ARGS` to completion.
    pub fn run(&self, args: &[&str]) -> Out {
        Out(self.command(args).output().expect("run mailroom"))
    }

    /// Runs `mailroom ARGS` with `input` on stdin.
    pub fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> Out {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mailroom");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write stdin");
        Out(child.wait_with_output().expect("wait for mailroom"))
    }

    /// Starts `mailroom run` with `vars` on top of this world's, its log in `<dir>/<name>.log`.
    pub fn worker(&self, name: &str, vars: &[(&str, &str)]) -> Worker {
        self.worker_via(&[], name, vars)
    }

    /// Like [`Env::worker`], started through `wrapper` (see [`Env::command_via`]).
    pub fn worker_via(&self, wrapper: &[&str], name: &str, vars: &[(&str, &str)]) -> Worker {
        let log = self.dir.path().join(format!("{name}.log"));
        let file = fs::File::create(&log).expect("log file");
        let child = self
            .command_via(wrapper, &["run"])
            .env("MAILROOM__WORKER__NAME", name)
            .envs(vars.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::from(file))
            .spawn()
            .expect("spawn mailroom run");
        Worker::new(child, log)
    }

    /// A queue handle on this world's queue.
    pub async fn queue(&self) -> Queue {
        Queue::connect(&self.redis.url(), QueueConfig::default())
            .await
            .expect("connect to redis")
    }

    /// Waits until the outbox holds at least `n` messages, failing early (with the worker's
    /// log) if the worker exits.
    pub fn wait_for_outbox(&self, worker: &mut Worker, n: usize, within: Duration) {
        let deadline = Instant::now() + within;
        while self.outbox_files().len() < n {
            worker.assert_running();
            assert!(
                Instant::now() < deadline,
                "fewer than {n} messages after {within:?}; log:\n{}",
                worker.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The `.eml` files in the outbox (temporary files excluded).
    pub fn outbox_files(&self) -> Vec<PathBuf> {
        let Ok(entries) = fs::read_dir(&self.outbox) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = entries
            .map(|e| e.expect("dir entry").path())
            .filter(|p| {
                let name = p.file_name().unwrap_or_default().to_string_lossy();
                name.ends_with(".eml") && !name.starts_with('.')
            })
            .collect();
        files.sort();
        files
    }
}

/// A finished command's output.
pub struct Out(pub Output);

impl Out {
    pub fn code(&self) -> Option<i32> {
        self.0.status.code()
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    /// Asserts exit status 0 and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> String {
        assert_eq!(
            self.code(),
            Some(0),
            "stdout: {}\nstderr: {}",
            self.stdout(),
            self.stderr()
        );
        self.stdout()
    }
}

/// The last column of the row of `table` (printed by `mailroom queue stats`) starting with
/// `name`.
pub fn table_row(table: &str, name: &str) -> Option<String> {
    table
        .lines()
        .find(|l| l.starts_with(name))
        .map(|l| l.split_whitespace().last().unwrap_or("").to_owned())
}

/// Writes a secret file (mode 600) in `dir` and returns its path.
pub use mailroom_testkit::write_secret;

/// Whether the fault-injection suites run at full size (`MAILROOM_FAULTS=full`), or at the
/// reduced size every CI run can afford.
pub fn faults_full() -> bool {
    std::env::var("MAILROOM_FAULTS").is_ok_and(|v| v == "full")
}

/// `full` under `MAILROOM_FAULTS=full`, else `reduced`.
pub fn faults_size(reduced: usize, full: usize) -> usize {
    if faults_full() { full } else { reduced }
}
