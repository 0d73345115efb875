//! Validation: every rule names its key, so an operator knows what to fix.

use std::time::Duration;

use mailroom_queue::RedisTarget;
use tracing_subscriber::EnvFilter;

use super::{Config, ConfigError, Environment, TransportKind};

type Check = Result<(), ConfigError>;

fn rule(ok: bool, key: &str, message: &str) -> Check {
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(key, message))
    }
}

const SCHEMES: &[&str] = &[
    "redis://",
    "rediss://",
    "redis+unix://",
    "unix://",
    "redis+cluster://",
    "rediss+cluster://",
];

impl Config {
    /// Checks every value, returning the first violation with its key, e.g.
    /// `worker.concurrency: must be at least 1`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the key.
    pub fn validate(&self) -> Check {
        self.check_redis()?;
        self.check_queue()?;
        self.check_worker()?;
        self.check_retry()?;
        self.check_jobs()?;
        self.check_transport()?;
        EnvFilter::try_new(&self.log.level)
            .map(drop)
            .map_err(|e| ConfigError::invalid("log.level", format!("not a tracing filter: {e}")))
    }

    fn check_redis(&self) -> Check {
        let url = self.redis.url.expose().trim();
        rule(
            SCHEMES.iter().any(|s| url.starts_with(s)),
            "redis.url",
            "must start with redis://, rediss://, redis+unix:// or redis+cluster://",
        )?;
        RedisTarget::parse(url)
            .map(drop)
            .map_err(|e| ConfigError::invalid("redis.url", e.to_string()))
    }

    fn check_queue(&self) -> Check {
        let q = &self.queue;
        rule(
            !q.name.is_empty() && !q.name.contains(['{', '}', ' ']),
            "queue.name",
            "must be non-empty, without braces or spaces",
        )?;
        rule(
            q.lease >= Duration::from_secs(1),
            "queue.lease",
            "must be at least 1s",
        )?;
        rule(
            q.max_deliveries >= 1,
            "queue.max_deliveries",
            "must be at least 1",
        )?;
        rule(
            q.dedup_ttl >= Duration::from_secs(1),
            "queue.dedup_ttl",
            "must be at least 1s",
        )?;
        rule(
            q.retention >= Duration::from_secs(1),
            "queue.retention",
            "must be at least 1s",
        )?;
        rule(
            q.dead_retention >= Duration::from_secs(1),
            "queue.dead_retention",
            "must be at least 1s",
        )?;
        rule(
            q.block >= Duration::from_millis(1),
            "queue.block",
            "must be at least 1ms",
        )?;
        rule(
            q.schedule_tick >= Duration::from_millis(1),
            "queue.schedule_tick",
            "must be at least 1ms",
        )?;
        rule(q.batch >= 1, "queue.batch", "must be at least 1")?;
        rule(
            q.promote_batch >= 1,
            "queue.promote_batch",
            "must be at least 1",
        )?;
        // The queue crate's own rules, in case they grow stricter than the ones above.
        self.queue_config()
            .validate()
            .map_err(|e| ConfigError::invalid("queue", e.to_string()))
    }

    fn check_worker(&self) -> Check {
        let w = &self.worker;
        rule(
            !w.name.trim().is_empty(),
            "worker.name",
            "must not be empty",
        )?;
        rule(
            w.concurrency >= 1,
            "worker.concurrency",
            "must be at least 1",
        )?;
        rule(
            w.concurrency <= 10_000,
            "worker.concurrency",
            "must be at most 10000",
        )
    }

    fn check_retry(&self) -> Check {
        let r = &self.retry;
        rule(
            r.base >= Duration::from_millis(1),
            "retry.base",
            "must be at least 1ms",
        )?;
        rule(
            r.cap >= r.base,
            "retry.cap",
            "must not be less than retry.base",
        )?;
        rule(
            r.max_attempts >= 1,
            "retry.max_attempts",
            "must be at least 1",
        )?;
        rule(
            r.give_up_after >= Duration::from_secs(1),
            "retry.give_up_after",
            "must be at least 1s",
        )
    }

    fn check_jobs(&self) -> Check {
        let j = &self.jobs;
        rule(
            j.max_recipients >= 1,
            "jobs.max_recipients",
            "must be at least 1",
        )?;
        rule(
            j.max_message_bytes >= 1,
            "jobs.max_message_bytes",
            "must be at least 1",
        )?;
        self.policy().map(drop)
    }

    fn check_transport(&self) -> Check {
        let t = &self.transport;
        if t.kind == TransportKind::Outbox {
            rule(
                self.environment != Environment::Production || t.allow_outbox_in_production,
                "transport.kind",
                "the outbox transport is refused in production; choose another transport, \
                 or set transport.allow_outbox_in_production = true",
            )?;
            rule(
                !t.outbox.dir.as_os_str().is_empty(),
                "transport.outbox.dir",
                "must not be empty",
            )?;
        }
        Ok(())
    }
}
