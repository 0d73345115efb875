//! A connection to the primary that a group of Redis Sentinels names, which follows the primary
//! when it moves.
//!
//! The primary is looked up through the Sentinels (the `redis` crate's `SentinelClient`, which
//! also checks that the node it names answers `ROLE` as a master) when the connection opens,
//! and again after a command fails on a lost connection or with `READONLY` / `MASTERDOWN` (the
//! node was demoted), and whenever a Sentinel announces `+switch-master` (see
//! `switch_watch`). The failed command itself is not retried here: its error is a connection
//! error to the caller, which the queue already retries (outcomes) or reports (enqueues), so a
//! write is never sent twice behind the caller's back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::sentinel::{SentinelClient, SentinelClientBuilder, SentinelServerType};
use redis::{
    AsyncConnectionConfig, Client, Cmd, ConnectionAddr, IntoConnectionInfo, Pipeline, RedisError,
    RedisFuture, ServerErrorKind, TlsCertificates, TlsMode, Value,
};

use crate::QueueError;
use crate::sentinel_url::SentinelTarget;
use crate::switch_watch::{self, Follow};

/// The connection to the current primary, with the number of times it was replaced.
struct Current {
    conn: MultiplexedConnection,
    addr: String,
    generation: u64,
}

struct Shared {
    client: tokio::sync::Mutex<SentinelClient>,
    current: Mutex<Current>,
    config: AsyncConnectionConfig,
    /// Longest a lookup of the primary may take.
    lookup_timeout: Duration,
    failovers: AtomicU64,
    /// Dropped with the connection, which ends the `+switch-master` watch.
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// A multiplexed connection to the primary the Sentinels name; clones share it.
#[derive(Clone)]
pub struct SentinelConn(Arc<Shared>);

impl SentinelConn {
    /// Finds the primary and connects to it; starts watching the Sentinels for `+switch-master`.
    /// With `tls`, the Sentinels and the data nodes are reached with those certificates.
    pub(crate) async fn open(
        target: &SentinelTarget,
        tls: Option<&TlsCertificates>,
        response_timeout: Duration,
    ) -> Result<Self, QueueError> {
        let mut client = builder(target, tls)?.build()?;
        let connect_timeout = Duration::from_secs(5);
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(connect_timeout))
            .set_response_timeout(Some(response_timeout));
        let lookup_timeout = connect_timeout * 2;
        let (conn, addr) = lookup(&mut client, &config, lookup_timeout).await?;
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let shared = Arc::new(Shared {
            client: tokio::sync::Mutex::new(client),
            current: Mutex::new(Current {
                conn,
                addr,
                generation: 0,
            }),
            config,
            lookup_timeout,
            failovers: AtomicU64::new(0),
            _stop: stop,
        });
        let follow: Arc<dyn Follow> = shared.clone();
        switch_watch::spawn(
            sentinel_clients(target, tls)?,
            target.master.clone(),
            Arc::downgrade(&follow),
            stopped,
        );
        Ok(Self(shared))
    }

    /// How many times this connection moved to a new primary.
    #[must_use]
    pub fn failovers(&self) -> u64 {
        self.0.failovers.load(Ordering::Relaxed)
    }

    /// The address (`host:port`) of the primary this connection talks to.
    #[must_use]
    pub fn primary(&self) -> String {
        self.0.lock().addr.clone()
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Current> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn snapshot(&self) -> (MultiplexedConnection, u64) {
        let c = self.lock();
        (c.conn.clone(), c.generation)
    }

    /// Looks the primary up again, unless the connection was replaced since `generation`.
    /// With `broken`, the connection is replaced even when the primary kept its address (the
    /// old one is dead); otherwise only when the primary moved.
    async fn rediscover(&self, generation: u64, broken: bool) {
        let mut client = self.client.lock().await;
        if self.lock().generation != generation {
            return;
        }
        match lookup(&mut client, &self.config, self.lookup_timeout).await {
            Ok((conn, addr)) => {
                let mut current = self.lock();
                let moved = current.addr != addr;
                if moved {
                    tracing::warn!(from = %current.addr, to = %addr, "following the new redis primary");
                    self.failovers.fetch_add(1, Ordering::Relaxed);
                }
                if moved || broken {
                    *current = Current {
                        conn,
                        addr,
                        generation: generation + 1,
                    };
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "looking up the redis primary through sentinel failed")
            }
        }
    }
}

impl Follow for Shared {
    fn follow(self: Arc<Self>) -> BoxFuture<'static, ()> {
        async move {
            let generation = self.lock().generation;
            self.rediscover(generation, false).await;
        }
        .boxed()
    }
}

/// Asks the Sentinels for the primary and connects to it.
async fn lookup(
    client: &mut SentinelClient,
    config: &AsyncConnectionConfig,
    within: Duration,
) -> Result<(MultiplexedConnection, String), QueueError> {
    let found = async {
        let primary = client.async_get_client().await?;
        let addr = primary.get_connection_info().addr().to_string();
        let conn = primary
            .get_multiplexed_async_connection_with_config(config)
            .await?;
        Ok::<_, RedisError>((conn, addr))
    };
    match tokio::time::timeout(within, found).await {
        Ok(found) => Ok(found?),
        Err(_) => Err(RedisError::from(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "looking up the primary through sentinel timed out",
        ))
        .into()),
    }
}

/// Whether a reply shows that the connection no longer reaches a writable primary.
fn lost_primary(reply: &Result<Value, RedisError>) -> bool {
    match reply {
        Err(e) => error_lost_primary(e),
        Ok(v) => value_lost_primary(v),
    }
}

/// Whether an error says the connection no longer reaches a primary.
fn error_lost_primary(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
        || demoted(server_kind(e))
}

/// Whether a reply (or any element of it) is a server error from a demoted primary; looked
/// at in place, since a reply may carry whole payloads.
fn value_lost_primary(value: &Value) -> bool {
    match value {
        Value::ServerError(e) => demoted(e.kind()),
        Value::Array(items) => items.iter().any(value_lost_primary),
        _ => false,
    }
}

fn demoted(kind: Option<ServerErrorKind>) -> bool {
    matches!(
        kind,
        Some(ServerErrorKind::ReadOnly | ServerErrorKind::MasterDown)
    )
}

fn server_kind(e: &RedisError) -> Option<ServerErrorKind> {
    match e.kind() {
        redis::ErrorKind::Server(k) => Some(k),
        _ => None,
    }
}

impl ConnectionLike for SentinelConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        async move {
            let (mut conn, generation) = self.0.snapshot();
            let reply = conn.req_packed_command(cmd).await;
            if lost_primary(&reply) {
                self.0.rediscover(generation, true).await;
            }
            reply
        }
        .boxed()
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        async move {
            let (mut conn, generation) = self.0.snapshot();
            let reply = conn.req_packed_commands(pipeline, offset, count).await;
            let lost = match &reply {
                Ok(values) => values.iter().any(value_lost_primary),
                Err(e) => error_lost_primary(e),
            };
            if lost {
                self.0.rediscover(generation, true).await;
            }
            reply
        }
        .boxed()
    }

    fn get_db(&self) -> i64 {
        self.0.lock().conn.get_db()
    }
}

fn addr(target: &SentinelTarget, host: &str, port: u16) -> ConnectionAddr {
    if target.tls {
        ConnectionAddr::TcpTls {
            host: host.to_owned(),
            port,
            insecure: false,
            tls_params: None,
        }
    } else {
        ConnectionAddr::Tcp(host.to_owned(), port)
    }
}

fn builder(
    target: &SentinelTarget,
    tls: Option<&TlsCertificates>,
) -> Result<SentinelClientBuilder, QueueError> {
    let nodes = target.sentinels.iter().map(|(h, p)| addr(target, h, *p));
    let mut b = SentinelClientBuilder::new(nodes, &target.master, SentinelServerType::Master)?
        .set_client_to_redis_db(target.db);
    if target.tls {
        b = b
            .set_client_to_redis_tls_mode(TlsMode::Secure)
            .set_client_to_sentinel_tls_mode(TlsMode::Secure);
        if let Some(certs) = tls {
            b = b
                .set_client_to_redis_certificates(certs.clone())
                .set_client_to_sentinel_certificates(certs.clone());
        }
    }
    if let Some(u) = &target.username {
        b = b.set_client_to_redis_username(u);
    }
    if let Some(p) = &target.password {
        b = b.set_client_to_redis_password(p);
    }
    if let Some(u) = &target.sentinel_username {
        b = b.set_client_to_sentinel_username(u);
    }
    if let Some(p) = &target.sentinel_password {
        b = b.set_client_to_sentinel_password(p);
    }
    Ok(b)
}

/// A client for each Sentinel, for the `+switch-master` watch.
fn sentinel_clients(
    target: &SentinelTarget,
    tls: Option<&TlsCertificates>,
) -> Result<Vec<Client>, QueueError> {
    target
        .sentinels
        .iter()
        .map(|(h, p)| {
            let info = addr(target, h, *p).into_connection_info()?;
            let mut redis = info.redis_settings().clone();
            if let Some(u) = &target.sentinel_username {
                redis = redis.set_username(u);
            }
            if let Some(p) = &target.sentinel_password {
                redis = redis.set_password(p);
            }
            let info = info.set_redis_settings(redis);
            Ok(match tls {
                Some(certs) if target.tls => Client::build_with_tls(info, certs.clone())?,
                _ => Client::open(info)?,
            })
        })
        .collect()
}
