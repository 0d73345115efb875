//! Replica acknowledgement (`min_replicas_ack`): after a write, `WAIT` until enough replicas
//! have it, so a write that returned `Ok` survives the loss of the primary.
//!
//! `WAIT` counts the replicas that have every write made so far on the connection that sends
//! it, so it runs on the connection that made the write. If that connection moved to a new
//! primary in between, `WAIT` would vouch for writes the new primary never saw: that counts as
//! not replicated.

use crate::QueueError;
use crate::queue::{Queue, ms};

/// Where a write started: the connection's failovers before it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark(u64);

impl Mark {
    /// Marks the start of a write on `queue`'s connection.
    pub fn before(queue: &Queue) -> Self {
        Self(queue.inner.conn.failovers())
    }
}

/// Waits for `min_replicas_ack` replicas to acknowledge the writes made since `mark`.
///
/// # Errors
/// [`QueueError::NotReplicated`] when fewer acknowledge within `replica_ack_timeout` or the
/// primary changed since `mark`; Redis errors.
pub(crate) async fn confirm(queue: &Queue, mark: Mark) -> Result<(), QueueError> {
    let config = queue.config();
    let wanted = config.min_replicas_ack;
    if wanted == 0 {
        return Ok(());
    }
    let mut conn = queue.conn();
    let acked: u32 = redis::cmd("WAIT")
        .arg(wanted)
        .arg(ms(config.replica_ack_timeout).max(1))
        .query_async(&mut conn)
        .await?;
    let moved = conn.failovers() != mark.0;
    if acked < wanted || moved {
        let acked = if moved { 0 } else { acked };
        return Err(QueueError::NotReplicated { wanted, acked });
    }
    Ok(())
}

/// Like [`confirm`], for a recorded outcome: a shortfall on the same primary is waited out
/// (the outcome is there, only its copy is late) for up to a lease, with backoff; after a
/// failover the error goes back to the caller, which records the outcome again on the new
/// primary.
#[cfg(feature = "worker")]
pub(crate) async fn confirm_outcome(queue: &Queue, mark: Mark) -> Result<(), QueueError> {
    let mut retry = crate::backoff::ConnectionRetry::within(queue.config().lease);
    loop {
        match confirm(queue, mark).await {
            Err(QueueError::NotReplicated { .. })
                if retry.has_time() && Mark::before(queue).0 == mark.0 =>
            {
                retry.wait().await;
            }
            other => return other,
        }
    }
}
