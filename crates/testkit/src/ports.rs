//! Ports: picking and reserving free ports for servers, and probe
//! connections that check what listens on them.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

/// Socket timeout of the probe connections used while waiting.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// Offset of the cluster bus port from the client port (fixed by Redis).
const CLUSTER_BUS_OFFSET: u16 = 10_000;

/// Ports for standalone servers. They lie below Linux's default ephemeral
/// range (32768..61000), so outgoing connections do not take them.
const SERVER_PORTS: std::ops::Range<u16> = 20_000..32_700;
/// Client ports for cluster nodes; their bus ports (+10000) are 25000..32700.
const CLUSTER_PORTS: std::ops::Range<u16> = 15_000..22_700;

/// Ports chosen for one server, reserved within this process until dropped
/// so that concurrent tests never pick the same ones.
#[derive(Debug)]
pub(crate) struct PortReservation {
    ports: Vec<u16>,
}

/// The ports reserved in this process. The spawning thread also holds this
/// lock while it forks.
pub(crate) fn reserved_ports() -> MutexGuard<'static, HashSet<u16>> {
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
    pub(crate) fn reserve(cluster: bool) -> PortReservation {
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

    /// The client port.
    pub(crate) fn port(&self) -> u16 {
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

/// A free port for a server a test starts itself (a `mailroom api` that must know its URL
/// before it starts, chromedriver), reserved in this process for as long as it runs, so no
/// other fixture of the process picks it.
#[must_use]
pub fn free_port() -> u16 {
    let reservation = PortReservation::reserve(false);
    let port = reservation.port();
    std::mem::forget(reservation);
    port
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// Whether 127.0.0.1:`port` accepts a TCP connection within the probe
/// timeout.
pub(crate) fn accepts_connections(port: u16) -> bool {
    TcpStream::connect_timeout(
        &SocketAddrV4::new(Ipv4Addr::LOCALHOST, port).into(),
        PROBE_TIMEOUT,
    )
    .is_ok()
}

/// Where a probe connection goes.
pub(crate) enum Endpoint {
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
    pub(crate) fn command(&self, args: &[&str]) -> io::Result<String> {
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

    /// Whether the server at this endpoint is the process `pid` (not some
    /// other server that holds the port) and answers `PING`.
    pub(crate) fn answers_as(&self, pid: u32) -> bool {
        let Ok(info) = self.command(&["INFO", "server"]) else {
            return false;
        };
        let expected = format!("process_id:{pid}");
        if !info.lines().any(|line| line.trim_end() == expected) {
            return false;
        }
        matches!(self.command(&["PING"]), Ok(reply) if reply == "PONG")
    }
}

/// A reservation of `count` ports spaced like a node's client and bus
/// ports; the first is free, the last is held by the returned listener.
#[cfg(test)]
pub(crate) fn reserve_with_occupied_last(count: u16) -> (PortReservation, TcpListener) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
