//! Serving a [`Router`] on a listener that may face the open internet: every listener of the
//! binary (the operations listener, the onboarding listener, the HTTP API to come) goes
//! through [`serve`] with its [`Limits`].
//!
//! - **Headers** must arrive within [`Limits::header_timeout`] (hyper's timer is set, so the
//!   timeout runs; `axum::serve` leaves it off), or the connection is closed. An idle
//!   keep-alive connection waits for its next request's headers under the same timeout.
//! - **Requests** are answered within [`Limits::request_timeout`] (else `408`).
//! - **Bodies** larger than [`Limits::max_body_bytes`] are refused (`413`); headers are
//!   bounded by hyper's smallest read buffer.
//! - **Connections** beyond [`Limits::max_connections`] are closed as soon as they are
//!   accepted, so a flood never holds more than that many sockets.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

/// The bounds of a listener. The defaults are those of `[http]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest a client may take to send a request's headers. Default 10 s.
    pub header_timeout: Duration,
    /// Longest a request may take to be answered. Default 30 s.
    pub request_timeout: Duration,
    /// Most connections open at once. Default 4096.
    pub max_connections: usize,
    /// Largest request body. Default 64 KiB.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_connections: 4096,
            max_body_bytes: 64 * 1024,
        }
    }
}

/// How long connections under way get to finish once `stop` is cancelled.
const DRAIN: Duration = Duration::from_secs(1);

/// Smallest read buffer hyper accepts: it bounds a request's header block.
const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Serves `router` on `listener` within `limits` until `stop` is cancelled; then connections
/// under way get a second to finish.
pub async fn serve(listener: TcpListener, router: Router, limits: Limits, stop: CancellationToken) {
    serve_bounded(listener, bound(router, limits), limits, stop).await;
}

/// `router` within the request timeout and body limit of `limits`; a listener that wraps the
/// answers of these bounds (e.g. to reword them) serves the result with [`serve_bounded`].
pub fn bound(router: Router, limits: Limits) -> Router {
    router
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ))
        .layer(RequestBodyLimitLayer::new(limits.max_body_bytes))
}

/// [`serve`] for a router already passed through [`bound`]: the header timeout and the
/// connection cap of `limits` are applied here.
pub async fn serve_bounded(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    stop: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stop.cancelled() => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, or a connection reset before it was accepted:
                // wait a moment rather than spin.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let service = TowerToHyperService::new(router.clone());
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .max_buf_size(MAX_HEADER_BYTES);
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                () = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(DRAIN, conn).await;
                }
            }
            drop(slot);
        });
    }
}

#[cfg(test)]
mod tests {
    use axum::routing::{get, post};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpStream;

    use super::*;

    async fn start(limits: Limits) -> (std::net::SocketAddr, CancellationToken) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new()
            .route("/", get(|| async { "ok" }))
            .route(
                "/body",
                post(|body: String| async move { body.len().to_string() }),
            )
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    "late"
                }),
            );
        let stop = CancellationToken::new();
        tokio::spawn(serve(listener, router, limits, stop.clone()));
        (addr, stop)
    }

    async fn exchange(addr: std::net::SocketAddr, request: &[u8]) -> String {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
        String::from_utf8_lossy(&answer).into_owned()
    }

    #[tokio::test]
    async fn slow_headers_are_cut_off_at_the_timeout() {
        let limits = Limits {
            header_timeout: Duration::from_millis(300),
            ..Limits::default()
        };
        let (addr, _stop) = start(limits).await;
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 256];
        let closed = tokio::time::timeout(Duration::from_secs(3), slow.read(&mut buf))
            .await
            .expect("the server closes the connection");
        assert!(matches!(closed, Ok(_) | Err(_)));
        let ok = exchange(
            addr,
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    }

    #[tokio::test]
    async fn large_bodies_slow_answers_and_extra_connections_are_refused() {
        let limits = Limits {
            request_timeout: Duration::from_millis(200),
            max_body_bytes: 1024,
            max_connections: 2,
            ..Limits::default()
        };
        let (addr, _stop) = start(limits).await;
        let big = format!(
            "POST /body HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 4096\r\n\r\n{}",
            "x".repeat(4096)
        );
        let answer = exchange(addr, big.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
        let answer = exchange(
            addr,
            b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");

        let _held: Vec<TcpStream> =
            futures::future::join_all((0..2).map(|_| TcpStream::connect(addr)))
                .await
                .into_iter()
                .map(Result::unwrap)
                .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let refused = exchange(
            addr,
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert_eq!(
            refused, "",
            "closed without an answer while two connections are held"
        );
    }
}
