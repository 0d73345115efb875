//! The BullMQ peer: a node worker (`bench/bullmq/worker.js`, `undici.request` with keep-alive)
//! over jobs enqueued by `bench/bullmq/enqueue.js`.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use super::run::{Run, run_contender};
use crate::world::{World, job_json};

/// Where the BullMQ peer lives, relative to the repository root `make bench` runs in.
pub(super) const BULLMQ_DIR: &str = "bench/bullmq";

/// Whether the BullMQ peer can run: node and its installed packages.
pub(super) fn bullmq_ready() -> bool {
    Path::new(BULLMQ_DIR).join("node_modules/bullmq").exists()
        && Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
}

/// One round of the BullMQ peer over `jobs` jobs.
pub(super) async fn run_bullmq(
    world: &World,
    round: usize,
    jobs: usize,
    concurrency: usize,
    token: &str,
) -> Run {
    let queue = format!("bench-{round}");
    let file = world.dir.path().join("bullmq-jobs.json");
    let all: Vec<serde_json::Value> = (0..jobs).map(job_json).collect();
    let mut out = std::fs::File::create(&file).expect("job file");
    out.write_all(serde_json::to_string(&all).expect("json").as_bytes())
        .expect("write the job file");
    let status = Command::new("node")
        .arg(format!("{BULLMQ_DIR}/enqueue.js"))
        .args(["--redis", &world.url(), "--queue", &queue])
        .args(["--jobs", &jobs.to_string()])
        .arg("--job-file")
        .arg(&file)
        .stdout(Stdio::null())
        .status()
        .expect("node enqueue.js");
    assert!(status.success(), "enqueue.js exited with {status}");
    let mut cmd = Command::new("node");
    cmd.arg(format!("{BULLMQ_DIR}/worker.js"))
        .args(["--redis", &world.url(), "--queue", &queue])
        .args(["--base", &world.sink.base_url(), "--token", token])
        .args(["--jobs", &jobs.to_string()])
        .args(["--concurrency", &concurrency.to_string()]);
    run_contender(world, cmd, jobs, "the BullMQ worker").await
}
