//! The worker as a service: a listen address already taken fails the start at once, and
//! systemd hears `READY=1`, watchdog pings and `STOPPING=1`.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use crate::common::Env;

#[test]
fn a_taken_listen_address_fails_the_start_at_once() {
    let env = Env::new("");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut worker = env.worker("clash", &[("MAILROOM__HTTP__LISTEN", addr.as_str())]);
    let status = worker.wait(Duration::from_secs(20));
    assert_eq!(status.code(), Some(1));
    let log = worker.log_text();
    assert!(
        log.contains(&format!("http.listen: cannot listen on {addr}")) && log.contains("in use"),
        "{log}"
    );
}

/// Reads one datagram within `within`, if any.
fn receive(socket: &UnixDatagram, within: Duration) -> Option<String> {
    socket.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 512];
    let n = socket.recv(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[test]
fn systemd_hears_ready_watchdog_pings_and_stopping() {
    let env = Env::new("");
    let path = env.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let worker = env.worker(
        "notified",
        &[
            ("NOTIFY_SOCKET", path.to_str().unwrap()),
            ("WATCHDOG_USEC", "400000"),
        ],
    );
    let first = receive(&socket, Duration::from_secs(30));
    assert_eq!(
        first.as_deref(),
        Some("READY=1\n"),
        "log:\n{}",
        worker.log_text()
    );
    let ping = receive(&socket, Duration::from_secs(5));
    assert_eq!(ping.as_deref(), Some("WATCHDOG=1\n"));

    worker.terminate();
    let deadline = Instant::now() + Duration::from_secs(20);
    let stopping = loop {
        let message = receive(&socket, Duration::from_secs(20)).expect("a message after SIGTERM");
        if message != "WATCHDOG=1\n" {
            break message;
        }
        assert!(Instant::now() < deadline, "no STOPPING=1");
    };
    assert_eq!(stopping, "STOPPING=1\n");
    worker.stop();
}
