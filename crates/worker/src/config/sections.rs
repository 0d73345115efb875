//! The sections of [`Config`](super::Config), each with its documented defaults.

use std::path::PathBuf;
use std::time::Duration;

use mailroom_jobs::{DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MAX_RECIPIENTS};
use mailroom_queue::{QueueConfig, RetryPolicy};
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
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSection {
    /// `redis://host:port/db`, `rediss://…` (TLS), `redis+unix:///path.sock`, or
    /// `redis+cluster://host1:port,host2:port` for Redis Cluster. A password in the URL never
    /// reaches logs. Default `redis://127.0.0.1:6379/`.
    pub url: RedisUrl,
}

/// `[queue]`: how the queue behaves; durations are humantime strings such as `"60s"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueSection {
    /// Queue name, also the Redis hash tag of every key (`{name}:…`). Default `mailroom`.
    pub name: String,
    /// How long a delivery may go without an outcome or a lease renewal before another worker
    /// takes it over. Default `60s`.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// Deliveries without an outcome (worker crashes) after which a job is dead-lettered as
    /// poison. Default 5.
    pub max_deliveries: u32,
    /// How long an idempotency key is remembered, from the enqueue. Default `24h`.
    #[serde(with = "humantime_serde")]
    pub dedup_ttl: Duration,
    /// How long the status of a finished job is kept. Default `7days`.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    /// How long a dead-lettered job is kept. Default `30days`.
    #[serde(with = "humantime_serde")]
    pub dead_retention: Duration,
    /// Longest blocking read on an idle queue; a new job wakes it at once. Default `1s`.
    #[serde(with = "humantime_serde")]
    pub block: Duration,
    /// How often due scheduled jobs are looked for (an upper bound on how late a scheduled
    /// send starts). Default `100ms`.
    #[serde(with = "humantime_serde")]
    pub schedule_tick: Duration,
    /// Jobs fetched per read. Default 32.
    pub batch: usize,
    /// Scheduled jobs moved to ready per script call. Default 1000.
    pub promote_batch: usize,
}

impl Default for QueueSection {
    fn default() -> Self {
        let q = QueueConfig::default();
        Self {
            name: q.name,
            lease: q.lease,
            max_deliveries: q.max_deliveries,
            dedup_ttl: q.dedup_ttl,
            retention: q.retention,
            dead_retention: q.dead_retention,
            block: q.block,
            schedule_tick: q.schedule_tick,
            batch: q.batch,
            promote_batch: q.promote_batch,
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
}

impl Default for WorkerSection {
    fn default() -> Self {
        Self {
            name: host_name(),
            concurrency: 64,
            shutdown_grace: Duration::from_secs(30),
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

/// `[retry]`: exponential backoff with full jitter for failed sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrySection {
    /// Backoff ceiling before the first retry. Default `5s`.
    #[serde(with = "humantime_serde")]
    pub base: Duration,
    /// Largest backoff ceiling. Default `1h`.
    #[serde(with = "humantime_serde")]
    pub cap: Duration,
    /// Failed attempts after which a job is dead-lettered. Default 12.
    pub max_attempts: u32,
    /// Age (from the enqueue) after which a failing job is dead-lettered. Default `3days`.
    #[serde(with = "humantime_serde")]
    pub give_up_after: Duration,
    /// Longest `Retry-After` honoured; longer hints are clamped. Default `24h`.
    #[serde(with = "humantime_serde")]
    pub max_retry_after: Duration,
}

impl Default for RetrySection {
    fn default() -> Self {
        let r = RetryPolicy::default();
        Self {
            base: r.base,
            cap: r.cap,
            max_attempts: r.max_attempts,
            give_up_after: r.give_up_after,
            max_retry_after: r.max_retry_after,
        }
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
    /// Senders a job may use: exact addresses (`noreply@example.com`) or whole domains
    /// (`*@example.com`). In the environment, a comma-separated list. Default empty: any sender.
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
}

impl TransportKind {
    /// The name used in the config.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Outbox => "outbox",
            Self::Null => "null",
        }
    }
}

/// `[transport]`: where messages go.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TransportSection {
    /// `outbox` or `null`. Default `outbox`.
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
