//! The worker as a service: a listen address already taken fails the start at once, and
//! systemd hears `READY=1`, watchdog pings and `STOPPING=1`; `run` fixes glibc's mmap threshold
//! in the process it was started as.

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

/// `mailroom run` on glibc Linux fixes glibc's mmap threshold by executing itself again as the
/// same process (the pid that was started says `READY=1` and holds the variable), and keeps an
/// operator's own value.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn run_fixes_the_mmap_threshold_as_the_same_process_keeping_an_operators_value() {
    let env = Env::new("");
    for (name, own, expected) in [
        ("tuned", None, "1048576"),
        ("operator", Some("2097152"), "2097152"),
    ] {
        let path = env.dir.path().join(format!("{name}.sock"));
        let socket = UnixDatagram::bind(&path).unwrap();
        let mut vars = vec![("NOTIFY_SOCKET", path.to_str().unwrap())];
        vars.extend(own.map(|value| ("MALLOC_MMAP_THRESHOLD_", value)));
        let worker = env.worker(name, &vars);
        let ready = receive(&socket, Duration::from_secs(30));
        assert_eq!(
            ready.as_deref(),
            Some("READY=1\n"),
            "log:\n{}",
            worker.log_text()
        );
        let environ = std::fs::read(format!("/proc/{}/environ", worker.pid())).unwrap();
        let settings: Vec<&[u8]> = environ
            .split(|b| *b == 0)
            .filter(|v| v.starts_with(b"MALLOC_MMAP_THRESHOLD_="))
            .collect();
        let setting = format!("MALLOC_MMAP_THRESHOLD_={expected}");
        assert_eq!(settings, [setting.as_bytes()], "{name}");
        worker.stop();
    }
}
