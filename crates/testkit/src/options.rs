//! [`RedisOptions`]: how a `redis-server` is started.

use crate::tls::ServerTls;

/// Options for [`RedisServer::start_with`](crate::RedisServer::start_with).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RedisOptions {
    /// Run with `--appendonly yes --appendfsync always`, so every write is
    /// on disk before it is acknowledged and survives [`RedisServer::kill`](crate::RedisServer::kill)
    /// followed by [`RedisServer::restart`](crate::RedisServer::restart). Default `false`: nothing is
    /// persisted and a restart comes back empty.
    pub appendonly: bool,
    /// Also listen on a unix socket (`redis.sock` in the server's directory,
    /// mode 700); [`RedisServer::url`](crate::RedisServer::url) then points at the socket. The TCP
    /// port stays open as well. Default `false`.
    pub unix_socket: bool,
    /// Serve TLS only (`--port 0 --tls-port PORT`) with these certificates;
    /// [`RedisServer::url`](crate::RedisServer::url) is then `rediss://…` and
    /// [`RedisServer::client`](crate::RedisServer::client) trusts the CA and presents the client
    /// certificate. Default `None`: plain TCP.
    pub tls: Option<ServerTls>,
}
