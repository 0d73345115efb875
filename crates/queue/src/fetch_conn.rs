//! The fetcher's connection, replaced after a round that read large replies.
//!
//! A connection's read buffer grows to hold the largest reply it has read and keeps that size:
//! after a 25 MB job the fetcher's connection would hold about 33 MB for as long as the worker
//! runs. [`FetchConn`] counts the bytes of the replies read through it (their strings, which are
//! mostly the jobs' payloads) and, at the end of a round that read at least [`RENEW_AFTER`],
//! opens a new connection in its place; the old one, and its buffer, are dropped. This holds
//! for a single server, a Sentinel-watched primary and a cluster alike.

use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::{Cmd, Pipeline, RedisFuture, Value};

use crate::QueueError;
use crate::conn::Conn;
use crate::queue::Queue;

/// Bytes read in one round from which the connection is replaced: 1 MiB.
pub(crate) const RENEW_AFTER: usize = 1 << 20;

/// The fetcher's connection: a [`Conn`] that counts what it reads.
pub(crate) struct FetchConn {
    queue: Queue,
    conn: Conn,
    /// Bytes of strings in the replies read since the connection was opened or last checked.
    read: usize,
    /// Connections opened in place of one that had read large replies.
    renewals: u64,
}

impl FetchConn {
    /// Opens the fetcher's connection to `queue`'s Redis; a reply may take as long as a
    /// blocking read plus 5 s.
    pub async fn open(queue: &Queue) -> Result<Self, QueueError> {
        Ok(Self {
            queue: queue.clone(),
            conn: Self::connect(queue).await?,
            read: 0,
            renewals: 0,
        })
    }

    async fn connect(queue: &Queue) -> Result<Conn, QueueError> {
        let timeout = queue.config().block + Duration::from_secs(5);
        Conn::open(&queue.inner.target, queue.inner.tls.as_ref(), timeout).await
    }

    /// Ends a round: when the replies read since the last call hold [`RENEW_AFTER`] bytes or
    /// more, opens a new connection and drops the old one. If the new one cannot be opened the
    /// old one is kept (it reconnects on its own), and the next large round tries again.
    pub async fn end_round(&mut self) {
        if std::mem::take(&mut self.read) < RENEW_AFTER {
            return;
        }
        match Self::connect(&self.queue).await {
            Ok(conn) => {
                self.conn = conn;
                self.renewals += 1;
                tracing::debug!(
                    renewals = self.renewals,
                    "fetch connection replaced after large replies"
                );
            }
            Err(e) => tracing::warn!(
                error = %e,
                "cannot open a new fetch connection after large replies; keeping the old one"
            ),
        }
    }
}

/// The bytes of the strings in `value`, at any depth.
fn string_bytes(value: &Value) -> usize {
    let all = |values: &[Value]| values.iter().map(string_bytes).sum::<usize>();
    match value {
        Value::BulkString(b) => b.len(),
        Value::SimpleString(s) => s.len(),
        Value::VerbatimString { text, .. } => text.len(),
        Value::Array(values) | Value::Set(values) => all(values),
        Value::Push { data, .. } => all(data),
        Value::Map(pairs) => pairs
            .iter()
            .map(|(k, v)| string_bytes(k) + string_bytes(v))
            .sum(),
        Value::Attribute { data, .. } => string_bytes(data),
        _ => 0,
    }
}

impl ConnectionLike for FetchConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let value = self.conn.req_packed_command(cmd).await?;
            self.read += string_bytes(&value);
            Ok(value)
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let values = self
                .conn
                .req_packed_commands(pipeline, offset, count)
                .await?;
            self.read += values.iter().map(string_bytes).sum::<usize>();
            Ok(values)
        })
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_counted_at_any_depth() {
        let reply = Value::Array(vec![
            Value::BulkString(vec![0; 10]),
            Value::Nil,
            Value::Int(7),
            Value::Map(vec![(
                Value::SimpleString("ab".into()),
                Value::Array(vec![Value::BulkString(vec![1; 5])]),
            )]),
        ]);
        assert_eq!(string_bytes(&reply), 17);
    }
}
