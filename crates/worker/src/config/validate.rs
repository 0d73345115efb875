//! Validation: every rule names its key, so an operator knows what to fix.

use mailroom_queue::{QueueError, RedisTarget};
use tracing_subscriber::EnvFilter;

use super::{Config, ConfigError, CredentialKind, Environment, TransportKind};

type Check = Result<(), ConfigError>;

fn rule(ok: bool, key: &str, message: &str) -> Check {
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(key, message))
    }
}

/// A rule of the queue crate, its field named under `section`.
fn prefixed(section: &str, e: QueueError) -> ConfigError {
    match e {
        QueueError::Config { field, message } => {
            ConfigError::invalid(format!("{section}.{field}"), message)
        }
        other => ConfigError::invalid(section, other.to_string()),
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
        self.check_http()?;
        self.check_gmail()?;
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
        self.queue.validate().map_err(|e| prefixed("queue", e))
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
        self.retry.validate().map_err(|e| prefixed("retry", e))
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

    fn check_http(&self) -> Check {
        rule(
            self.http.refresh >= std::time::Duration::from_millis(100),
            "http.refresh",
            "must be at least 100ms",
        )
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

    fn check_gmail(&self) -> Check {
        let g = &self.google;
        for (key, url) in [
            ("google.api_base", &g.api_base),
            ("google.token_url", &g.token_url),
            ("google.auth_url", &g.auth_url),
            ("google.userinfo_url", &g.userinfo_url),
            ("google.revoke_url", &g.revoke_url),
        ] {
            rule(
                url.starts_with("https://") || url.starts_with("http://"),
                key,
                "must be an http(s) URL",
            )?;
        }
        rule(
            g.api_base.ends_with('/'),
            "google.api_base",
            "must end with '/'",
        )?;
        rule(
            !g.timeout.is_zero(),
            "google.timeout",
            "must be more than 0",
        )?;
        let q = &self.quota;
        for (key, value) in [
            ("quota.sender_per_minute", q.sender_per_minute),
            ("quota.sender_per_day", q.sender_per_day),
            ("quota.project_per_minute", q.project_per_minute),
        ] {
            rule(value >= 1, key, "must be at least 1")?;
        }
        let c = &self.credentials;
        rule(
            !c.quarantine_recheck.is_zero(),
            "credentials.quarantine_recheck",
            "must be more than 0",
        )?;
        if self.transport.kind != TransportKind::Gmail {
            return Ok(());
        }
        match c.kind {
            CredentialKind::ServiceAccount => rule(
                c.service_account_key.is_some(),
                "credentials.service_account_key",
                "the gmail transport with a service account needs the path of its JSON key file",
            ),
            CredentialKind::AuthorizedUser => rule(
                c.client_secrets.is_some(),
                "credentials.client_secrets",
                "the gmail transport with stored refresh tokens needs the OAuth client's client_secret.json",
            ),
        }
    }
}
