//! What every contender's run shares: the [`Run`] it yields, the child [`Worker`] process, and
//! running a contender that exits by itself, timed on the lean Gmail's clock.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::world::World;

/// How long one contender may take for one run before the benchmark gives up.
pub(super) const RUN_LIMIT: Duration = Duration::from_secs(300);

/// One contender's run.
#[derive(Debug, Clone)]
pub struct Run {
    pub seconds: f64,
    pub max_rss_kb: u64,
    pub cpu_ms: u64,
    /// The redis-server's CPU time over the run (from the contender's start to its end).
    pub redis_cpu_ms: u64,
    /// Messages the fake accepted beyond one per job.
    pub duplicates: usize,
}

impl Run {
    /// The run whose messages arrived after the first `skip`, with the contender's peak RSS
    /// and CPU time and the redis-server's CPU time since `redis_before`; empties Redis for
    /// the next one.
    pub(super) async fn finished(
        world: &World,
        skip: usize,
        (max_rss_kb, cpu_ms): (u64, u64),
        redis_before: u64,
    ) -> Run {
        let redis_cpu_ms = world.redis_cpu_ms().saturating_sub(redis_before);
        let (seconds, duplicates) = world.sink.timed(skip);
        world.flush().await;
        Run {
            seconds,
            max_rss_kb,
            cpu_ms,
            redis_cpu_ms,
            duplicates,
        }
    }
}

/// Waits until the fake has accepted `target` messages in all, failing if `child` exits first.
pub(super) async fn wait_accepted(world: &World, child: &mut Child, target: u64, what: &str) {
    let deadline = Instant::now() + RUN_LIMIT;
    while world.sink.accepted() < target {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited with {status} before sending everything");
        }
        assert!(
            Instant::now() < deadline,
            "{what} took longer than {RUN_LIMIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A child process (`mailroom run` or a contender), killed if the benchmark fails before stopping it.
pub struct Worker(pub(super) Option<Child>);

impl Worker {
    pub(super) fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, Child::id)
    }

    pub(super) fn running(&mut self) -> &mut Child {
        self.0.as_mut().expect("a running process")
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What a contender that measures itself prints: one JSON line.
fn self_report(output: &[u8], what: &str) -> (u64, u64) {
    let line = String::from_utf8_lossy(output);
    let json: serde_json::Value = line
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("{what} printed no result line: {line}"));
    (
        json["max_rss_kb"].as_u64().unwrap_or(0),
        json["cpu_ms"].as_u64().unwrap_or(0),
    )
}

/// Runs a contender that exits by itself after `jobs`; times it on the fake's clock.
pub(super) async fn run_contender(world: &World, mut cmd: Command, jobs: usize, what: &str) -> Run {
    let skip = world.sink.arrived();
    let target = world.sink.accepted() + jobs as u64;
    let redis_before = world.redis_cpu_ms();
    let mut child = Worker(Some(
        cmd.stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}")),
    ));
    wait_accepted(world, child.running(), target, what).await;
    let output = child
        .0
        .take()
        .expect("running")
        .wait_with_output()
        .expect("contender output");
    assert!(
        output.status.success(),
        "{what} exited with {}",
        output.status
    );
    Run::finished(world, skip, self_report(&output.stdout, what), redis_before).await
}
