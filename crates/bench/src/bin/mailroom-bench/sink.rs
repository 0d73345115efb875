//! A lean Gmail for the end-to-end comparison: it answers the token endpoint and
//! `users.messages.send` and records when each message arrived and its Message-ID, nothing
//! more. The testkit's fake Google checks tokens, scopes, quotas and the whole upload; here the
//! server must cost as little as possible, so that the contenders, not the server, set the
//! pace on a small machine.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash as _, Hasher as _};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

/// One accepted message: when, and a hash of its Message-ID.
type Arrival = (Instant, u64);

#[derive(Default)]
struct Log {
    accepted: AtomicU64,
    arrivals: Mutex<Vec<Arrival>>,
}

pub struct Sink {
    addr: SocketAddr,
    log: Arc<Log>,
}

impl Sink {
    /// Starts the server on a thread of its own (one runtime thread, as the testkit's fake).
    pub fn start() -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the sink");
        listener.set_nonblocking(true).expect("non-blocking socket");
        let addr = listener.local_addr().expect("the sink's address");
        let log = Arc::new(Log::default());
        let served = Arc::clone(&log);
        std::thread::Builder::new()
            .name("gmail-sink".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("the sink's runtime");
                runtime.block_on(serve(listener, served));
            })
            .expect("the sink's thread");
        Self { addr, log }
    }

    /// `http://127.0.0.1:PORT/`: the API base and, with `token`, the token endpoint.
    pub fn base_url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn token_url(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    /// Messages accepted so far.
    pub fn accepted(&self) -> u64 {
        self.log.accepted.load(Ordering::Relaxed)
    }

    /// Seconds from the first to the last message accepted after the first `skip`, and how
    /// many of those repeat a Message-ID.
    pub fn timed(&self, skip: usize) -> (f64, usize) {
        let arrivals = self.log.arrivals.lock().expect("lock");
        let new = &arrivals[skip.min(arrivals.len())..];
        let (Some(first), Some(last)) = (new.first(), new.last()) else {
            return (f64::NAN, 0);
        };
        let unique: std::collections::HashSet<u64> = new.iter().map(|a| a.1).collect();
        ((last.0 - first.0).as_secs_f64(), new.len() - unique.len())
    }

    /// How many messages have arrived (the `skip` of a later [`Sink::timed`]).
    pub fn arrived(&self) -> usize {
        self.log.arrivals.lock().expect("lock").len()
    }
}

async fn serve(listener: std::net::TcpListener, log: Arc<Log>) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let log = Arc::clone(&log);
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(request, Arc::clone(&log)));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=UTF-8")
        .body(Full::new(Bytes::from(body)))
        .expect("a response")
}

async fn answer(
    request: Request<Incoming>,
    log: Arc<Log>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let path = request.uri().path().to_owned();
    let authorized = request.headers().contains_key("authorization");
    let body = request.into_body().collect().await?.to_bytes();
    if path == "/token" {
        return Ok(reply(
            StatusCode::OK,
            r#"{"access_token":"sink-token","expires_in":3600,"token_type":"Bearer"}"#.into(),
        ));
    }
    if !path.ends_with("/messages/send") || !authorized {
        return Ok(reply(StatusCode::NOT_FOUND, "{}".into()));
    }
    let Some(id) = message_id(&body) else {
        return Ok(reply(StatusCode::BAD_REQUEST, "{}".into()));
    };
    let mut hasher = DefaultHasher::new();
    id.hash(&mut hasher);
    let n = log.accepted.fetch_add(1, Ordering::Relaxed);
    log.arrivals
        .lock()
        .expect("lock")
        .push((Instant::now(), hasher.finish()));
    Ok(reply(
        StatusCode::OK,
        format!(r#"{{"id":"{n:x}","threadId":"{n:x}","labelIds":["SENT"]}}"#),
    ))
}

/// The value of the first `Message-ID:` header line in the upload.
fn message_id(body: &[u8]) -> Option<&[u8]> {
    body.split(|b| *b == b'\n').find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        (line.len() > 11 && line[..11].eq_ignore_ascii_case(b"message-id:"))
            .then(|| line[11..].trim_ascii())
    })
}
