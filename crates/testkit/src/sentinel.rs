//! [`RedisSentinel`]: a primary, one replica (or more) and three Sentinels watching them.

use std::collections::HashMap;
use std::thread;
use std::time::{Duration, Instant};

use crate::options::RedisOptions;
use crate::process::{LOG_TAIL_LINES, Mode, POLL_INTERVAL, read_from, require_binary, tail};
use crate::server::RedisServer;
use crate::tls::TestCerts;

/// The name the Sentinels know the primary by.
pub const SENTINEL_MASTER: &str = "mailroom";
/// How long the Sentinels may take to agree, to fail over, or to resync a replica.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a probe connection may take.
const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// Sentinels needed to agree that the primary is down.
const QUORUM: usize = 2;

/// Two data nodes (a primary and its replica, or more replicas with
/// [`RedisSentinel::start_with_replicas`]; each a `redis-server` with AOF on and
/// `appendfsync always`, and a `redis.conf` that Sentinel rewrites when it reconfigures the node)
/// and three Sentinels (`redis-server sentinel.conf --sentinel`), each on its own free port.
/// The Sentinels declare the primary down after 1 s without an answer (`down-after-milliseconds
/// 1000`, quorum 2) and promote the replica.
///
/// Data nodes are addressed by index (0, 1, …); node 0 is the first primary. Dropping the
/// fixture kills every process and removes their directories.
#[derive(Debug)]
pub struct RedisSentinel {
    nodes: Vec<RedisServer>,
    sentinels: Vec<RedisServer>,
    /// The certificates of a TLS setup ([`RedisSentinel::start_tls`]).
    certs: Option<TestCerts>,
}

impl RedisSentinel {
    /// Starts the primary, the replica and three Sentinels, and waits until every Sentinel
    /// names node 0 as the primary, knows the replica and the other two Sentinels, and the
    /// replica is in sync.
    ///
    /// # Panics
    ///
    /// If `redis-server` is not on `PATH`, a process does not start, or the group does not
    /// settle within 60 s (the message then includes the Sentinels' log tails).
    pub fn start() -> RedisSentinel {
        Self::launch(None, 1)
    }

    /// As [`RedisSentinel::start`], with `replicas` replicas (nodes 1 to `replicas`) instead
    /// of one. With two, a planned failover leaves the new primary a replica at once (Sentinel
    /// moves the other replica over as part of the failover).
    ///
    /// # Panics
    ///
    /// As [`RedisSentinel::start`], or if `replicas` is 0.
    pub fn start_with_replicas(replicas: usize) -> RedisSentinel {
        assert!(replicas >= 1, "a Sentinel setup needs a replica");
        Self::launch(None, replicas)
    }

    /// As [`RedisSentinel::start`], with every process serving TLS only (`--port 0`,
    /// `--tls-port`, `--tls-replication yes`: the replica and the Sentinels talk TLS to the data
    /// nodes too) with certificates of a fresh [`TestCerts`]. With `auth_clients`, every
    /// process requires a client certificate (`--tls-auth-clients yes`). [`RedisSentinel::url`]
    /// is then `rediss+sentinel://…`.
    ///
    /// # Panics
    ///
    /// As [`RedisSentinel::start`].
    pub fn start_tls(auth_clients: bool) -> RedisSentinel {
        Self::launch(Some((TestCerts::generate(), auth_clients)), 1)
    }

    fn launch(tls: Option<(TestCerts, bool)>, replicas: usize) -> RedisSentinel {
        require_binary("redis-server");
        let server_tls = tls.as_ref().map(|(c, auth)| c.server(*auth));
        let opts = RedisOptions {
            appendonly: true,
            tls: server_tls.clone(),
            ..RedisOptions::default()
        };
        let primary = RedisServer::launch_new(opts.clone(), Mode::Configured, "");
        let replica_of = format!("replicaof 127.0.0.1 {}\n", primary.port());
        let mut nodes = vec![primary];
        nodes.extend(
            (0..replicas)
                .map(|_| RedisServer::launch_new(opts.clone(), Mode::Configured, &replica_of)),
        );
        let config = format!(
            "sentinel monitor {m} 127.0.0.1 {port} {QUORUM}\n\
             sentinel down-after-milliseconds {m} 1000\n\
             sentinel failover-timeout {m} 3000\n\
             sentinel parallel-syncs {m} 1\n",
            m = SENTINEL_MASTER,
            port = nodes[0].port(),
        );
        let sentinel_opts = RedisOptions {
            tls: server_tls,
            ..RedisOptions::default()
        };
        let sentinels = (0..3)
            .map(|_| RedisServer::launch_new(sentinel_opts.clone(), Mode::Sentinel, &config))
            .collect();
        let group = RedisSentinel {
            nodes,
            sentinels,
            certs: tls.map(|(c, _)| c),
        };
        for replica in 1..=replicas {
            group.wait_until_in_sync(replica);
        }
        group.wait_for("the sentinels to agree on node 0", || {
            group.sentinels_agree_on(0)
        });
        group
    }

    /// `redis+sentinel://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3/mailroom` (`rediss+sentinel://`
    /// with TLS): the form mailroom's `redis.url` takes.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .sentinels
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port()))
            .collect();
        let scheme = if self.certs.is_some() {
            "rediss+sentinel"
        } else {
            "redis+sentinel"
        };
        format!("{scheme}://{}/{SENTINEL_MASTER}", hosts.join(","))
    }

    /// The certificates of a setup started with [`RedisSentinel::start_tls`].
    pub fn certs(&self) -> Option<&TestCerts> {
        self.certs.as_ref()
    }

    /// Asks a Sentinel for a planned failover (`SENTINEL FAILOVER mailroom`): the replica is
    /// promoted without the primary being down, and the old primary is reconfigured as its
    /// replica. Returns at once; wait with [`RedisSentinel::wait_for_primary`].
    ///
    /// # Panics
    ///
    /// If no Sentinel accepts the request.
    pub fn failover(&self) {
        let accepted = self.sentinels.iter().any(|s| {
            query::<String>(
                s,
                redis::cmd("SENTINEL").arg("FAILOVER").arg(SENTINEL_MASTER),
            )
            .is_some()
        });
        assert!(
            accepted,
            "no sentinel accepted SENTINEL FAILOVER {SENTINEL_MASTER}"
        );
    }

    /// The TCP port of data node `node`.
    pub fn node_port(&self, node: usize) -> u16 {
        self.nodes[node].port()
    }

    /// A client straight to data node `node` (not through the Sentinels).
    pub fn node_client(&self, node: usize) -> redis::Client {
        self.nodes[node].client()
    }

    /// The data node that answers `ROLE` as a master, if exactly one running node does.
    pub fn primary(&self) -> Option<usize> {
        let masters: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| self.role(i).as_deref() == Some("master"))
            .collect();
        (masters.len() == 1).then(|| masters[0])
    }

    /// Whether data node `node` runs (it was not killed, or was restarted since).
    pub fn node_is_running(&self, node: usize) -> bool {
        self.nodes[node].is_running()
    }

    /// Kills data node `node` with `SIGKILL`.
    pub fn kill_node(&mut self, node: usize) {
        self.nodes[node].kill();
    }

    /// Starts data node `node` again on its port with its data (AOF) and its `redis.conf`.
    /// A former primary comes back as a master until the Sentinels reconfigure it: wait for
    /// that with [`RedisSentinel::wait_until_in_sync`].
    pub fn restart_node(&mut self, node: usize) {
        self.nodes[node].restart();
    }

    /// Waits until every Sentinel names `node` as the primary, sees it up and knows its
    /// replica and the other Sentinels, and `node` answers as a master: after a failover this
    /// is the promotion.
    ///
    /// # Panics
    ///
    /// If that does not happen within 60 s.
    pub fn wait_for_primary(&self, node: usize) {
        self.wait_for(&format!("node {node} to be the agreed primary"), || {
            self.role(node).as_deref() == Some("master") && self.sentinels_agree_on(node)
        });
    }

    /// Waits until a data node other than `old` is the agreed primary (as
    /// [`RedisSentinel::wait_for_primary`]) and returns it.
    ///
    /// # Panics
    ///
    /// If that does not happen within 60 s.
    pub fn wait_for_primary_other_than(&self, old: usize) -> usize {
        let mut promoted = None;
        self.wait_for(
            &format!("a node other than {old} to be the agreed primary"),
            || {
                promoted = (0..self.nodes.len()).filter(|&n| n != old).find(|&n| {
                    self.role(n).as_deref() == Some("master") && self.sentinels_agree_on(n)
                });
                promoted.is_some()
            },
        );
        promoted.expect("a promoted node")
    }

    /// The number of data nodes (the primary and its replicas).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Waits until data node `node` is a replica of the current primary with its link up and
    /// its initial sync done, and the primary counts it as an online replica.
    ///
    /// # Panics
    ///
    /// If that does not happen within 60 s.
    pub fn wait_until_in_sync(&self, node: usize) {
        self.wait_for(&format!("node {node} to be a replica in sync"), || {
            let Some(primary) = self.primary() else {
                return false;
            };
            let (Some(mine), Some(theirs)) = (self.info(node), self.info(primary)) else {
                return false;
            };
            let port = self.nodes[primary].port().to_string();
            mine.get("role").map(String::as_str) == Some("slave")
                && mine.get("master_port") == Some(&port)
                && mine.get("master_link_status").map(String::as_str) == Some("up")
                && mine.get("master_sync_in_progress").map(String::as_str) == Some("0")
                && theirs
                    .values()
                    .any(|v| v.contains(&format!("port={},state=online", self.nodes[node].port())))
        });
    }

    fn sentinels_agree_on(&self, node: usize) -> bool {
        let port = self.nodes[node].port().to_string();
        let replicas = (self.nodes.len() - 1).to_string();
        self.sentinels.iter().all(|s| {
            let Some(master) = query::<HashMap<String, String>>(
                s,
                redis::cmd("SENTINEL").arg("MASTER").arg(SENTINEL_MASTER),
            ) else {
                return false;
            };
            let field = |k: &str| master.get(k).map(String::as_str).unwrap_or_default();
            field("port") == port
                && field("flags") == "master"
                && field("num-slaves") == replicas
                && field("num-other-sentinels") == "2"
        })
    }

    fn role(&self, node: usize) -> Option<String> {
        if !self.nodes[node].is_running() {
            return None;
        }
        self.info(node)?.get("role").cloned()
    }

    fn info(&self, node: usize) -> Option<HashMap<String, String>> {
        let text: String = query(&self.nodes[node], redis::cmd("INFO").arg("replication"))?;
        Some(
            text.lines()
                .filter_map(|l| l.trim_end().split_once(':'))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }

    fn wait_for(&self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        while !done() {
            if Instant::now() >= deadline {
                let logs: Vec<String> = self
                    .sentinels
                    .iter()
                    .chain(&self.nodes)
                    .map(|s| {
                        let log = read_from(&s.log_path(), 0);
                        format!("--- port {}:\n{}", s.port(), tail(&log, LOG_TAIL_LINES))
                    })
                    .collect();
                panic!(
                    "timed out after {SETTLE_TIMEOUT:?} waiting for {what}\n{}",
                    logs.join("\n")
                );
            }
            thread::sleep(POLL_INTERVAL);
        }
    }
}

/// Runs one command on a fresh connection to `server`; `None` when it fails.
fn query<T: redis::FromRedisValue>(server: &RedisServer, cmd: &mut redis::Cmd) -> Option<T> {
    let mut conn = server
        .client()
        .get_connection_with_timeout(PROBE_TIMEOUT)
        .ok()?;
    conn.set_read_timeout(Some(PROBE_TIMEOUT)).ok()?;
    cmd.query(&mut conn).ok()
}
