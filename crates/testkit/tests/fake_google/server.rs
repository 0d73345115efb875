//! The fake as a fixture: shareable, usable from plain `#[test]`s, gone when dropped.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use mailroom_testkit::google::FakeGoogle;

/// The fake can be shared between threads and tasks (e.g. in a `static`).
#[test]
fn fake_google_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FakeGoogle>();
}

/// The fake serves plain `#[test]`s too, and dropping it closes the port.
#[test]
fn usable_from_sync_tests_and_stops_when_dropped() {
    let google = FakeGoogle::start();
    let port = google.port();
    let started = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .write_all(b"GET /no/such/path HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert!(answer.contains("\"status\":\"NOT_FOUND\""), "{answer}");
    assert_eq!(google.base_url(), format!("http://127.0.0.1:{port}/"));

    drop(google);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    assert!(started.elapsed() < Duration::from_secs(2));
}
