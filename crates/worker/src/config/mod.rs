//! The worker's configuration: built-in defaults, then a TOML file, then
//! `MAILROOM__SECTION__KEY` environment variables, then validation that fails fast and names
//! the offending key (see [`load`]).
//!
//! Every section is a value with documented defaults; `config/default.toml` at the root of the
//! workspace lists every key with its default.
//!
//! - `api`: `[api]`, the listener and limits of `mailroom api`;
//! - `unsubscribe`: `[unsubscribe]`, one-click unsubscribe links;
//! - `sections`: `[redis]`, `[worker]`, `[jobs]`, `[transport]`, `[http]`, `[log]`;
//! - `google`: `[google]`, `[credentials]`, `[quota]`;
//! - `gmail`: `[gmail]`, the gmail transport's sending behaviour;
//! - `pools`: `[[pools]]`, sender pools (one From address over several mailboxes);
//! - `redis_url`: [`RedisUrl`], which never shows its password;
//! - `load`: the layers, file and environment;
//! - `validate`: the rules, each naming its key.

mod api;
mod gmail;
mod google;
mod load;
mod pools;
mod redis_url;
mod sections;
mod unsubscribe;
mod validate;

use std::time::Duration;

use mailroom_jobs::{Policy, SenderAllowlist};
use mailroom_queue::{QueueConfig, RedisTls, RetryPolicy};
use serde::{Deserialize, Serialize};

pub use api::ApiSection;
pub use gmail::GmailSection;
/// The reading scopes of `[gmail]`'s options.
pub mod gmail_scopes {
    pub use super::gmail::{GMAIL_METADATA_SCOPE, GMAIL_READONLY_SCOPE};
}
pub use google::{CredentialKind, CredentialsSection, GoogleSection, QuotaSection};
pub use load::{ENV_PREFIX, ENV_SEPARATOR, load, load_with_env};
pub use pools::PoolSection;
pub use redis_url::RedisUrl;
pub use sections::{
    Environment, HttpSection, JobsSection, LogFormat, LogSection, NullSection, OutboxSection,
    RedisSection, TransportKind, TransportSection, WorkerSection,
};
pub use unsubscribe::UnsubscribeSection;
pub use validate::MAX_DURATION;

/// Everything `mailroom` reads at start.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `development` or `production`; production refuses the outbox transport unless told
    /// otherwise. Default `development`.
    pub environment: Environment,
    /// Where the queue lives.
    pub redis: RedisSection,
    /// How the queue behaves.
    pub queue: QueueConfig,
    /// This worker process.
    pub worker: WorkerSection,
    /// When failed sends are tried again.
    pub retry: RetryPolicy,
    /// The rules a job must pass before it is queued or sent.
    pub jobs: JobsSection,
    /// Where messages go.
    pub transport: TransportSection,
    /// Google's endpoints.
    pub google: GoogleSection,
    /// Who the worker sends as (the `gmail` transport).
    pub credentials: CredentialsSection,
    /// Gmail's sending limits.
    pub quota: QuotaSection,
    /// How the gmail transport sends (the check before a resend).
    pub gmail: GmailSection,
    /// The HTTP listener (metrics, health).
    pub http: HttpSection,
    /// The HTTP API's listener, keys and limits (`mailroom api`).
    pub api: ApiSection,
    /// One-click unsubscribe links for list mail.
    pub unsubscribe: UnsubscribeSection,
    /// Sender pools: `[[pools]] address = "...", members = [...]`. Default none.
    pub pools: Vec<PoolSection>,
    /// Log output.
    pub log: LogSection,
}

/// A configuration that cannot be used, naming the key at fault where there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A value breaks a rule: `key: message`.
    #[error("{key}: {message}")]
    Invalid {
        /// The dotted key, e.g. `worker.concurrency`.
        key: String,
        /// What is wrong with its value.
        message: String,
    },
    /// The file could not be read or parsed, or a value has the wrong type (the message names
    /// the key when the parser knows it).
    #[error("{0}")]
    Load(String),
}

impl ConfigError {
    pub(crate) fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The key at fault, when known.
    #[must_use]
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Invalid { key, .. } => Some(key),
            Self::Load(_) => None,
        }
    }
}

impl Config {
    /// The queue settings for `mailroom-queue`.
    #[must_use]
    pub fn queue_config(&self) -> QueueConfig {
        QueueConfig {
            min_replicas_ack: self.redis.min_replicas_ack,
            replica_ack_timeout: self.redis.replica_ack_timeout,
            tls: RedisTls {
                ca_file: self.redis.tls_ca_file.clone(),
                cert_file: self.redis.tls_cert_file.clone(),
                key_file: self.redis.tls_key_file.clone(),
            },
            ..self.queue.clone()
        }
    }

    /// The retry policy for failed sends.
    #[must_use]
    pub fn retry_policy(&self) -> RetryPolicy {
        self.retry.clone()
    }

    /// The validation policy for jobs. `jobs.allowed_senders` lists who a job may send as
    /// (`"*"`: anyone). An empty list allows nobody, except that the `outbox` and `null`
    /// transports send as nobody at all, so with them an empty list means no allowlist
    /// (`allowed_senders: None`); with `gmail` [`Config::validate`] refuses an empty list.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming `jobs.allowed_senders[i]` for a bad pattern
    /// ([`Config::validate`] reports the same).
    pub fn policy(&self) -> Result<Policy, ConfigError> {
        let j = &self.jobs;
        let allowed_senders = if j.allowed_senders.is_empty() && !self.impersonates() {
            None
        } else {
            for (i, pattern) in j.allowed_senders.iter().enumerate() {
                SenderAllowlist::new([pattern]).map_err(|e| {
                    ConfigError::invalid(format!("jobs.allowed_senders[{i}]"), e.to_string())
                })?;
            }
            Some(
                SenderAllowlist::new(&j.allowed_senders)
                    .map_err(|e| ConfigError::invalid("jobs.allowed_senders", e.to_string()))?,
            )
        };
        Ok(Policy {
            max_recipients: j.max_recipients,
            max_message_bytes: j.max_message_bytes,
            allowed_senders,
        })
    }

    /// Whether the transport sends as each job's sender (`gmail`), so that the allowlist is
    /// all that stands between a job and any user of the domain.
    #[must_use]
    pub fn impersonates(&self) -> bool {
        self.transport.kind == TransportKind::Gmail
    }

    /// Gmail's limits as the sender gate enforces them.
    #[must_use]
    pub fn sender_limits(&self) -> mailroom_queue::SenderLimits {
        mailroom_queue::SenderLimits {
            per_minute: self.quota.sender_per_minute,
            per_day: self.quota.sender_per_day,
            project_per_minute: self.quota.project_per_minute,
            quarantine_recheck: self.credentials.quarantine_recheck,
        }
    }

    /// How long a stopping worker waits for in-flight sends.
    #[must_use]
    pub fn shutdown_grace(&self) -> Duration {
        self.worker.shutdown_grace
    }
}

#[cfg(test)]
mod tests;
