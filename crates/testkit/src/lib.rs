//! Test fixtures for mailroom: real `redis-server` processes started on
//! their own free ports, each in its own temporary directory.
//!
//! * [`RedisServer`] runs one standalone server. It can be killed and
//!   restarted on the same port and directory, so tests can check what
//!   survives a crash (with [`RedisOptions::appendonly`] the data comes back).
//! * [`RedisCluster`] runs three cluster masters (no replicas) with all
//!   16384 hash slots assigned.
//!
//! Every fixture starts its own processes and never touches another Redis
//! (such as a shared one on port 6379). Processes are killed when the
//! fixture is dropped; where `setpriv` is available they are also started
//! with a parent-death signal, so they die with the test process even when
//! the fixture is never dropped (a `static`, or a process killed by a signal).
//!
//! The API is synchronous (it polls every 20 ms while waiting) and may be
//! called from `#[tokio::test]` functions as well.
//!
//! # Example
//!
//! ```no_run
//! use mailroom_testkit::{RedisOptions, RedisServer};
//! use redis::Commands;
//!
//! let mut server = RedisServer::start_with(RedisOptions {
//!     appendonly: true,
//!     ..RedisOptions::default()
//! });
//! let mut con = server.client().get_connection().unwrap();
//! let _: () = con.set("greeting", "hello").unwrap();
//!
//! server.kill();
//! assert!(server.client().get_connection().is_err());
//!
//! server.restart();
//! let mut con = server.client().get_connection().unwrap();
//! let value: String = con.get("greeting").unwrap();
//! assert_eq!(value, "hello");
//! ```
//!
//! `redis-server` (and `redis-cli` for clusters) must be on `PATH`; use
//! [`redis_server_available`] to check.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How often waiting loops poll.
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// How long a server may take to answer `PING` after being spawned.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a killed server's port may take to stop accepting connections.
const KILL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a new cluster may take to reach `cluster_state:ok` everywhere.
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(30);
/// Socket timeout of the probe connections used while waiting.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// How many ports are tried before giving up on starting a server.
const MAX_PORT_ATTEMPTS: usize = 10;
/// Number of master nodes in a [`RedisCluster`].
const CLUSTER_NODES: usize = 3;
/// Offset of the cluster bus port from the client port (fixed by Redis).
const CLUSTER_BUS_OFFSET: u16 = 10_000;
/// Lines of the server log shown when a server fails.
const LOG_TAIL_LINES: usize = 30;

/// Ports for standalone servers. They lie below Linux's default ephemeral
/// range (32768..61000), so outgoing connections do not take them.
const SERVER_PORTS: std::ops::Range<u16> = 20_000..32_700;
/// Client ports for cluster nodes; their bus ports (+10000) are 25000..32700.
const CLUSTER_PORTS: std::ops::Range<u16> = 15_000..22_700;

const NOT_FOUND_HINT: &str =
    "install it (apt-get install redis-server) or run `make test`, which installs it";

/// Options for [`RedisServer::start_with`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedisOptions {
    /// Run with `--appendonly yes --appendfsync always`, so every write is
    /// on disk before it is acknowledged and survives [`RedisServer::kill`]
    /// followed by [`RedisServer::restart`]. Default `false`: nothing is
    /// persisted and a restart comes back empty.
    pub appendonly: bool,
    /// Also listen on a unix socket (`redis.sock` in the server's directory,
    /// mode 700); [`RedisServer::url`] then points at the socket. The TCP
    /// port stays open as well. Default `false`.
    pub unix_socket: bool,
}

/// One `redis-server` child process on its own free port, in its own
/// temporary directory (which holds its log, its append-only files and, if
/// asked for, its unix socket).
///
/// Dropping it kills the process and removes the directory.
#[derive(Debug)]
pub struct RedisServer {
    child: Mutex<Option<Child>>,
    port: u16,
    opts: RedisOptions,
    cluster: bool,
    dir: TempDir,
    _ports: PortReservation,
}

/// Why a launch attempt did not produce a ready server.
enum LaunchError {
    /// The server could not bind its port (or cluster bus port).
    PortInUse,
    /// Anything else; the message includes the log tail.
    Failed(String),
}

impl RedisServer {
    /// Starts a server with [`RedisOptions::default()`]: TCP only, no
    /// persistence. See [`RedisServer::start_with`].
    pub fn start() -> RedisServer {
        Self::start_with(RedisOptions::default())
    }

    /// Starts a server with the given options on a free port and waits
    /// until it answers `PING`.
    ///
    /// # Panics
    ///
    /// If `redis-server` is not on `PATH`, if no free port could be found
    /// within a few attempts, or if the server does not answer within
    /// 10 seconds (the message then includes the tail of its log).
    pub fn start_with(opts: RedisOptions) -> RedisServer {
        Self::launch_new(opts, false)
    }

    /// Creates, spawns and waits for a server, retrying on other ports when
    /// the chosen one turns out to be taken (another test binary may have
    /// grabbed it between the check and the bind).
    fn launch_new(opts: RedisOptions, cluster: bool) -> RedisServer {
        require_binary("redis-server");
        let mut last_error = String::new();
        for _ in 0..MAX_PORT_ATTEMPTS {
            let ports = PortReservation::reserve(cluster);
            let dir = tempfile::Builder::new()
                .prefix("mailroom-redis-")
                .tempdir()
                .unwrap_or_else(|e| panic!("cannot create a temporary directory for redis: {e}"));
            let server = RedisServer {
                child: Mutex::new(None),
                port: ports.port(),
                opts: opts.clone(),
                cluster,
                dir,
                _ports: ports,
            };
            match server.launch() {
                Ok(()) => return server,
                Err(LaunchError::PortInUse) => {
                    last_error =
                        format!("port {} (or its cluster bus port) was in use", server.port);
                }
                Err(LaunchError::Failed(message)) => panic!("{message}"),
            }
        }
        panic!(
            "redis-server could not be started after {MAX_PORT_ATTEMPTS} attempts: {last_error}"
        );
    }

    /// The URL to connect to: `redis://127.0.0.1:PORT/`, or
    /// `redis+unix:///path/to/redis.sock` when started with
    /// [`RedisOptions::unix_socket`].
    pub fn url(&self) -> String {
        if self.opts.unix_socket {
            format!("redis+unix://{}", self.socket_path().display())
        } else {
            format!("redis://127.0.0.1:{}/", self.port)
        }
    }

    /// The TCP port the server listens on (on 127.0.0.1). It stays the same
    /// across [`RedisServer::restart`].
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A client for [`RedisServer::url`].
    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url())
            .unwrap_or_else(|e| panic!("invalid redis url {}: {e}", self.url()))
    }

    /// Kills the server with `SIGKILL` (no shutdown, no final save) and
    /// waits until the process is gone and its port no longer accepts
    /// connections. Does nothing if the server is not running.
    pub fn kill(&mut self) {
        let child = self.child_mut().take();
        if let Some(mut child) = child {
            // kill() fails only if the process was already reaped; wait()
            // then still returns its status.
            let _ = child.kill();
            let _ = child.wait();
        }
        let deadline = Instant::now() + KILL_TIMEOUT;
        while self.accepts_connections() && Instant::now() < deadline {
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Starts the server again on the same port, in the same directory and
    /// with the same options, and waits until it answers `PING`. With
    /// [`RedisOptions::appendonly`] the data written before a
    /// [`RedisServer::kill`] is loaded back. A server that is still running
    /// is killed first.
    ///
    /// # Panics
    ///
    /// If the server does not answer within 10 seconds, or if its port
    /// stays taken by another process.
    pub fn restart(&mut self) {
        self.kill();
        for attempt in 0..MAX_PORT_ATTEMPTS {
            match self.launch() {
                Ok(()) => return,
                Err(LaunchError::PortInUse) if attempt + 1 < MAX_PORT_ATTEMPTS => {
                    thread::sleep(Duration::from_millis(100));
                }
                Err(LaunchError::PortInUse) => panic!(
                    "redis-server could not be restarted: port {} is taken by another process",
                    self.port
                ),
                Err(LaunchError::Failed(message)) => panic!("{message}"),
            }
        }
    }

    /// Whether the server process is alive (it has been neither killed nor
    /// has it exited on its own).
    pub fn is_running(&self) -> bool {
        match self.child_mut().as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    fn child_mut(&self) -> MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn socket_path(&self) -> PathBuf {
        self.dir.path().join("redis.sock")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    fn endpoint(&self) -> Endpoint {
        if self.opts.unix_socket {
            Endpoint::Unix(self.socket_path())
        } else {
            Endpoint::Tcp(self.port)
        }
    }

    fn accepts_connections(&self) -> bool {
        TcpStream::connect_timeout(
            &SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.port).into(),
            PROBE_TIMEOUT,
        )
        .is_ok()
    }

    fn command(&self) -> Command {
        let dir = self.dir.path();
        let mut cmd = redis_server_command();
        cmd.arg("--port")
            .arg(self.port.to_string())
            .args(["--bind", "127.0.0.1", "--save", ""])
            .arg("--appendonly")
            .arg(if self.opts.appendonly { "yes" } else { "no" })
            .arg("--dir")
            .arg(dir)
            .arg("--logfile")
            .arg(self.log_path())
            .args(["--daemonize", "no"]);
        if self.opts.appendonly {
            cmd.args(["--appendfsync", "always"]);
        }
        if self.opts.unix_socket {
            cmd.arg("--unixsocket")
                .arg(self.socket_path())
                .args(["--unixsocketperm", "700"]);
        }
        if self.cluster {
            cmd.args(["--cluster-enabled", "yes", "--cluster-config-file"])
                .arg(dir.join("nodes.conf"))
                .args(["--cluster-node-timeout", "5000"]);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    }

    /// Spawns the process and waits until it answers `PING`. On failure the
    /// process is gone and no child is stored.
    fn launch(&self) -> Result<(), LaunchError> {
        let log_offset = file_len(&self.log_path());
        let child =
            spawn(self.command()).unwrap_or_else(|e| panic!("cannot spawn redis-server: {e}"));
        let pid = child.id();
        *self.child_mut() = Some(child);

        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let exited = match self.child_mut().as_mut() {
                Some(child) => child.try_wait().ok().flatten(),
                None => None,
            };
            if let Some(status) = exited {
                *self.child_mut() = None;
                let log = read_from(&self.log_path(), log_offset);
                if log.contains("Address already in use") {
                    return Err(LaunchError::PortInUse);
                }
                return Err(LaunchError::Failed(format!(
                    "redis-server on port {} exited during startup ({status}); log tail:\n{}",
                    self.port,
                    tail(&log, LOG_TAIL_LINES)
                )));
            }
            if self.answers_as(pid) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                if let Some(mut child) = self.child_mut().take() {
                    let _ = child.kill();
                    let _ = child.wait();
                }
                let log = read_from(&self.log_path(), log_offset);
                return Err(LaunchError::Failed(format!(
                    "redis-server on port {} did not answer PING within {START_TIMEOUT:?}; log tail:\n{}",
                    self.port,
                    tail(&log, LOG_TAIL_LINES)
                )));
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Whether the server at this fixture's endpoint is the process `pid`
    /// (not some other server that holds the port) and answers `PING`.
    fn answers_as(&self, pid: u32) -> bool {
        let endpoint = self.endpoint();
        let Ok(info) = endpoint.command(&["INFO", "server"]) else {
            return false;
        };
        let expected = format!("process_id:{pid}");
        if !info.lines().any(|line| line.trim_end() == expected) {
            return false;
        }
        matches!(endpoint.command(&["PING"]), Ok(reply) if reply == "PONG")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let child = self
            .child
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(mut child) = child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A Redis cluster of 3 master nodes without replicas, each a
/// `redis-server` child process with `cluster-enabled yes` on its own free
/// port (its cluster bus port, port + 10000, is free as well).
///
/// Dropping it kills all nodes and removes their directories.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts 3 nodes, joins them with `redis-cli --cluster create`
    /// (`--cluster-replicas 0`) and waits until every node reports
    /// `cluster_state:ok`, knows all 3 nodes and has all 16384 slots
    /// assigned.
    ///
    /// # Panics
    ///
    /// If `redis-server` or `redis-cli` is not on `PATH`, if a node does not
    /// start, if `redis-cli` fails, or if the cluster is not ready within
    /// 30 seconds.
    pub fn start() -> RedisCluster {
        require_binary("redis-server");
        require_binary("redis-cli");
        let nodes: Vec<RedisServer> = (0..CLUSTER_NODES)
            .map(|_| RedisServer::launch_new(RedisOptions::default(), true))
            .collect();
        let cluster = RedisCluster { nodes };
        cluster.create();
        cluster.wait_until_ready();
        cluster
    }

    /// `redis://127.0.0.1:PORT/` for each node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// A cluster client seeded with every node's URL.
    pub fn client(&self) -> redis::cluster::ClusterClient {
        redis::cluster::ClusterClient::new(self.urls())
            .unwrap_or_else(|e| panic!("cannot build a cluster client for {:?}: {e}", self.urls()))
    }

    fn create(&self) {
        let mut cmd = Command::new("redis-cli");
        cmd.arg("--cluster").arg("create");
        for node in &self.nodes {
            cmd.arg(format!("127.0.0.1:{}", node.port()));
        }
        cmd.args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let output = spawn(cmd)
            .and_then(Child::wait_with_output)
            .unwrap_or_else(|e| panic!("cannot run redis-cli --cluster create: {e}"));
        if !output.status.success() {
            panic!(
                "redis-cli --cluster create failed ({}):\n{}\n{}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
                self.log_tails()
            );
        }
    }

    fn wait_until_ready(&self) {
        let deadline = Instant::now() + CLUSTER_TIMEOUT;
        loop {
            let infos: Vec<io::Result<String>> = self
                .nodes
                .iter()
                .map(|node| node.endpoint().command(&["CLUSTER", "INFO"]))
                .collect();
            let ready = infos.iter().all(|info| match info {
                Ok(info) => cluster_info_ready(info),
                Err(_) => false,
            });
            if ready {
                return;
            }
            if Instant::now() >= deadline {
                let mut report = String::new();
                for (node, info) in self.nodes.iter().zip(&infos) {
                    let _ = writeln!(report, "node {}: {info:?}", node.port());
                }
                panic!(
                    "redis cluster not ready within {CLUSTER_TIMEOUT:?}:\n{report}{}",
                    self.log_tails()
                );
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    fn log_tails(&self) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            let log = read_from(&node.log_path(), 0);
            let _ = writeln!(
                out,
                "log tail of node {}:\n{}",
                node.port(),
                tail(&log, LOG_TAIL_LINES)
            );
        }
        out
    }
}

/// Whether a `CLUSTER INFO` reply shows a healthy cluster of all nodes with
/// every slot assigned.
fn cluster_info_ready(info: &str) -> bool {
    let field = |name: &str| {
        info.lines()
            .find_map(|line| line.trim_end().strip_prefix(name)?.strip_prefix(':'))
            .map(str::to_owned)
    };
    field("cluster_state").as_deref() == Some("ok")
        && field("cluster_slots_assigned").as_deref() == Some("16384")
        && field("cluster_known_nodes").as_deref() == Some(&CLUSTER_NODES.to_string())
}

/// Whether `redis-server` is an executable file in a directory on `PATH`.
pub fn redis_server_available() -> bool {
    find_on_path("redis-server").is_some()
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| {
            candidate
                .metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

fn require_binary(name: &str) {
    if find_on_path(name).is_none() {
        panic!("{name} not found on PATH: {NOT_FOUND_HINT}");
    }
}

/// `redis-server`, wrapped in `setpriv --pdeathsig KILL` when `setpriv` is
/// available. `setpriv` execs the server, so the child's pid is the
/// server's own.
fn redis_server_command() -> Command {
    static SETPRIV: OnceLock<Option<PathBuf>> = OnceLock::new();
    match SETPRIV.get_or_init(|| find_on_path("setpriv")) {
        Some(setpriv) => {
            let mut cmd = Command::new(setpriv);
            cmd.args(["--pdeathsig", "KILL", "--", "redis-server"]);
            cmd
        }
        None => Command::new("redis-server"),
    }
}

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

/// Spawns `cmd` from one long-lived thread. The parent-death signal fires
/// when the thread that spawned the child ends, not the process; test
/// threads end with each test, so servers are spawned from a thread that
/// lives as long as the process.
fn spawn(cmd: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        thread::Builder::new()
            .name("mailroom-testkit-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    // A forked child holds copies of all open descriptors
                    // until it execs. Holding this lock keeps the listeners
                    // that `PortReservation::reserve` opens for its checks
                    // out of those copies, so a just-checked port is not
                    // held by a child that is about to exec.
                    let guard = reserved_ports();
                    let result = cmd.spawn();
                    drop(guard);
                    let _ = reply.send(result);
                }
            })
            .expect("cannot start the process-spawning thread");
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    spawner
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .send((cmd, reply_tx))
        .map_err(|_| io::Error::other("process-spawning thread is gone"))?;
    reply_rx
        .recv()
        .map_err(|_| io::Error::other("process-spawning thread is gone"))?
}

/// Ports chosen for one server, reserved within this process until dropped
/// so that concurrent tests never pick the same ones.
#[derive(Debug)]
struct PortReservation {
    ports: Vec<u16>,
}

fn reserved_ports() -> MutexGuard<'static, HashSet<u16>> {
    static RESERVED: OnceLock<Mutex<HashSet<u16>>> = OnceLock::new();
    RESERVED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

impl PortReservation {
    /// Picks a random port that nobody in this process has reserved and
    /// that can be bound right now (and, for cluster nodes, whose bus port
    /// can be bound too).
    fn reserve(cluster: bool) -> PortReservation {
        let range = if cluster { CLUSTER_PORTS } else { SERVER_PORTS };
        for _ in 0..1_000 {
            let port = rand::random_range(range.clone());
            let ports = if cluster {
                vec![port, port + CLUSTER_BUS_OFFSET]
            } else {
                vec![port]
            };
            let mut reserved = reserved_ports();
            if ports.iter().any(|p| reserved.contains(p)) {
                continue;
            }
            if ports.iter().all(|&p| port_is_free(p)) {
                reserved.extend(&ports);
                return PortReservation { ports };
            }
        }
        panic!("no free port found in {range:?}");
    }

    fn port(&self) -> u16 {
        self.ports[0]
    }
}

impl Drop for PortReservation {
    fn drop(&mut self) {
        let mut reserved = reserved_ports();
        for port in &self.ports {
            reserved.remove(port);
        }
    }
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// Where a probe connection goes.
enum Endpoint {
    Tcp(u16),
    Unix(PathBuf),
}

trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

impl Endpoint {
    fn connect(&self) -> io::Result<Box<dyn Stream>> {
        match self {
            Endpoint::Tcp(port) => {
                let stream = TcpStream::connect_timeout(
                    &SocketAddrV4::new(Ipv4Addr::LOCALHOST, *port).into(),
                    PROBE_TIMEOUT,
                )?;
                stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
                stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
                Ok(Box::new(stream))
            }
            Endpoint::Unix(path) => {
                let stream = UnixStream::connect(path)?;
                stream.set_read_timeout(Some(PROBE_TIMEOUT))?;
                stream.set_write_timeout(Some(PROBE_TIMEOUT))?;
                Ok(Box::new(stream))
            }
        }
    }

    /// Sends one command on a fresh connection and returns its reply if it
    /// is a simple string, an integer or a bulk string. Error replies (such
    /// as `-LOADING`) become `Err`.
    fn command(&self, args: &[&str]) -> io::Result<String> {
        let mut stream = self.connect()?;
        let mut request = format!("*{}\r\n", args.len());
        for arg in args {
            let _ = write!(request, "${}\r\n{arg}\r\n", arg.len());
        }
        stream.write_all(request.as_bytes())?;
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end_matches(['\r', '\n']);
        let (kind, rest) = line.split_at(line.len().min(1));
        match kind {
            "+" | ":" => Ok(rest.to_owned()),
            "$" => {
                let len: usize = rest
                    .parse()
                    .map_err(|_| io::Error::other(format!("bad bulk length: {line}")))?;
                let mut body = vec![0; len + 2];
                reader.read_exact(&mut body)?;
                body.truncate(len);
                String::from_utf8(body).map_err(io::Error::other)
            }
            "-" => Err(io::Error::other(format!("redis error: {rest}"))),
            _ => Err(io::Error::other(format!("unexpected reply: {line}"))),
        }
    }
}

fn file_len(path: &Path) -> u64 {
    path.metadata().map(|m| m.len()).unwrap_or(0)
}

/// The contents of a file from byte `offset` on, or an empty string.
fn read_from(path: &Path, offset: u64) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    if all.is_empty() {
        return "(log is empty)".to_owned();
    }
    all[start..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_info_parsing() {
        let ok = "cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_known_nodes:3\r\n";
        assert!(cluster_info_ready(ok));
        let fail =
            "cluster_state:fail\r\ncluster_slots_assigned:16384\r\ncluster_known_nodes:3\r\n";
        assert!(!cluster_info_ready(fail));
        let partial =
            "cluster_state:ok\r\ncluster_slots_assigned:10000\r\ncluster_known_nodes:3\r\n";
        assert!(!cluster_info_ready(partial));
        let lonely =
            "cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_known_nodes:1\r\n";
        assert!(!cluster_info_ready(lonely));
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("", 2), "(log is empty)");
    }

    /// A reservation of `count` ports spaced like a node's client and bus
    /// ports; the first is free, the last is held by the returned listener.
    fn reserve_with_occupied_last(count: u16) -> (PortReservation, TcpListener) {
        for _ in 0..100 {
            let occupant = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
            let last = occupant.local_addr().unwrap().port();
            let first = last - (count - 1) * CLUSTER_BUS_OFFSET;
            let ports: Vec<u16> = (0..count).map(|i| first + i * CLUSTER_BUS_OFFSET).collect();
            let mut reserved = reserved_ports();
            if ports.iter().any(|p| reserved.contains(p)) {
                continue;
            }
            if count == 1 || port_is_free(first) {
                reserved.extend(&ports);
                return (PortReservation { ports }, occupant);
            }
        }
        panic!("no suitable ports found");
    }

    fn server_on(ports: PortReservation, cluster: bool) -> RedisServer {
        RedisServer {
            child: Mutex::new(None),
            port: ports.port(),
            opts: RedisOptions::default(),
            cluster,
            dir: tempfile::tempdir().unwrap(),
            _ports: ports,
        }
    }

    #[test]
    fn taken_port_is_reported_as_in_use() {
        let (ports, _occupant) = reserve_with_occupied_last(1);
        let server = server_on(ports, false);
        assert!(matches!(server.launch(), Err(LaunchError::PortInUse)));
        assert!(!server.is_running());
    }

    #[test]
    fn taken_cluster_bus_port_is_reported_as_in_use() {
        let (ports, _occupant) = reserve_with_occupied_last(2);
        let server = server_on(ports, true);
        assert!(matches!(server.launch(), Err(LaunchError::PortInUse)));
        assert!(!server.is_running());
    }

    #[test]
    fn reservations_are_distinct_and_released() {
        let a = PortReservation::reserve(true);
        let b = PortReservation::reserve(false);
        assert_eq!(a.ports[1], a.port() + CLUSTER_BUS_OFFSET);
        assert!(!a.ports.contains(&b.port()));
        let port = b.port();
        assert!(reserved_ports().contains(&port));
        drop(b);
        assert!(!reserved_ports().contains(&port));
    }
}
