//! Queue settings: a value with documented defaults. It deserializes from the `[queue]`
//! section of the worker's config, durations written like `"60s"`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::RedisTls;

/// How a queue behaves. Every field has a default that suits a production deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// Queue name, also its Redis hash tag: every key is `{name}:…`. Default `mailroom`.
    pub name: String,
    /// How long a delivered job may go without an outcome or a lease renewal before another
    /// worker takes it over. Default 60 s.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// Deliveries without an outcome (worker crashes) after which a job is dead-lettered as
    /// poison. Default 5.
    pub max_deliveries: u32,
    /// How long an idempotency key is remembered, counted from the enqueue. Default 24 h.
    #[serde(with = "humantime_serde")]
    pub dedup_ttl: Duration,
    /// How long the status record of a finished job (sent, expired, cancelled) is kept. Default 7 days.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    /// How long a dead-lettered job is kept before it is trimmed. Default 30 days.
    #[serde(with = "humantime_serde")]
    pub dead_retention: Duration,
    /// Longest blocking read on an idle queue; a new job wakes the read at once. Default 1 s.
    #[serde(with = "humantime_serde")]
    pub block: Duration,
    /// How often a worker looks for scheduled jobs that became due (an upper bound on how
    /// late a scheduled send starts). Default 100 ms.
    #[serde(with = "humantime_serde")]
    pub schedule_tick: Duration,
    /// Jobs fetched per read; the next read starts once at most one batch waits for a
    /// handler, so the next batch is fetched while the worker works through this one.
    /// Default 128.
    pub batch: usize,
    /// Most jobs one read asks for while a backlog waits: after a read that came back full,
    /// the next asks for twice as many if the handlers ran out of jobs while it was on its
    /// way (and the worker holds less than a quarter of its byte budget), as many again if
    /// they did not; a read that comes back short starts again at `batch`. Fewer, larger reads
    /// cost less per job when the handlers are quick; a worker whose handlers are the slower
    /// part keeps reading `batch` at a time. Never below `batch`. Default 512.
    pub batch_max: usize,
    /// Scheduled jobs moved to ready per script call, so a huge due backlog never blocks
    /// Redis. Default 1,000.
    pub promote_batch: usize,
    /// Replicas that must acknowledge an enqueue (single or batch) and a recorded outcome
    /// (`WAIT`) before it counts as done; 0 (the default) waits for none. With N ≥ 1 an enqueue
    /// that returned `Ok` survives the loss of the primary. Set from the worker's
    /// `redis.min_replicas_ack`, so it is not read from the `[queue]` section.
    #[serde(skip)]
    pub min_replicas_ack: u32,
    /// How long a write waits for [`QueueConfig::min_replicas_ack`] replicas before it fails.
    /// Default 1 s. Set from the worker's `redis.replica_ack_timeout`.
    #[serde(skip, default = "default_replica_ack_timeout")]
    pub replica_ack_timeout: Duration,
    /// Certificate files for a TLS URL (`rediss://…`): the CA to trust, and a client
    /// certificate and key for mutual TLS. Default none (the system's trust store, no client
    /// certificate). Set from the worker's `redis.tls_ca_file`, `redis.tls_cert_file` and
    /// `redis.tls_key_file`, so it is not read from the `[queue]` section.
    #[serde(skip)]
    pub tls: RedisTls,
}

fn default_replica_ack_timeout() -> Duration {
    Duration::from_secs(1)
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            name: "mailroom".into(),
            lease: Duration::from_secs(60),
            max_deliveries: 5,
            dedup_ttl: Duration::from_secs(24 * 3600),
            retention: Duration::from_secs(7 * 24 * 3600),
            dead_retention: Duration::from_secs(30 * 24 * 3600),
            block: Duration::from_secs(1),
            schedule_tick: Duration::from_millis(100),
            batch: 128,
            batch_max: 512,
            promote_batch: 1000,
            min_replicas_ack: 0,
            replica_ack_timeout: default_replica_ack_timeout(),
            tls: RedisTls::default(),
        }
    }
}

impl QueueConfig {
    /// The most jobs one read asks for: [`QueueConfig::batch_max`], never below
    /// [`QueueConfig::batch`].
    #[must_use]
    pub fn read_max(&self) -> usize {
        self.batch_max.max(self.batch)
    }

    /// A default config for the queue called `name`.
    #[must_use]
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// Checks the values, naming the first bad one.
    ///
    /// # Errors
    /// [`crate::QueueError::Config`] naming the field.
    pub fn validate(&self) -> Result<(), crate::QueueError> {
        let rule = crate::QueueError::ensure;
        let second = Duration::from_secs(1);
        let milli = Duration::from_millis(1);
        rule(
            !self.name.is_empty() && !self.name.contains(['{', '}', ' ']),
            "name",
            "must be non-empty, without braces or spaces",
        )?;
        rule(self.lease >= second, "lease", "must be at least 1s")?;
        rule(
            self.max_deliveries >= 1,
            "max_deliveries",
            "must be at least 1",
        )?;
        rule(self.dedup_ttl >= second, "dedup_ttl", "must be at least 1s")?;
        rule(self.retention >= second, "retention", "must be at least 1s")?;
        rule(
            self.dead_retention >= second,
            "dead_retention",
            "must be at least 1s",
        )?;
        rule(self.block >= milli, "block", "must be at least 1ms")?;
        rule(
            self.schedule_tick >= milli,
            "schedule_tick",
            "must be at least 1ms",
        )?;
        rule(self.batch >= 1, "batch", "must be at least 1")?;
        rule(
            self.promote_batch >= 1,
            "promote_batch",
            "must be at least 1",
        )?;
        rule(
            self.replica_ack_timeout >= milli,
            "replica_ack_timeout",
            "must be at least 1ms",
        )
    }
}
