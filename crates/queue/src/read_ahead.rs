//! Reading ahead: while a fetch round starts a full batch (a backlog waits), the next batch and
//! its jobs' records are already being read, so those two round trips to Redis, and the
//! parsing of their replies, overlap the decoding and the starting of the batch before it.
//!
//! The read ahead goes out on a connection of its own, opened at the first one, so that the
//! fetcher's own commands never wait behind its replies. It never blocks (no `BLOCK`). Its
//! deliveries are pending under the worker from the moment Redis answers; they count as
//! deferred in the [`Tracker`] until the next round takes them, so the keeper renews them like
//! any delivery the worker holds, and a worker that stops hands them back.

use redis::{Cmd, Value};
use tokio::task::JoinHandle;

use crate::QueueError;
use crate::backend::release;
use crate::fetch_conn::FetchConn;
use crate::queue::Queue;
use crate::start::{Read, Record, records, stream_reads};
use crate::tracker::Tracker;

/// Deliveries read, each with its job's record.
pub(crate) type Reads = (Vec<Read>, Vec<Record>);

/// What a read ahead gives back: its connection (none when it could not be opened) and the
/// deliveries.
type Done = (Option<FetchConn>, Result<Reads, QueueError>);

/// The read ahead of a fetcher.
#[derive(Default)]
pub(crate) struct ReadAhead(State);

/// The read-ahead connection, idle, or lent to the read in flight.
#[derive(Default)]
enum State {
    /// No read ahead yet (or its connection could not be opened).
    #[default]
    Idle,
    /// No read in flight; the connection of the last one.
    Ready(FetchConn),
    /// A read in flight, or done and not yet taken.
    Running(JoinHandle<Done>),
}

impl ReadAhead {
    /// Starts `read` (an `XREADGROUP` without `BLOCK`). Nothing starts while an earlier read
    /// ahead has not been taken.
    pub fn start(&mut self, queue: &Queue, read: Cmd, tracker: Tracker) {
        let conn = match std::mem::take(&mut self.0) {
            State::Idle => None,
            State::Ready(conn) => Some(conn),
            running @ State::Running(_) => {
                self.0 = running;
                return;
            }
        };
        let queue = queue.clone();
        self.0 = State::Running(tokio::spawn(async move {
            let mut conn = match conn {
                Some(conn) => conn,
                None => match FetchConn::open(&queue).await {
                    Ok(conn) => conn,
                    Err(e) => return (None, Err(e)),
                },
            };
            let reads = read_with_records(&mut conn, &queue, &read, &tracker).await;
            conn.end_round().await;
            (Some(conn), reads)
        }));
    }

    /// The deliveries the read ahead brought, once it is done, without those another worker
    /// took over meanwhile (the keeper found them gone); `None` when none was started.
    pub async fn take(&mut self, tracker: &Tracker) -> Option<Result<Reads, QueueError>> {
        let running = match std::mem::take(&mut self.0) {
            State::Running(running) => running,
            idle => {
                self.0 = idle;
                return None;
            }
        };
        let (conn, reads) = match running.await {
            Ok(done) => done,
            // The read does not panic; should it, the worker ends with the panic.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => (None, Ok((Vec::new(), Vec::new()))),
        };
        if let Some(conn) = conn {
            self.0 = State::Ready(conn);
        }
        Some(reads.map(|(reads, records)| {
            reads
                .into_iter()
                .zip(records)
                .filter(|(r, _)| tracker.undefer(&r.entry))
                .unzip()
        }))
    }

    /// Hands back the deliveries read ahead and not started (the worker is stopping). One that
    /// cannot be handed back returns after its lease.
    pub async fn release(&mut self, tracker: &Tracker) {
        let Some(Ok((reads, _))) = self.take(tracker).await else {
            return;
        };
        let held: Vec<(&str, &str)> = reads
            .iter()
            .map(|r| (r.entry.as_str(), r.id.as_str()))
            .collect();
        if let Err(e) = release(tracker, &held).await {
            tracing::warn!(error = %e, "could not hand back jobs read ahead; they return after their lease");
        }
    }
}

/// Reads a batch, then its records; the deliveries count as deferred as soon as they are read.
async fn read_with_records(
    conn: &mut FetchConn,
    queue: &Queue,
    read: &Cmd,
    tracker: &Tracker,
) -> Result<Reads, QueueError> {
    let reply: Value = read.query_async(conn).await?;
    let reads = stream_reads(reply);
    for r in &reads {
        tracker.defer(&r.entry);
    }
    if reads.is_empty() {
        return Ok((reads, Vec::new()));
    }
    match records(conn, queue.keys(), &reads).await {
        Ok(records) => Ok((reads, records)),
        Err(e) => {
            // Not renewed any more: they return after their lease, like any read cut short.
            for r in &reads {
                tracker.undefer(&r.entry);
            }
            Err(e)
        }
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        if let State::Running(read) = &self.0 {
            read.abort();
        }
    }
}
