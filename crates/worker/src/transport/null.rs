//! The null transport: accepts and discards every message.

use std::time::Duration;

use futures::FutureExt;
use futures::future::BoxFuture;

use super::{Delivered, Outgoing, SendError, Transport};
use crate::config::TransportKind;

/// Discards every message; its id is the job id. For benchmarks and dry runs, optionally
/// taking a fixed time per send to stand in for a remote API.
#[derive(Debug, Clone, Copy, Default)]
pub struct NullTransport {
    latency: Duration,
}

impl NullTransport {
    /// A null transport whose sends each take `latency`.
    #[must_use]
    pub fn with_latency(latency: Duration) -> Self {
        Self { latency }
    }
}

impl Transport for NullTransport {
    fn kind(&self) -> TransportKind {
        TransportKind::Null
    }

    fn send<'a>(&'a self, msg: &'a Outgoing) -> BoxFuture<'a, Result<Delivered, SendError>> {
        let delivered = Delivered {
            transport_id: msg.job_id.to_string(),
            thread_id: msg.thread_id.clone(),
        };
        if self.latency.is_zero() {
            return futures::future::ready(Ok(delivered)).boxed();
        }
        let latency = self.latency;
        async move {
            tokio::time::sleep(latency).await;
            Ok(delivered)
        }
        .boxed()
    }
}
