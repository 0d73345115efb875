//! One connection type for a single Redis (or managed) server, a primary found through Redis
//! Sentinel, and Redis Cluster, so every script and command runs the same way on all three.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, TlsCertificates, Value};

use crate::QueueError;
use crate::sentinel::SentinelConn;
use crate::sentinel_url::SentinelTarget;

/// Where the queue lives.
///
/// Parsed from a URL: `redis://host:port/db`, `rediss://…` (TLS) or `redis+unix:///path.sock` for one
/// server, and `redis+cluster://host1:port,host2:port,…` for Redis Cluster (the seed nodes; the
/// rest of the topology is discovered). `redis+sentinel://host1:26379,host2:26379/MASTER_NAME[/db]`
/// (or `rediss+sentinel://`) names the Sentinels that watch the primary; see [`SentinelTarget`].
/// The `rediss` forms use TLS, with the certificates of [`RedisTls`](crate::RedisTls);
/// certificate verification cannot be turned off (a `#insecure` URL is refused).
#[derive(Clone, PartialEq, Eq)]
pub enum RedisTarget {
    /// A single server.
    Single(String),
    /// Redis Cluster, by its seed node URLs.
    Cluster(Vec<String>),
    /// A primary found (and followed) through Redis Sentinel.
    Sentinel(SentinelTarget),
}

impl RedisTarget {
    /// Parses a target URL (see the type's documentation).
    ///
    /// # Errors
    /// [`QueueError::Config`] when the URL is empty.
    pub fn parse(url: &str) -> Result<Self, QueueError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(QueueError::config("url", "is empty"));
        }
        if url.ends_with("#insecure") {
            return Err(QueueError::config(
                "url",
                "#insecure (no certificate verification) is not supported: \
                 trust the server's CA with the TLS CA file instead",
            ));
        }
        for (prefix, tls) in [("redis+sentinel://", false), ("rediss+sentinel://", true)] {
            if let Some(rest) = url.strip_prefix(prefix) {
                return SentinelTarget::parse(rest, tls).map(Self::Sentinel);
            }
        }
        for (prefix, scheme) in [
            ("redis+cluster://", "redis"),
            ("rediss+cluster://", "rediss"),
        ] {
            if let Some(rest) = url.strip_prefix(prefix) {
                let nodes = rest
                    .split(',')
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(|n| format!("{scheme}://{n}"))
                    .collect::<Vec<_>>();
                if nodes.is_empty() {
                    return Err(QueueError::config("url", "names no cluster nodes"));
                }
                return Ok(Self::Cluster(nodes));
            }
        }
        Ok(Self::Single(url.to_owned()))
    }

    /// Whether the URL asks for TLS (`rediss://`, `rediss+cluster://`, `rediss+sentinel://`).
    #[must_use]
    pub fn uses_tls(&self) -> bool {
        match self {
            Self::Single(url) => url.starts_with("rediss://"),
            Self::Cluster(nodes) => nodes.iter().any(|n| n.starts_with("rediss://")),
            Self::Sentinel(t) => t.tls,
        }
    }
}

impl std::fmt::Debug for RedisTarget {
    // URLs may carry a password: show hosts only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn host(u: &str) -> &str {
            let rest = u.split_once("://").map_or(u, |(_, r)| r);
            rest.rsplit_once('@').map_or(rest, |(_, h)| h)
        }
        match self {
            Self::Single(u) => write!(f, "Single({})", host(u)),
            Self::Cluster(us) => f
                .debug_tuple("Cluster")
                .field(&us.iter().map(|u| host(u)).collect::<Vec<_>>())
                .finish(),
            Self::Sentinel(t) => f.debug_tuple("Sentinel").field(t).finish(),
        }
    }
}

/// A reconnecting, multiplexed connection to a single server or to a cluster.
#[derive(Clone)]
pub enum Conn {
    /// A single server, reconnected in the background after a failure.
    Single(ConnectionManager),
    /// A cluster connection (reconnects per node).
    Cluster(ClusterConnection),
    /// The primary named by Redis Sentinel, followed when it moves.
    Sentinel(SentinelConn),
}

impl Conn {
    /// Opens a connection whose replies may take up to `response_timeout`, over TLS with
    /// `tls` (from [`RedisTls::load`](crate::RedisTls::load)) when the target's URL asks for
    /// TLS.
    ///
    /// # Errors
    /// Redis errors when the server cannot be reached (or the TLS handshake fails), and
    /// [`QueueError::Config`] when `tls` is given for a URL without TLS.
    pub async fn open(
        target: &RedisTarget,
        tls: Option<&TlsCertificates>,
        response_timeout: Duration,
    ) -> Result<Self, QueueError> {
        if tls.is_some() && !target.uses_tls() {
            return Err(QueueError::config(
                "url",
                "TLS certificate files are set but the URL does not use TLS: \
                 write rediss://, rediss+cluster:// or rediss+sentinel://",
            ));
        }
        match target {
            RedisTarget::Single(url) => {
                let client = match tls {
                    Some(certs) => redis::Client::build_with_tls(url.as_str(), certs.clone())?,
                    None => redis::Client::open(url.as_str())?,
                };
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(5)))
                    .set_response_timeout(Some(response_timeout))
                    .set_number_of_retries(2)
                    .set_max_delay(Duration::from_secs(2));
                Ok(Self::Single(
                    ConnectionManager::new_with_config(client, config).await?,
                ))
            }
            RedisTarget::Cluster(nodes) => {
                let mut builder = ClusterClient::builder(nodes.clone())
                    .connection_timeout(Duration::from_secs(5))
                    .response_timeout(response_timeout)
                    .retries(3);
                if let Some(certs) = tls {
                    builder = builder.certs(certs.clone());
                }
                let client = builder.build()?;
                Ok(Self::Cluster(client.get_async_connection().await?))
            }
            RedisTarget::Sentinel(t) => Ok(Self::Sentinel(
                SentinelConn::open(t, tls, response_timeout).await?,
            )),
        }
    }

    /// How many times this connection moved to a new primary after a failover (Sentinel only;
    /// always 0 for a single server or a cluster).
    #[must_use]
    pub fn failovers(&self) -> u64 {
        match self {
            Self::Sentinel(c) => c.failovers(),
            Self::Single(_) | Self::Cluster(_) => 0,
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
            Self::Sentinel(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
            Self::Sentinel(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
            Self::Sentinel(c) => c.get_db(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_and_cluster_urls() {
        assert_eq!(
            RedisTarget::parse("redis://127.0.0.1:6379/").unwrap(),
            RedisTarget::Single("redis://127.0.0.1:6379/".into())
        );
        assert_eq!(
            RedisTarget::parse("redis+cluster://a:1, b:2").unwrap(),
            RedisTarget::Cluster(vec!["redis://a:1".into(), "redis://b:2".into()])
        );
        assert!(RedisTarget::parse(" ").is_err());
        assert!(RedisTarget::parse("redis+cluster://").is_err());
        let e = RedisTarget::parse("rediss://db:6380/#insecure").unwrap_err();
        assert!(e.to_string().starts_with("url: #insecure"), "{e}");
        assert!(RedisTarget::parse("rediss://db/").unwrap().uses_tls());
        assert!(
            RedisTarget::parse("rediss+cluster://a:1")
                .unwrap()
                .uses_tls()
        );
        assert!(
            !RedisTarget::parse("redis+sentinel://a:1/m")
                .unwrap()
                .uses_tls()
        );
        let RedisTarget::Sentinel(t) =
            RedisTarget::parse("rediss+sentinel://:pw@a:1,b:2/main/3").unwrap()
        else {
            panic!("not a sentinel target");
        };
        assert_eq!((t.master.as_str(), t.db, t.tls), ("main", 3, true));
        assert_eq!(t.sentinels.len(), 2);
    }

    #[test]
    fn debug_hides_passwords() {
        let t = RedisTarget::parse("redis://:hunter2@db:6379/0").unwrap();
        assert!(!format!("{t:?}").contains("hunter2"));
        let t = RedisTarget::parse("redis+sentinel://:hunter2@a:1/m?sentinel_password=hunter3")
            .unwrap();
        let shown = format!("{t:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("hunter3"),
            "{shown}"
        );
        assert!(
            shown.contains("\"a\"") && shown.contains("\"m\""),
            "{shown}"
        );
    }
}
