//! The queue's error type.

/// What can go wrong talking to the queue.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// Redis could not be reached, or answered with an error.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A configuration value is unusable.
    #[error("queue config: {0}")]
    Config(String),
    /// Redis answered with something this version of mailroom does not understand.
    #[error("unexpected reply from redis: {0}")]
    Protocol(String),
}

impl QueueError {
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
