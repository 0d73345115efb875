//! The floor: `mailroom-bench-floor`, a minimal Rust loop (`redis` LMOVE + hyper keep-alive, no
//! framework) sending the same jobs from a Redis list.

use std::process::Command;

use redis::AsyncCommands;

use super::run::{Run, run_contender};
use crate::world::{World, job_json};

/// One round of the floor over `jobs` jobs; `None` when its binary is missing.
pub(super) async fn run_floor(
    world: &World,
    jobs: usize,
    concurrency: usize,
    token: &str,
) -> Option<Run> {
    let floor = world.binary("mailroom-bench-floor")?;
    let mut conn = world
        .redis
        .client()
        .get_multiplexed_async_connection()
        .await
        .expect("connect");
    for start in (0..jobs).step_by(1_000) {
        let chunk: Vec<String> = (start..(start + 1_000).min(jobs))
            .map(|i| job_json(i).to_string())
            .collect();
        let _: () = conn.rpush("floor:jobs", chunk).await.expect("RPUSH");
    }
    let mut cmd = Command::new(floor);
    cmd.args(["--redis", &world.url(), "--list", "floor:jobs"])
        .args(["--base", &world.sink.base_url(), "--token", token])
        .args(["--jobs", &jobs.to_string()])
        .args(["--concurrency", &concurrency.to_string()]);
    Some(run_contender(world, cmd, jobs, "the floor").await)
}
