//! [`RedisCluster`]: three cluster-enabled servers joined into one cluster.

use std::fmt::Write as _;
use std::io;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::options::RedisOptions;
use crate::process::{LOG_TAIL_LINES, Mode, POLL_INTERVAL, read_from, require_binary, spawn, tail};
use crate::server::RedisServer;

/// How long a new cluster may take to reach `cluster_state:ok` everywhere.
const CLUSTER_TIMEOUT: Duration = Duration::from_secs(30);
/// Number of master nodes in a [`RedisCluster`].
const CLUSTER_NODES: usize = 3;

/// A Redis cluster of 3 master nodes without replicas, each a
/// `redis-server` child process with `cluster-enabled yes` on its own free
/// port (its cluster bus port, port + 10000, is free as well).
///
/// Dropping it kills all nodes and removes their directories.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// Starts 3 nodes, joins them with `redis-cli --cluster create`
    /// (`--cluster-replicas 0`) and waits until every node reports
    /// `cluster_state:ok`, knows all 3 nodes and has all 16384 slots
    /// assigned.
    ///
    /// # Panics
    ///
    /// If `redis-server` or `redis-cli` is not on `PATH`, if a node does not
    /// start, if `redis-cli` fails, or if the cluster is not ready within
    /// 30 seconds.
    pub fn start() -> RedisCluster {
        Self::start_with(RedisOptions::default())
    }

    /// Like [`RedisCluster::start`], with every node run with `opts`: with
    /// [`RedisOptions::appendonly`] a node brought back with
    /// [`RedisCluster::restart_node`] has its data again.
    ///
    /// # Panics
    ///
    /// As [`RedisCluster::start`].
    pub fn start_with(opts: RedisOptions) -> RedisCluster {
        require_binary("redis-server");
        require_binary("redis-cli");
        let nodes: Vec<RedisServer> = (0..CLUSTER_NODES)
            .map(|_| RedisServer::launch_new(opts.clone(), Mode::Cluster, ""))
            .collect();
        let cluster = RedisCluster { nodes };
        cluster.create();
        cluster.wait_until_ready();
        cluster
    }

    /// `redis://127.0.0.1:PORT/` for each node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// `redis+cluster://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3`: every node
    /// as a seed, in the form mailroom's `redis.url` takes.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .map(|node| format!("127.0.0.1:{}", node.port()))
            .collect();
        format!("redis+cluster://{}", hosts.join(","))
    }

    /// A cluster client seeded with every node's URL.
    pub fn client(&self) -> redis::cluster::ClusterClient {
        redis::cluster::ClusterClient::new(self.urls())
            .unwrap_or_else(|e| panic!("cannot build a cluster client for {:?}: {e}", self.urls()))
    }

    /// The index (into [`RedisCluster::urls`]) of the node serving `key`'s
    /// hash slot, as the cluster's first running node sees it.
    ///
    /// # Panics
    ///
    /// If no running node answers, or none serves the slot.
    pub fn node_for_key(&self, key: &str) -> usize {
        let asked = self
            .nodes
            .iter()
            .find(|node| node.is_running())
            .expect("a running node");
        let slot: u16 = asked
            .endpoint()
            .command(&["CLUSTER", "KEYSLOT", key])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("CLUSTER KEYSLOT {key} failed"));
        let table = asked
            .endpoint()
            .command(&["CLUSTER", "NODES"])
            .unwrap_or_else(|e| panic!("CLUSTER NODES failed: {e}"));
        let port = serving_port(&table, slot)
            .unwrap_or_else(|| panic!("no node serves slot {slot}:\n{table}"));
        self.nodes
            .iter()
            .position(|node| node.port() == port)
            .unwrap_or_else(|| panic!("slot {slot} is served by port {port}, not a node of ours"))
    }

    /// Kills node `index` with `SIGKILL` (see [`RedisServer::kill`]). The
    /// cluster has no replicas: its slots stay unserved until the node is
    /// back.
    pub fn kill_node(&mut self, index: usize) {
        self.nodes[index].kill();
    }

    /// Starts node `index` again on the same port and in the same directory,
    /// so it rejoins with the identity, epoch and slots kept in its
    /// `nodes.conf` (and its data, with [`RedisOptions::appendonly`]), then
    /// waits until every node reports the cluster healthy again.
    ///
    /// # Panics
    ///
    /// As [`RedisServer::restart`], or if the cluster is not healthy within
    /// 30 seconds.
    pub fn restart_node(&mut self, index: usize) {
        self.nodes[index].restart();
        self.wait_until_ready();
    }

    /// Whether node `index` is running.
    pub fn node_is_running(&self, index: usize) -> bool {
        self.nodes[index].is_running()
    }

    fn create(&self) {
        let mut cmd = Command::new("redis-cli");
        cmd.arg("--cluster").arg("create");
        for node in &self.nodes {
            cmd.arg(format!("127.0.0.1:{}", node.port()));
        }
        cmd.args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let output = spawn(cmd)
            .and_then(Child::wait_with_output)
            .unwrap_or_else(|e| panic!("cannot run redis-cli --cluster create: {e}"));
        if !output.status.success() {
            panic!(
                "redis-cli --cluster create failed ({}):\n{}\n{}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
                self.log_tails()
            );
        }
    }

    fn wait_until_ready(&self) {
        let deadline = Instant::now() + CLUSTER_TIMEOUT;
        loop {
            let infos: Vec<io::Result<String>> = self
                .nodes
                .iter()
                .map(|node| node.endpoint().command(&["CLUSTER", "INFO"]))
                .collect();
            let ready = infos.iter().all(|info| match info {
                Ok(info) => cluster_info_ready(info),
                Err(_) => false,
            });
            if ready {
                return;
            }
            if Instant::now() >= deadline {
                let mut report = String::new();
                for (node, info) in self.nodes.iter().zip(&infos) {
                    let _ = writeln!(report, "node {}: {info:?}", node.port());
                }
                panic!(
                    "redis cluster not ready within {CLUSTER_TIMEOUT:?}:\n{report}{}",
                    self.log_tails()
                );
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    fn log_tails(&self) -> String {
        let mut out = String::new();
        for node in &self.nodes {
            let log = read_from(&node.log_path(), 0);
            let _ = writeln!(
                out,
                "log tail of node {}:\n{}",
                node.port(),
                tail(&log, LOG_TAIL_LINES)
            );
        }
        out
    }
}

/// The port of the node serving `slot` in a `CLUSTER NODES` reply (lines of
/// `id ip:port@bus flags master ping pong epoch link slot-ranges…`).
fn serving_port(table: &str, slot: u16) -> Option<u16> {
    table.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let serves = fields.iter().skip(8).any(|range| {
            let (first, last) = range.split_once('-').unwrap_or((range, range));
            matches!(
                (first.parse::<u16>(), last.parse::<u16>()),
                (Ok(first), Ok(last)) if (first..=last).contains(&slot)
            )
        });
        if !serves {
            return None;
        }
        let addr = fields.get(1)?.split('@').next()?;
        addr.rsplit_once(':')?.1.parse().ok()
    })
}

/// Whether a `CLUSTER INFO` reply shows a healthy cluster of all nodes with
/// every slot assigned.
fn cluster_info_ready(info: &str) -> bool {
    let field = |name: &str| {
        info.lines()
            .find_map(|line| line.trim_end().strip_prefix(name)?.strip_prefix(':'))
            .map(str::to_owned)
    };
    field("cluster_state").as_deref() == Some("ok")
        && field("cluster_slots_assigned").as_deref() == Some("16384")
        && field("cluster_known_nodes").as_deref() == Some(&CLUSTER_NODES.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_serving_a_slot() {
        let table = "a1 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460\n\
                     b2 127.0.0.1:7002@17002 master - 0 0 2 connected 5461-10922 12000\n\
                     c3 127.0.0.1:7003@17003 master,fail - 0 0 3 connected 10923-11999 12001-16383\n";
        assert_eq!(serving_port(table, 0), Some(7001));
        assert_eq!(serving_port(table, 5461), Some(7002));
        assert_eq!(serving_port(table, 12000), Some(7002));
        assert_eq!(serving_port(table, 16383), Some(7003));
        assert_eq!(serving_port("", 1), None);
    }

    #[test]
    fn cluster_info_parsing() {
        let ok = "cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_known_nodes:3\r\n";
        assert!(cluster_info_ready(ok));
        let fail =
            "cluster_state:fail\r\ncluster_slots_assigned:16384\r\ncluster_known_nodes:3\r\n";
        assert!(!cluster_info_ready(fail));
        let partial =
            "cluster_state:ok\r\ncluster_slots_assigned:10000\r\ncluster_known_nodes:3\r\n";
        assert!(!cluster_info_ready(partial));
        let lonely =
            "cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_known_nodes:1\r\n";
        assert!(!cluster_info_ready(lonely));
    }
}
