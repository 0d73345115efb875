//! [`RedisServer`]: one `redis-server` child process.

use std::path::PathBuf;
use std::process::Child;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::options::RedisOptions;
use crate::ports::{Endpoint, PortReservation, accepts_connections};
use crate::process::{
    self, LOG_TAIL_LINES, Mode, POLL_INTERVAL, config_path, file_len, read_from, require_binary,
    server_command, spawn, tail,
};

/// How long a server may take to answer `PING` after being spawned.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a killed server's port may take to stop accepting connections.
const KILL_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a TLS readiness probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// How many ports are tried before giving up on starting a server.
const MAX_PORT_ATTEMPTS: usize = 10;

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
    mode: Mode,
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
        Self::launch_new(opts, Mode::Plain, "")
    }

    /// Creates, spawns and waits for a server, retrying on other ports when
    /// the chosen one turns out to be taken (another test binary may have
    /// grabbed it between the check and the bind). `config` is written to the config file of a
    /// [`Mode::Configured`] or [`Mode::Sentinel`] process before it starts.
    pub(crate) fn launch_new(opts: RedisOptions, mode: Mode, config: &str) -> RedisServer {
        require_binary("redis-server");
        let mut last_error = String::new();
        for _ in 0..MAX_PORT_ATTEMPTS {
            let ports = PortReservation::reserve(mode == Mode::Cluster);
            let dir = tempfile::Builder::new()
                .prefix("mailroom-redis-")
                .tempdir()
                .unwrap_or_else(|e| panic!("cannot create a temporary directory for redis: {e}"));
            if matches!(mode, Mode::Configured | Mode::Sentinel) {
                let path = config_path(dir.path(), mode);
                std::fs::write(&path, config)
                    .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            }
            let server = RedisServer {
                child: Mutex::new(None),
                port: ports.port(),
                opts: opts.clone(),
                mode,
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

    /// The URL to connect to: `redis://127.0.0.1:PORT/`, `rediss://127.0.0.1:PORT/` when
    /// started with [`RedisOptions::tls`], or `redis+unix:///path/to/redis.sock` when started
    /// with [`RedisOptions::unix_socket`].
    pub fn url(&self) -> String {
        if self.opts.tls.is_some() {
            format!("rediss://127.0.0.1:{}/", self.port)
        } else if self.opts.unix_socket {
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

    /// A client for [`RedisServer::url`] (over TLS, trusting the test CA and presenting the
    /// client certificate, when started with [`RedisOptions::tls`]).
    pub fn client(&self) -> redis::Client {
        match &self.opts.tls {
            Some(tls) => redis::Client::build_with_tls(self.url(), tls.client_certificates()),
            None => redis::Client::open(self.url()),
        }
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
        while accepts_connections(self.port) && Instant::now() < deadline {
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
        process::socket_path(self.dir.path())
    }

    pub(crate) fn log_path(&self) -> PathBuf {
        process::log_path(self.dir.path())
    }

    /// Where probe connections to this server go: its unix socket if it
    /// has one, otherwise its TCP port.
    pub(crate) fn endpoint(&self) -> Endpoint {
        if self.opts.unix_socket {
            Endpoint::Unix(self.socket_path())
        } else {
            Endpoint::Tcp(self.port)
        }
    }

    /// Whether the server on this port is the process `pid` and answers `PING` (over TLS
    /// with the redis crate's client when started with [`RedisOptions::tls`]).
    fn answers_as(&self, pid: u32) -> bool {
        if self.opts.tls.is_none() {
            return self.endpoint().answers_as(pid);
        }
        let Ok(mut conn) = self.client().get_connection_with_timeout(PROBE_TIMEOUT) else {
            return false;
        };
        if conn.set_read_timeout(Some(PROBE_TIMEOUT)).is_err() {
            return false;
        }
        let expected = format!("process_id:{pid}");
        let info: Option<String> = redis::cmd("INFO").arg("server").query(&mut conn).ok();
        info.is_some_and(|i| i.lines().any(|l| l.trim_end() == expected))
            && redis::cmd("PING")
                .query::<String>(&mut conn)
                .ok()
                .as_deref()
                == Some("PONG")
    }

    /// Spawns the process and waits until it answers `PING`. On failure the
    /// process is gone and no child is stored.
    fn launch(&self) -> Result<(), LaunchError> {
        let log_offset = file_len(&self.log_path());
        let command = server_command(self.port, self.dir.path(), &self.opts, self.mode);
        let child = spawn(command).unwrap_or_else(|e| panic!("cannot spawn redis-server: {e}"));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::reserve_with_occupied_last;

    fn server_on(ports: PortReservation, cluster: bool) -> RedisServer {
        RedisServer {
            child: Mutex::new(None),
            port: ports.port(),
            opts: RedisOptions::default(),
            mode: if cluster { Mode::Cluster } else { Mode::Plain },
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
}
