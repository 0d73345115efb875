//! Talking to a worker's HTTP listener: plain `GET`s, samples of a scrape, and the address
//! the worker logged.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::Worker;

/// A finished HTTP exchange.
pub struct Response {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// `GET path` over a fresh connection.
pub fn get(addr: &str, path: &str) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read the response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a complete response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status code");
    let content_type = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    Response {
        status,
        content_type,
        body: body.to_owned(),
    }
}

/// The value of the sample `name` (labels included, as printed) in a scrape.
pub fn sample(scrape: &str, name: &str) -> Option<f64> {
    scrape
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// The address the worker's HTTP listener serves on, read from its log.
pub fn listen_addr(worker: &mut Worker) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        worker.assert_running();
        if let Some(addr) = worker.log_lines().iter().find_map(|l| {
            (l["message"].as_str()?.starts_with("http listener serving"))
                .then(|| l["addr"].as_str().map(str::to_owned))?
        }) {
            return addr;
        }
        assert!(
            Instant::now() < deadline,
            "no listener line; log:\n{}",
            worker.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
