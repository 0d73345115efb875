#![doc = include_str!("../README.md")]
//!
//! # Layout
//!
//! Modules marked (worker) are built with the `worker` feature (on by default).
//!
//! * `queue`: the handle: connect, status, cancel, promotion, housekeeping.
//! * `enqueue`: enqueueing jobs, a batch in script calls of bounded size.
//! * `staging`: large payloads written outside Lua before the enqueue script takes them.
//! * `gather`: single-job enqueues from concurrent callers, gathered into shared script calls.
//! * `stats`: [`QueueStats`], the queue's counts read in one call.
//! * `dead`: dead-letter operations: list, find, show, retry, purge.
//! * `senders`: Gmail's sending limits in Redis, and paused and quarantined senders.
//! * `admit`: the sender gate's question, for a batch of one sender's jobs in one call.
//! * `windows`: the quota windows' counters by time bucket, and how they are read.
//! * `pause`: an operator's pause and resume of a sender.
//! * `tokens`: stored credentials' records (sealed by the worker) and the enrolled senders.
//! * `oauth_state`: the web sign-in flow's pending states, each taken once.
//! * `usage`: the sends counted in each sender's quota windows now.
//! * `pool_view`: the members of a sender pool as Redis knows them, read at once.
//! * `send_slots`: one sender's sends in flight across workers, capped by leases.
//! * `suppression`: the suppression list: addresses mail must not go to, per scope.
//! * `suppressed_many`: a batch of jobs' recipients looked up in the list in one round trip;
//!   `prescreen` (worker): a fetch round's jobs looked up as they start, the answers on their leases.
//! * `templates`: stored templates, versioned and immutable per version.
//! * `bounces`: the bounce reader's place in each mailbox, its lock, and bounces recorded once.
//! * `minutes`: sent, retried and dead jobs per minute over the last two hours.
//! * `payload`: a job's stored payload, for an operator.
//! * `workers`: the registered workers, their heartbeats and the deliveries each holds.
//! * `status`: a job's state and its status record.
//! * `done`: finished (sent, expired) jobs' records, kept as fields of per-second buckets.
//! * `activity`: what the worker side counts without a handler seeing it.
//! * `config`: [`QueueConfig`], the queue's settings with their defaults.
//! * `conn`: one connection type for a single server, a Sentinel-watched primary and a cluster.
//! * `sentinel_url`: the `redis+sentinel://` URL: Sentinels, primary name, credentials.
//! * `sentinel`: the connection that finds the primary through Sentinel and follows it.
//! * `switch_watch`: listening for Sentinel's `+switch-master` announcements.
//! * `tls`: [`RedisTls`], the certificate files for TLS to Redis and the Sentinels.
//! * `keys`: the key names, all under the queue's hash tag.
//! * `scripts`: the Lua scripts in `src/lua/` and how they are called.
//! * `error`: [`QueueError`] and whether an error is worth retrying.
//! * `replicas`: `WAIT` for `min_replicas_ack` replicas after an enqueue or an outcome.
//! * `backend` (worker): the apalis backend that feeds a worker and hands back what it holds.
//! * `fetch` (worker): one fetch round: promote, reclaim, blocking read, begin.
//! * `read_ahead` (worker): the next batch read while a full one starts.
//! * `read_size` (worker): how many deliveries the next read asks for.
//! * `takeover` (worker): deliveries whose lease ran out, claimed by `reclaim.lua`.
//! * `decode` (worker): a round's payloads decoded into jobs, a large round on two tasks.
//! * `fetch_conn` (worker): the fetcher's connection, replaced after a round that read large
//!   replies so that its read buffer does not keep their size.
//! * `fresh` (worker): first deliveries whose entry says what their record would.
//! * `verdict` (worker): what a delivered entry's job record says: run, skip, expired, malformed.
//! * `start` (worker): delivered entries read from the stream, their records read in one
//!   pipeline (none for fresh entries), and each entry judged on its own, so one bad record
//!   spoils nothing else.
//! * `schedule` (worker): when the fetcher promotes and reclaims, and how long it reads.
//! * `lease` (worker): a delivery's lease.
//! * `tracker` (worker): the deliveries a worker holds, their bytes, and those it deferred.
//! * `keeper` (worker): renewing held leases, the heartbeat, housekeeping.
//! * `settle` (worker): one task per worker recording outcomes in batches.
//! * `backoff` (worker): waiting out Redis failures (fetch pauses, outcome retries).
//! * `retry` (worker): the retry policy.

mod activity;
mod admit;
#[cfg(feature = "worker")]
mod backend;
#[cfg(feature = "worker")]
mod backoff;
mod bounces;
mod config;
mod conn;
mod dead;
#[cfg(feature = "worker")]
mod decode;
mod done;
mod enqueue;
mod error;
#[cfg(feature = "worker")]
mod fetch;
#[cfg(feature = "worker")]
mod fetch_conn;
#[cfg(feature = "worker")]
mod fresh;
mod gather;
#[cfg(feature = "worker")]
mod keeper;
mod keys;
#[cfg(feature = "worker")]
mod lease;
mod minutes;
mod oauth_state;
mod pause;
mod payload;
mod pool_view;
#[cfg(feature = "worker")]
mod prescreen;
mod queue;
#[cfg(feature = "worker")]
mod read_ahead;
#[cfg(feature = "worker")]
mod read_size;
mod replicas;
#[cfg(feature = "worker")]
mod retry;
#[cfg(feature = "worker")]
mod schedule;
mod scripts;
mod send_slots;
mod senders;
mod sentinel;
mod sentinel_url;
#[cfg(feature = "worker")]
mod settle;
mod staging;
#[cfg(feature = "worker")]
mod start;
mod stats;
mod status;
mod suppressed_many;
mod suppression;
mod switch_watch;
#[cfg(feature = "worker")]
mod takeover;
mod templates;
mod tls;
mod tokens;
#[cfg(feature = "worker")]
mod tracker;
mod usage;
#[cfg(feature = "worker")]
mod verdict;
mod windows;
mod workers;

pub use activity::QueueActivity;
#[cfg(feature = "worker")]
pub use backend::RedisBackend;
pub use bounces::{BOUNCE_SEEN_TTL, Bounce, BounceRecorded};
pub use config::QueueConfig;
pub use conn::{Conn, RedisTarget};
pub use dead::{DeadFilter, DeadJob, DeadSelection};
pub use enqueue::{Enqueued, SCRIPT_BYTES, SCRIPT_JOBS};
pub use error::QueueError;
#[cfg(feature = "worker")]
pub use lease::{Lease, LeaseTaken};
pub use minutes::{MinuteCounts, unix_minute};
pub use pause::Resumed;
pub use pool_view::MemberView;
pub use queue::{Cancelled, Queue};
#[cfg(feature = "worker")]
pub use retry::{RetryDecision, RetryPolicy};
pub use senders::{
    Admission, Hold, STATE_KEEP, SenderKeys, SenderLimits, SenderState, normalize_sender,
};
pub use sentinel::SentinelConn;
pub use sentinel_url::SentinelTarget;
pub use stats::QueueStats;
pub use status::{JobState, JobStatus};
pub use suppressed_many::Screening;
pub use suppression::{
    SuppressReason, SuppressScope, Suppression, normalize_address as normalize_suppressed,
};
pub use templates::StoredTemplate;
pub use tls::RedisTls;
#[cfg(feature = "worker")]
pub use tracker::Tracker;
pub use usage::SenderUsage;
pub use workers::WorkerInfo;
