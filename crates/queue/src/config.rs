//! Queue settings: a value with documented defaults.

use std::time::Duration;

/// How a queue behaves. Every field has a default that suits a production deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueConfig {
    /// Queue name, also its Redis hash tag: every key is `{name}:…`. Default `mailroom`.
    pub name: String,
    /// How long a delivered job may go without an outcome or a lease renewal before another
    /// worker takes it over. Default 60 s.
    pub lease: Duration,
    /// Deliveries without an outcome (worker crashes) after which a job is dead-lettered as
    /// poison. Default 5.
    pub max_deliveries: u32,
    /// How long an idempotency key is remembered, counted from the enqueue. Default 24 h.
    pub dedup_ttl: Duration,
    /// How long the status record of a finished job (sent, expired, cancelled) is kept. Default 7 days.
    pub retention: Duration,
    /// How long a dead-lettered job is kept before it is trimmed. Default 30 days.
    pub dead_retention: Duration,
    /// Longest blocking read on an idle queue; a new job wakes the read at once. Default 1 s.
    pub block: Duration,
    /// How often a worker looks for scheduled jobs that became due (an upper bound on how
    /// late a scheduled send starts). Default 100 ms.
    pub schedule_tick: Duration,
    /// Jobs fetched per read. Default 32.
    pub batch: usize,
    /// Scheduled jobs moved to ready per script call, so a huge due backlog never blocks
    /// Redis. Default 1,000.
    pub promote_batch: usize,
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
            batch: 32,
            promote_batch: 1000,
        }
    }
}

impl QueueConfig {
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
    /// [`crate::QueueError::Config`] with the field name.
    pub fn validate(&self) -> Result<(), crate::QueueError> {
        let bad =
            |field: &str, why: &str| Err(crate::QueueError::Config(format!("{field}: {why}")));
        if self.name.is_empty() || self.name.contains(['{', '}', ' ']) {
            return bad("name", "must be non-empty, without braces or spaces");
        }
        if self.lease < Duration::from_secs(1) {
            return bad("lease", "must be at least 1 s");
        }
        if self.max_deliveries == 0 {
            return bad("max_deliveries", "must be at least 1");
        }
        if self.block < Duration::from_millis(1) {
            return bad("block", "must be at least 1 ms");
        }
        if self.schedule_tick < Duration::from_millis(1) {
            return bad("schedule_tick", "must be at least 1 ms");
        }
        if self.batch == 0 {
            return bad("batch", "must be at least 1");
        }
        if self.promote_batch == 0 {
            return bad("promote_batch", "must be at least 1");
        }
        Ok(())
    }
}
