#![doc = include_str!("../README.md")]
//!
//! # Layout
//!
//! Modules marked (worker) are built with the `worker` feature (on by default).
//!
//! * `queue`: the handle: connect, enqueue, status, cancel, stats, promotion, housekeeping.
//! * `dead`: dead-letter operations: list, find, show, retry, purge.
//! * `senders`: Gmail's sending limits in Redis, and paused and quarantined senders.
//! * `status`: a job's state and its status record.
//! * `activity`: what the worker side counts without a handler seeing it.
//! * `config`: [`QueueConfig`], the queue's settings with their defaults.
//! * `conn`: one connection type for a single server and for a cluster.
//! * `keys`: the key names, all under the queue's hash tag.
//! * `scripts`: the Lua scripts in `src/lua/` and how they are called.
//! * `error`: [`QueueError`] and whether an error is worth retrying.
//! * `backend` (worker): the apalis backend that feeds a worker and hands back what it holds.
//! * `fetch` (worker): one fetch round: promote, reclaim, blocking read, begin.
//! * `schedule` (worker): when the fetcher promotes and reclaims, and how long it reads.
//! * `lease` (worker): a delivery's lease and the deliveries a worker holds.
//! * `settle` (worker): one task per worker recording outcomes in batches.
//! * `backoff` (worker): waiting out Redis failures (fetch pauses, outcome retries).
//! * `retry` (worker): the retry policy.

mod activity;
#[cfg(feature = "worker")]
mod backend;
#[cfg(feature = "worker")]
mod backoff;
mod config;
mod conn;
mod dead;
mod error;
#[cfg(feature = "worker")]
mod fetch;
mod keys;
#[cfg(feature = "worker")]
mod lease;
mod queue;
#[cfg(feature = "worker")]
mod retry;
#[cfg(feature = "worker")]
mod schedule;
mod scripts;
mod senders;
#[cfg(feature = "worker")]
mod settle;
mod status;

pub use activity::QueueActivity;
#[cfg(feature = "worker")]
pub use backend::RedisBackend;
pub use config::QueueConfig;
pub use conn::{Conn, RedisTarget};
pub use dead::{DeadFilter, DeadJob, DeadSelection};
pub use error::QueueError;
#[cfg(feature = "worker")]
pub use lease::{Lease, LeaseTaken, Tracker};
pub use queue::{Cancelled, Enqueued, Queue, QueueStats};
#[cfg(feature = "worker")]
pub use retry::{RetryDecision, RetryPolicy};
pub use senders::{Admission, Hold, SenderKeys, SenderLimits, SenderState, normalize_sender};
pub use status::{JobState, JobStatus};
