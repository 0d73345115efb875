//! Test fixtures for mailroom: real `redis-server` processes started on
//! their own free ports, each in its own temporary directory, and a fake
//! Google (OAuth 2.0 and Gmail `users.messages.send`) on a local HTTP port.
//!
//! * [`RedisServer`] runs one standalone server. It can be killed and
//!   restarted on the same port and directory, so tests can check what
//!   survives a crash (with [`RedisOptions::appendonly`] the data comes back).
//! * [`RedisCluster`] runs three cluster masters (no replicas) with all
//!   16384 hash slots assigned.
//! * [`RedisSentinel`] runs a primary, one replica and three Sentinels;
//!   a test can kill the primary, wait for the promotion and bring the old
//!   primary back as a replica, or ask for a planned failover.
//! * [`TestCerts`] makes a throwaway CA and a certificate for `localhost`, so
//!   a server (with [`RedisOptions::tls`]) or a Sentinel setup
//!   ([`RedisSentinel::start_tls`]) serves TLS only.
//! * [`FakeGoogle`] (module [`google`]) serves Google's token, consent,
//!   userinfo, tokeninfo and revoke endpoints and Gmail's send endpoint to
//!   the real client libraries, records what was sent, enforces Gmail's
//!   quota and injects faults on request.
//!
//! Every fixture starts its own processes and never touches another Redis
//! (such as a shared one on port 6379). Processes are killed when the
//! fixture is dropped; where `setpriv` is available they are also started
//! with a parent-death signal, so they die with the test process even when
//! the fixture is never dropped (a `static`, or a process killed by a signal).
//!
//! The API is synchronous (it polls every 20 ms while waiting) and may be
//! called from `#[tokio::test]` functions as well.
//!
//! # Example
//!
//! ```no_run
//! use mailroom_testkit::{RedisOptions, RedisServer};
//! use redis::Commands;
//!
//! let mut server = RedisServer::start_with(RedisOptions {
//!     appendonly: true,
//!     ..RedisOptions::default()
//! });
//! let mut con = server.client().get_connection().unwrap();
//! let _: () = con.set("greeting", "hello").unwrap();
//!
//! server.kill();
//! assert!(server.client().get_connection().is_err());
//!
//! server.restart();
//! let mut con = server.client().get_connection().unwrap();
//! let value: String = con.get("greeting").unwrap();
//! assert_eq!(value, "hello");
//! ```
//!
//! `redis-server` (and `redis-cli` for clusters) must be on `PATH`; use
//! [`redis_server_available`] to check.
//!
//! # Source layout
//!
//! * `lib.rs`: this overview and the public re-exports.
//! * `options.rs`: [`RedisOptions`]: persistence, a unix socket, TLS.
//! * `tls.rs`: [`TestCerts`]: a throwaway CA and a certificate it signs; [`ServerTls`].
//! * `server.rs`: [`RedisServer`]: start, wait, kill, restart.
//! * `cluster.rs`: [`RedisCluster`]: three masters joined and checked with `CLUSTER INFO`.
//! * `sentinel.rs`: [`RedisSentinel`]: primary, replica and Sentinels, failover and resync.
//! * `process.rs`: binaries on `PATH`, the `redis-server` command line, spawning, logs, polling.
//! * `ports.rs`: free ports, reserved, and probes that send one command to a server.
//! * `dump.rs`: [`redis_dump`]: every key of a test's Redis and its value, as text.
//! * `commandstats.rs`: [`command_calls`]: how many times a server ran a command.
//! * `secret_file.rs`: [`write_secret`]: a file of mode 600, as mailroom wants key files.
//! * `google/`: the fake Google (its own layout is in the [`google`] module's docs).
//! * `bin/mailroom-fake-google.rs`: the fake Google as a standalone server for demos.

mod cluster;
mod commandstats;
mod dump;
pub mod google;
mod options;
mod ports;
mod process;
mod secret_file;
mod sentinel;
mod server;
mod tls;

pub use cluster::RedisCluster;
pub use commandstats::command_calls;
pub use dump::redis_dump;
pub use google::{
    ClientKind, FakeGoogle, FakeGoogleOptions, Fault, FaultRule, OAuthClient, Quota, SentMessage,
    ServiceAccount,
};
pub use options::RedisOptions;
pub use ports::free_port;
pub use process::redis_server_available;
pub use secret_file::write_secret;
pub use sentinel::{RedisSentinel, SENTINEL_MASTER};
pub use server::RedisServer;
pub use tls::{ServerTls, TestCerts};
