//! Validation: every rule names its key, so an operator knows what to fix.

use mailroom_queue::{QueueError, RedisTarget};
use tracing_subscriber::EnvFilter;

use super::{Config, ConfigError, CredentialKind, Environment, TransportKind};

type Check = Result<(), ConfigError>;

/// The longest duration any key accepts: ten years.
pub const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(10 * 365 * 86_400);

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
    "redis+sentinel://",
    "rediss+sentinel://",
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
        self.check_durations()?;
        self.check_redis()?;
        self.check_queue()?;
        self.check_worker()?;
        self.check_retry()?;
        self.check_jobs()?;
        self.check_transport()?;
        self.check_http()?;
        self.check_api()?;
        self.check_unsubscribe()?;
        self.check_gmail()?;
        self.check_pools()?;
        EnvFilter::try_new(&self.log.level)
            .map(drop)
            .map_err(|e| ConfigError::invalid("log.level", format!("not a tracing filter: {e}")))
    }

    /// No duration may exceed [`MAX_DURATION`]: a century would overflow the clocks it is
    /// added to.
    fn check_durations(&self) -> Check {
        let (q, r) = (&self.queue, &self.retry);
        let c = &self.credentials;
        for (key, value) in [
            ("redis.replica_ack_timeout", self.redis.replica_ack_timeout),
            ("queue.lease", q.lease),
            ("queue.dedup_ttl", q.dedup_ttl),
            ("queue.retention", q.retention),
            ("queue.dead_retention", q.dead_retention),
            ("queue.block", q.block),
            ("queue.schedule_tick", q.schedule_tick),
            ("retry.base", r.base),
            ("retry.cap", r.cap),
            ("retry.give_up_after", r.give_up_after),
            ("retry.max_retry_after", r.max_retry_after),
            ("worker.shutdown_grace", self.worker.shutdown_grace),
            ("transport.null.latency", self.transport.null.latency),
            ("google.timeout", self.google.timeout),
            ("credentials.quarantine_recheck", c.quarantine_recheck),
            ("credentials.quarantine_give_up", c.quarantine_give_up),
            ("credentials.sender_idle", c.sender_idle),
            ("http.refresh", self.http.refresh),
            ("http.header_timeout", self.http.header_timeout),
            ("http.request_timeout", self.http.request_timeout),
        ] {
            if value > MAX_DURATION {
                return Err(ConfigError::invalid(
                    key,
                    format!(
                        "{} is longer than the longest duration accepted, {}",
                        humantime_serde::re::humantime::format_duration(value),
                        humantime_serde::re::humantime::format_duration(MAX_DURATION)
                    ),
                ));
            }
        }
        Ok(())
    }

    fn check_redis(&self) -> Check {
        let url = self.redis.url.expose().trim();
        rule(
            SCHEMES.iter().any(|s| url.starts_with(s)),
            "redis.url",
            "must start with redis://, rediss://, redis+unix://, redis+cluster:// or redis+sentinel://",
        )?;
        let target = RedisTarget::parse(url)
            .map_err(|e| ConfigError::invalid("redis.url", e.to_string()))?;
        self.check_redis_tls(&target)?;
        rule(
            self.redis.min_replicas_ack <= 100,
            "redis.min_replicas_ack",
            "must be at most 100",
        )?;
        rule(
            self.redis.replica_ack_timeout >= std::time::Duration::from_millis(1),
            "redis.replica_ack_timeout",
            "must be at least 1ms",
        )
    }

    /// The TLS files need a URL that asks for TLS, and the client certificate and key go
    /// together. That the files are readable PEM is checked when the queue connects.
    fn check_redis_tls(&self, target: &RedisTarget) -> Check {
        let r = &self.redis;
        for (key, set) in [
            ("redis.tls_ca_file", r.tls_ca_file.is_some()),
            ("redis.tls_cert_file", r.tls_cert_file.is_some()),
            ("redis.tls_key_file", r.tls_key_file.is_some()),
        ] {
            rule(
                !set || target.uses_tls(),
                key,
                "is set but redis.url does not use TLS: write rediss://, rediss+cluster:// or rediss+sentinel://",
            )?;
        }
        rule(
            r.tls_cert_file.is_some() || r.tls_key_file.is_none(),
            "redis.tls_cert_file",
            "must be set with redis.tls_key_file",
        )?;
        rule(
            r.tls_key_file.is_some() || r.tls_cert_file.is_none(),
            "redis.tls_key_file",
            "must be set with redis.tls_cert_file",
        )
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
        )?;
        rule(
            w.max_held_bytes >= 1 << 20,
            "worker.max_held_bytes",
            "must be at least 1048576 (1 MiB)",
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
        let h = &self.http;
        let ms = std::time::Duration::from_millis(100);
        rule(h.refresh >= ms, "http.refresh", "must be at least 100ms")?;
        rule(
            h.header_timeout >= ms,
            "http.header_timeout",
            "must be at least 100ms",
        )?;
        rule(
            h.request_timeout >= ms,
            "http.request_timeout",
            "must be at least 100ms",
        )?;
        rule(
            h.max_connections >= 1,
            "http.max_connections",
            "must be at least 1",
        )?;
        rule(
            h.max_body_bytes >= 1,
            "http.max_body_bytes",
            "must be at least 1",
        )?;
        let onboarding = self.credentials.onboarding_listen;
        rule(
            onboarding.is_none()
                || onboarding != h.listen
                || onboarding.is_some_and(|a| a.port() == 0),
            "credentials.onboarding_listen",
            "must differ from http.listen: the onboarding flow has a listener of its own",
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
            ("google.tokeninfo_url", &g.tokeninfo_url),
            ("google.revoke_url", &g.revoke_url),
        ] {
            rule(
                url.starts_with("https://") || url.starts_with("http://"),
                key,
                "must be an http(s) URL",
            )?;
            rule(
                self.environment != Environment::Production || url.starts_with("https://"),
                key,
                "must be an https:// URL in production (tokens and keys travel over it)",
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
            ("quota.sender_concurrency", q.sender_concurrency),
            ("gmail.check_recent", self.gmail.check_recent),
        ] {
            rule(value >= 1, key, "must be at least 1")?;
        }
        rule(
            self.gmail.check_recent <= 500,
            "gmail.check_recent",
            "must be at most 500 (one messages.list page)",
        )?;
        rule(
            self.gmail.bounce_poll >= std::time::Duration::from_secs(1),
            "gmail.bounce_poll",
            "must be at least 1s",
        )?;
        let c = &self.credentials;
        rule(
            !c.quarantine_recheck.is_zero(),
            "credentials.quarantine_recheck",
            "must be more than 0",
        )?;
        rule(
            !c.quarantine_give_up.is_zero(),
            "credentials.quarantine_give_up",
            "must be more than 0",
        )?;
        rule(
            !c.sender_idle.is_zero(),
            "credentials.sender_idle",
            "must be more than 0",
        )?;
        rule(
            c.max_cached_senders >= 1,
            "credentials.max_cached_senders",
            "must be at least 1",
        )?;
        if let Some(domain) = &c.hosted_domain {
            rule(
                lettre_domain(domain),
                "credentials.hosted_domain",
                "must be a domain such as example.com",
            )?;
        }
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
        }?;
        rule(
            c.kind != CredentialKind::AuthorizedUser
                || c.admin_token_file.is_none()
                || c.onboarding_listen.is_some(),
            "credentials.onboarding_listen",
            "the web enrollment flow (credentials.admin_token_file is set) is served on a listener \
             of its own, apart from /metrics and /readyz: set an address such as \"0.0.0.0:9188\"",
        )?;
        rule(
            !self.jobs.allowed_senders.is_empty(),
            "jobs.allowed_senders",
            "is empty, which allows no sender, and the gmail transport sends as each job's \
             sender: list the senders (\"noreply@example.com\", \"*@example.com\"), or \"*\" \
             to allow any user Google lets the credentials act as",
        )
    }
}

/// Whether `domain` is a mail domain (`x@domain` is an address).
fn lettre_domain(domain: &str) -> bool {
    !domain.trim().is_empty() && mailroom_jobs::Address::new(None, &format!("x@{domain}")).is_ok()
}
