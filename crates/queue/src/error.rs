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

    /// True when the error is about reaching Redis (worth retrying), not about the request.
    #[must_use]
    pub fn is_connection(&self) -> bool {
        match self {
            Self::Redis(e) => {
                e.is_io_error()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal()
                    || e.is_timeout()
                    || e.is_unrecoverable_error()
            }
            _ => false,
        }
    }
}
