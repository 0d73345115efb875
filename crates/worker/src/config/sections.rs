//! The sections of [`Config`](super::Config), each with its documented defaults.

use std::path::PathBuf;
use std::time::Duration;

use mailroom_jobs::{DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MAX_RECIPIENTS};
use serde::{Deserialize, Serialize};

use super::RedisUrl;

/// Which kind of deployment this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// A laptop or a test machine. The default.
    #[default]
    Development,
    /// A real deployment: the outbox transport is refused unless explicitly allowed.
    Production,
}

/// `[redis]`: where the queue lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSection {
    /// `redis://host:port/db`, `rediss://…` (TLS), `redis+unix:///path.sock`, or
    /// `redis+cluster://host1:port,host2:port` for Redis Cluster, or
    /// `redis+sentinel://host1:26379,host2:26379/MASTER_NAME[/db]` for a primary found through
    /// Redis Sentinel (the URL's password is the data nodes'; a `sentinel_password` query
    /// parameter is the Sentinels'); `rediss+cluster://` and `rediss+sentinel://` for TLS (to
    /// the Sentinels and the data nodes alike). A password in the URL never reaches logs. Default
    /// `redis://127.0.0.1:6379/`.
    pub url: RedisUrl,
    /// Replicas that must acknowledge (`WAIT`) an enqueue and a recorded outcome before it
    /// counts as done. 0 (the default) waits for none; with N ≥ 1 an enqueue that returned Ok
    /// survives the loss of the primary.
    pub min_replicas_ack: u32,
    /// How long a write waits for `min_replicas_ack` replicas before it fails (an enqueue
    /// returns an error; an outcome is retried). Default `1s`.
    #[serde(with = "humantime_serde")]
    pub replica_ack_timeout: Duration,
    /// PEM file of the certificate authorities that sign the Redis servers' (and the
    /// Sentinels') certificates, for a `rediss://`, `rediss+cluster://` or `rediss+sentinel://`
    /// URL. Default none: the system's trust store. Certificates are always verified.
    pub tls_ca_file: Option<PathBuf>,
    /// PEM file of the client certificate (chain) for servers that require one (mutual TLS,
    /// `tls-auth-clients yes`). Set together with `tls_key_file`. Default none.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM file of the private key of `tls_cert_file`; checked like every secret file.
    /// Default none.
    pub tls_key_file: Option<PathBuf>,
}

impl Default for RedisSection {
    fn default() -> Self {
        Self {
            url: RedisUrl::default(),
            min_replicas_ack: 0,
            replica_ack_timeout: Duration::from_secs(1),
            tls_ca_file: None,
            tls_cert_file: None,
            tls_key_file: None,
        }
    }
}

/// `[worker]`: this worker process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerSection {
    /// Worker name, shown in Redis as the prefix of its consumer name. Default: the host name.
    pub name: String,
    /// Jobs sent at the same time. Default 64.
    pub concurrency: usize,
    /// How long a stopping worker waits for in-flight sends before it hands them back to the
    /// queue. Default `30s`.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Most bytes of jobs the worker holds at once (fetched, waiting or being sent), counted
    /// as their payload, metadata and tags are stored in Redis; fetching waits while they are
    /// spent, and a job larger than the whole budget is still taken, alone. At least 1 MiB.
    /// Default 67108864 (64 MiB).
    pub max_held_bytes: usize,
}

impl Default for WorkerSection {
    fn default() -> Self {
        Self {
            name: host_name(),
            concurrency: 64,
            shutdown_grace: Duration::from_secs(30),
            max_held_bytes: 64 << 20,
        }
    }
}

fn host_name() -> String {
    let name = gethostname::gethostname()
        .to_string_lossy()
        .trim()
        .to_owned();
    if name.is_empty() {
        "mailroom".to_owned()
    } else {
        name
    }
}

/// `[jobs]`: the rules a job must pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobsSection {
    /// Most recipients across to, cc and bcc. Default 100.
    pub max_recipients: usize,
    /// Largest rendered message, in bytes. Default 36700160 (35 MiB, Gmail's limit).
    pub max_message_bytes: usize,
    /// Senders a job may use: exact addresses (`noreply@example.com`), whole domains
    /// (`*@example.com`), or `"*"` for any sender (logged as a warning at start). In the
    /// environment, a comma-separated list. Default empty: nobody, which the `gmail` transport
    /// refuses as a configuration error; `outbox` and `null` send as nobody and need no list.
    pub allowed_senders: Vec<String>,
}

impl Default for JobsSection {
    fn default() -> Self {
        Self {
            max_recipients: DEFAULT_MAX_RECIPIENTS,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            allowed_senders: Vec::new(),
        }
    }
}

/// Which transport sends the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    /// Writes each message to `<dir>/<job id>.eml`. The default.
    #[default]
    Outbox,
    /// Discards every message (benchmarks).
    Null,
    /// Sends through the Gmail API (`users.messages.send`) as the job's sender.
    Gmail,
}

impl TransportKind {
    /// The name used in the config.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Outbox => "outbox",
            Self::Null => "null",
            Self::Gmail => "gmail",
        }
    }
}

/// `[transport]`: where messages go.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransportSection {
    /// `outbox`, `null` or `gmail`. Default `outbox`.
    pub kind: TransportKind,
    /// Lets `environment = "production"` use the outbox transport. Default false.
    pub allow_outbox_in_production: bool,
    /// `[transport.outbox]`.
    pub outbox: OutboxSection,
    /// `[transport.null]`.
    pub null: NullSection,
}

/// `[transport.outbox]`: the directory transport.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxSection {
    /// Directory the `.eml` files are written to, created if missing. Default `./outbox`.
    pub dir: PathBuf,
}

impl Default for OutboxSection {
    fn default() -> Self {
        Self {
            dir: PathBuf::from("./outbox"),
        }
    }
}

/// `[transport.null]`: the discarding transport.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NullSection {
    /// Simulated time each send takes (e.g. `"200ms"` to mimic a remote API in a benchmark).
    /// Default `0s`.
    #[serde(with = "humantime_serde")]
    pub latency: Duration,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines. The default.
    #[default]
    Pretty,
    /// One JSON object per line.
    Json,
}

/// `[log]`: log output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSection {
    /// `pretty` or `json`. Default `pretty`.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `mailroom_worker=debug,info`; `RUST_LOG` overrides
    /// it. Default `info`.
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
            level: "info".to_owned(),
        }
    }
}

/// `[http]`: the HTTP listener for `/metrics`, `/livez` and `/readyz`, and the bounds of
/// every listener of the worker (this one and `credentials.onboarding_listen`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSection {
    /// IP address and port to listen on, e.g. `"0.0.0.0:9187"`; `"off"` (or `""`) runs no
    /// listener. Port 0 picks a free port (logged at start). Default `"127.0.0.1:9187"`.
    #[serde(with = "listen_addr")]
    pub listen: Option<std::net::SocketAddr>,
    /// How often the queue gauges of `/metrics` are read from Redis. Default `5s`.
    #[serde(with = "humantime_serde")]
    pub refresh: Duration,
    /// Longest a client may take to send a request's headers before its connection is
    /// closed (also an idle keep-alive connection's wait for its next request). Default `10s`.
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
    /// Longest a request may take to be answered (else 408). Default `30s`.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Most connections a listener keeps open; more are closed at once. Default 4096.
    pub max_connections: usize,
    /// Largest request body, in bytes (else 413). Default 65536.
    pub max_body_bytes: usize,
}

impl Default for HttpSection {
    fn default() -> Self {
        let limits = crate::serve::Limits::default();
        Self {
            listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 9187))),
            refresh: Duration::from_secs(5),
            header_timeout: limits.header_timeout,
            request_timeout: limits.request_timeout,
            max_connections: limits.max_connections,
            max_body_bytes: limits.max_body_bytes,
        }
    }
}

impl HttpSection {
    /// The bounds every listener of the worker serves within.
    #[must_use]
    pub fn limits(&self) -> crate::serve::Limits {
        crate::serve::Limits {
            header_timeout: self.header_timeout,
            request_timeout: self.request_timeout,
            max_connections: self.max_connections,
            max_body_bytes: self.max_body_bytes,
        }
    }
}

/// A listen address as a string: an address and port, or `off`.
pub(crate) mod listen_addr {
    use std::net::SocketAddr;

    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub fn serialize<S: Serializer>(addr: &Option<SocketAddr>, s: S) -> Result<S::Ok, S::Error> {
        match addr {
            Some(addr) => s.collect_str(addr),
            None => s.serialize_str("off"),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
        let text = String::deserialize(d)?;
        let text = text.trim();
        if text.is_empty() || text.eq_ignore_ascii_case("off") {
            return Ok(None);
        }
        text.parse().map(Some).map_err(|_| {
            D::Error::custom(format!(
                "{text:?} is not an IP address and port like \"127.0.0.1:9187\", or \"off\""
            ))
        })
    }
}
