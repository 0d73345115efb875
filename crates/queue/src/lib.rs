#![doc = include_str!("../README.md")]
//!
//! Layout: `queue` (the handle: enqueue, status, cancel, stats), `dead` (dead-letter
//! operations), `backend` + `fetch` + `lease` (the worker side), `retry` (the retry policy),
//! `conn` (single server or cluster), `keys`, `scripts` (the Lua in `src/lua/`), `status`.

mod backend;
mod config;
mod conn;
mod dead;
mod error;
mod fetch;
mod keys;
mod lease;
mod queue;
mod retry;
mod scripts;
mod status;

pub use backend::RedisBackend;
pub use config::QueueConfig;
pub use conn::{Conn, RedisTarget};
pub use dead::{DeadJob, DeadSelection};
pub use error::QueueError;
pub use lease::{Lease, LeaseTaken, Tracker};
pub use queue::{Cancelled, Enqueued, Queue, QueueStats};
pub use retry::{RetryDecision, RetryPolicy};
pub use status::{JobState, JobStatus};
