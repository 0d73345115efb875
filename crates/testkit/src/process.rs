//! Child processes: finding binaries on `PATH`, the `redis-server` command
//! line, spawning children from one long-lived thread, and reading the
//! servers' log files.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::thread;
use std::time::Duration;

use crate::options::RedisOptions;
use crate::ports::reserved_ports;

/// How often waiting loops poll.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Lines of the server log shown when a server fails.
pub(crate) const LOG_TAIL_LINES: usize = 30;

const NOT_FOUND_HINT: &str =
    "install it (apt-get install redis-server) or run `make test`, which installs it";

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

/// Panics with an installation hint if `name` is not on `PATH`.
pub(crate) fn require_binary(name: &str) {
    if find_on_path(name).is_none() {
        panic!("{name} not found on PATH: {NOT_FOUND_HINT}");
    }
}

/// The log file of the server whose directory is `dir`.
pub(crate) fn log_path(dir: &Path) -> PathBuf {
    dir.join("redis.log")
}

/// The unix socket of the server whose directory is `dir` (used only with
/// [`RedisOptions::unix_socket`]).
pub(crate) fn socket_path(dir: &Path) -> PathBuf {
    dir.join("redis.sock")
}

/// What kind of process a [`server_command`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A standalone server configured on the command line only.
    Plain,
    /// A Redis Cluster node.
    Cluster,
    /// A server that reads `redis.conf` in its directory first (so `CONFIG REWRITE`, which
    /// Sentinel sends when it reconfigures a node, has a file to write).
    Configured,
    /// A Sentinel (`redis-server sentinel.conf --sentinel`) with its config file in its directory.
    Sentinel,
}

/// The config file of a [`Mode::Configured`] or [`Mode::Sentinel`] process in `dir`.
pub(crate) fn config_path(dir: &Path, mode: Mode) -> PathBuf {
    dir.join(if mode == Mode::Sentinel {
        "sentinel.conf"
    } else {
        "redis.conf"
    })
}

/// The command that runs a server on 127.0.0.1:`port` with its log,
/// append-only files, cluster config and unix socket in `dir`, with RDB
/// snapshots off and stdin, stdout and stderr null.
pub(crate) fn server_command(port: u16, dir: &Path, opts: &RedisOptions, mode: Mode) -> Command {
    let mut cmd = redis_server_command();
    if matches!(mode, Mode::Configured | Mode::Sentinel) {
        cmd.arg(config_path(dir, mode));
    }
    if mode == Mode::Sentinel {
        cmd.arg("--sentinel");
    }
    match &opts.tls {
        Some(tls) => {
            cmd.args(["--port", "0", "--tls-port"])
                .arg(port.to_string())
                .arg("--tls-cert-file")
                .arg(&tls.cert_file)
                .arg("--tls-key-file")
                .arg(&tls.key_file)
                .arg("--tls-ca-cert-file")
                .arg(&tls.ca_file)
                .arg("--tls-auth-clients")
                .arg(if tls.auth_clients { "yes" } else { "no" })
                .args(["--tls-replication", "yes"]);
        }
        None => {
            cmd.arg("--port").arg(port.to_string());
        }
    }
    cmd.args(["--bind", "127.0.0.1"])
        .arg("--dir")
        .arg(dir)
        .arg("--logfile")
        .arg(log_path(dir))
        .args(["--daemonize", "no"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if mode == Mode::Sentinel {
        return cmd;
    }
    cmd.args(["--save", ""])
        .arg("--appendonly")
        .arg(if opts.appendonly { "yes" } else { "no" });
    if opts.appendonly {
        cmd.args(["--appendfsync", "always"]);
    }
    if opts.unix_socket {
        cmd.arg("--unixsocket")
            .arg(socket_path(dir))
            .args(["--unixsocketperm", "700"]);
    }
    if mode == Mode::Cluster {
        cmd.args(["--cluster-enabled", "yes", "--cluster-config-file"])
            .arg(dir.join("nodes.conf"))
            .args(["--cluster-node-timeout", "5000"]);
    }
    cmd
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
pub(crate) fn spawn(cmd: Command) -> io::Result<Child> {
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

/// The size of a file in bytes, or 0 if it cannot be read.
pub(crate) fn file_len(path: &Path) -> u64 {
    path.metadata().map(|m| m.len()).unwrap_or(0)
}

/// The contents of a file from byte `offset` on, or an empty string.
pub(crate) fn read_from(path: &Path, offset: u64) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// The last `lines` lines of `text`, or `(log is empty)`.
pub(crate) fn tail(text: &str, lines: usize) -> String {
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
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("", 2), "(log is empty)");
    }
}
