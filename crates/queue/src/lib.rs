#![doc = include_str!("../README.md")]
//!
//! Layout: `queue` (the handle: enqueue, status, cancel, stats), `dead` (dead-letter
//! operations), `backend` + `fetch` + `lease` (the worker side), `retry` (the retry policy),
//! `conn` (single server or cluster), `keys`, `scripts` (the Lua in `src/lua/`), `status`,
//! `activity` (what the worker side counts).

mod activity;
#[cfg(feature = "worker")]
mod backend;
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
pub use senders::{Admission, Hold, SenderLimits, SenderState, normalize_sender};
pub use status::{JobState, JobStatus};
