//! The queue's error type.

/// What can go wrong talking to the queue.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// Redis could not be reached, or answered with an error.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A setting is unusable; `field` names it (`lease`, `url`, …).
    #[error("{field}: {message}")]
    Config {
        /// The setting.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// Fewer replicas than `min_replicas_ack` acknowledged a write in time (or the primary
    /// changed while it was written): the write may be lost if the primary fails now. Worth
    /// retrying, like a lost connection.
    #[error(
        "not replicated: {acked} of the {wanted} replicas asked for acknowledged the write in time; \
         it may be lost if the primary fails (redis.min_replicas_ack)"
    )]
    NotReplicated {
        /// Replicas asked for (`min_replicas_ack`).
        wanted: u32,
        /// Replicas that acknowledged.
        acked: u32,
    },
    /// Redis answered with something this version of mailroom does not understand.
    #[error("unexpected reply from redis: {0}")]
    Protocol(String),
}

impl QueueError {
    pub(crate) fn config(field: &'static str, message: impl Into<String>) -> Self {
        Self::Config {
            field,
            message: message.into(),
        }
    }

    /// `Ok` when `ok`, else a config error naming `field`.
    pub(crate) fn ensure(ok: bool, field: &'static str, message: &str) -> Result<(), Self> {
        if ok {
            Ok(())
        } else {
            Err(Self::config(field, message))
        }
    }

    /// True when the error is about reaching Redis (worth retrying), not about the request:
    /// Redis unreachable, up but not serving yet (`LOADING` while it reads its data back after
    /// a restart, `TRYAGAIN`, `CLUSTERDOWN`, `MASTERDOWN`), a primary demoted to replica by a
    /// failover (`READONLY`: the write did not run; a Sentinel connection looks the new primary
    /// up), a primary Sentinel cannot name yet, or a cluster redirection the client gave up
    /// following (`MOVED`, `ASK`: the command did not run); or a write that too few replicas
    /// acknowledged ([`QueueError::NotReplicated`]).
    #[must_use]
    pub fn is_connection(&self) -> bool {
        match self {
            Self::NotReplicated { .. } => true,
            Self::Redis(e) => {
                e.is_io_error()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal()
                    || e.is_timeout()
                    || e.is_unrecoverable_error()
                    || e.is_cluster_error()
                    || e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::ReadOnly)
                    || matches!(e.retry_method(), redis::RetryMethod::WaitAndRetry)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use redis::{ErrorKind, RedisError, ServerErrorKind};

    use super::QueueError;

    fn server(kind: ServerErrorKind) -> QueueError {
        QueueError::Redis(RedisError::from((ErrorKind::Server(kind), "server error")))
    }

    #[test]
    fn a_redis_that_is_not_serving_yet_is_worth_retrying() {
        for kind in [
            ServerErrorKind::BusyLoading,
            ServerErrorKind::TryAgain,
            ServerErrorKind::ClusterDown,
            ServerErrorKind::MasterDown,
            ServerErrorKind::ReadOnly,
            ServerErrorKind::Moved,
            ServerErrorKind::Ask,
        ] {
            assert!(server(kind).is_connection(), "{kind:?}");
        }
    }

    #[test]
    fn a_refused_request_is_not() {
        for kind in [ServerErrorKind::ResponseError, ServerErrorKind::NoScript] {
            assert!(!server(kind).is_connection(), "{kind:?}");
        }
        assert!(!QueueError::Protocol("bad reply".into()).is_connection());
    }
}
