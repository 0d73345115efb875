//! The HTTP listener under a slow-headers flood: 2,000 connections that send their headers a
//! byte a second. `/livez` still answers within a second, and every slow connection is
//! dropped once `http.header_timeout` has passed.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::common::Env;
use crate::common::http::{get, listen_addr};

const FLOOD: usize = 2_000;
const HEADER_TIMEOUT: Duration = Duration::from_secs(3);

/// One slow client: sends a request line and headers a byte a second until the server closes
/// the connection (or 30 s pass); returns how long the connection lived.
async fn slow_client(addr: String) -> Option<Duration> {
    let mut stream = TcpStream::connect(&addr).await.ok()?;
    let opened = Instant::now();
    let request = format!(
        "GET /livez HTTP/1.1\r\nHost: {addr}\r\nX-Slow: {}",
        "a".repeat(60)
    );
    let mut buf = [0u8; 512];
    for byte in request.bytes().take(30) {
        if stream.write_all(&[byte]).await.is_err() {
            return Some(opened.elapsed());
        }
        // The server closing shows as the end of the stream (or a reset) on a read.
        let read = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf)).await;
        if let Ok(Ok(0) | Err(_)) = read {
            return Some(opened.elapsed());
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_headers_flood_neither_blocks_livez_nor_holds_its_connections() {
    let _alone = crate::HEAVY.lock().await;
    let env = Env::new("");
    let mut worker = env.worker("w", &[("MAILROOM__HTTP__HEADER_TIMEOUT", "3s")]);
    let addr = listen_addr(&mut worker);
    let clients: Vec<_> = (0..FLOOD)
        .map(|_| tokio::spawn(slow_client(addr.clone())))
        .collect();
    // Every flood connection is open and trickling before /livez is asked.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for _ in 0..3 {
        let addr = addr.clone();
        let asked = Instant::now();
        let answer = tokio::task::spawn_blocking(move || get(&addr, "/livez"))
            .await
            .unwrap();
        let took = asked.elapsed();
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(
            took < Duration::from_secs(1),
            "/livez took {took:?} under the flood"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let mut lived = Vec::with_capacity(FLOOD);
    for client in clients {
        lived.push(client.await.unwrap());
    }
    let kept = lived.iter().filter(|l| l.is_none()).count();
    assert_eq!(kept, 0, "{kept} slow connections were never dropped");
    // Measured from the client's connect, which the kernel completes before the worker
    // accepts: under load the accept itself may come late. Without the timeout a connection
    // lives until its client gives up, 30 s.
    let longest = lived.iter().flatten().max().copied().unwrap_or_default();
    assert!(
        longest < HEADER_TIMEOUT * 4,
        "a slow connection lived {longest:?} (header timeout {HEADER_TIMEOUT:?})"
    );
    let shortest = lived.iter().flatten().min().copied().unwrap_or_default();
    assert!(
        shortest + Duration::from_millis(500) >= HEADER_TIMEOUT,
        "dropped after {shortest:?}, before the header timeout"
    );
    worker.assert_running();
    worker.stop();
}
