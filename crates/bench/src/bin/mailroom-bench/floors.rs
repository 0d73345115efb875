//! The Redis floors: minimal Rust loops over the same redis-server and the same payloads, with
//! no job framework and no Lua, against which the queue's own rates are read.
//!
//! * the enqueue floor: `XADD` of every payload, pipelined in batches of 1,000;
//! * the stream floor: a consumer group read with `XREADGROUP COUNT 256`, each batch then
//!   acknowledged and deleted with one pipelined `XACK` + `XDEL`.
//!
//! Both run in this process, so their CPU time is this process's over the loop (the lean
//! Gmail's thread is idle meanwhile).

use std::time::Instant;

use redis::aio::MultiplexedConnection;
use redis::streams::StreamReadReply;

use crate::world::{World, job_json};

/// Jobs per pipelined `XADD` batch.
const BATCH: usize = 1_000;
/// Entries per `XREADGROUP`.
const READ_COUNT: usize = 256;
const STREAM: &str = "floor:stream";
const GROUP: &str = "floor";

/// What a floor measured.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    pub jobs: usize,
    pub seconds: f64,
    /// This process's CPU time over the loop.
    pub cpu_ms: u64,
    /// The redis-server's CPU time over the loop.
    pub redis_cpu_ms: u64,
}

impl Measured {
    pub fn rate(&self) -> f64 {
        self.jobs as f64 / self.seconds.max(1e-9)
    }

    pub fn cpu_per_job(&self) -> f64 {
        self.cpu_ms as f64 / self.jobs as f64
    }

    pub fn redis_per_job(&self) -> f64 {
        self.redis_cpu_ms as f64 / self.jobs as f64
    }
}

/// Times `body`, with this process's and the redis-server's CPU time over it.
pub async fn measured<F: Future<Output = ()>>(world: &World, jobs: usize, body: F) -> Measured {
    let (cpu, redis) = (mailroom_bench::usage("self").1, world.redis_cpu_ms());
    let start = Instant::now();
    body.await;
    let seconds = start.elapsed().as_secs_f64();
    Measured {
        jobs,
        seconds,
        cpu_ms: mailroom_bench::usage("self").1.saturating_sub(cpu),
        redis_cpu_ms: world.redis_cpu_ms().saturating_sub(redis),
    }
}

/// The median round, by rate, of rounds already run (at least one): the ratios compare
/// medians, since one round on a shared machine can fall on a busy moment.
pub fn median_of(mut all: Vec<Measured>) -> Measured {
    all.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
    all[all.len() / 2]
}

async fn connect(world: &World) -> MultiplexedConnection {
    world
        .redis
        .client()
        .get_multiplexed_async_connection()
        .await
        .expect("connect to redis")
}

/// `XADD`s every payload to the floor's stream, pipelined in batches of 1,000.
async fn xadd_all(conn: &mut MultiplexedConnection, payloads: &[String]) {
    for chunk in payloads.chunks(BATCH) {
        let mut pipe = redis::pipe();
        for payload in chunk {
            pipe.cmd("XADD")
                .arg(STREAM)
                .arg("*")
                .arg("p")
                .arg(payload)
                .ignore();
        }
        let () = pipe.query_async(conn).await.expect("XADD");
    }
}

/// The payloads of jobs `0..n`, built before any clock starts.
fn payloads(n: usize) -> Vec<String> {
    (0..n).map(|i| job_json(i).to_string()).collect()
}

/// The enqueue floor over `jobs` jobs.
pub async fn enqueue(world: &World, jobs: usize) -> Measured {
    let payloads = payloads(jobs);
    let mut conn = connect(world).await;
    let m = measured(world, jobs, xadd_all(&mut conn, &payloads)).await;
    world.flush().await;
    m
}

/// The stream floor draining a backlog of `jobs` jobs.
pub async fn stream(world: &World, jobs: usize) -> Measured {
    let mut conn = connect(world).await;
    xadd_all(&mut conn, &payloads(jobs)).await;
    let () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(STREAM)
        .arg(GROUP)
        .arg("0")
        .query_async(&mut conn)
        .await
        .expect("XGROUP CREATE");
    let m = measured(world, jobs, drain(&mut conn, jobs)).await;
    world.flush().await;
    m
}

/// Reads, acknowledges and deletes until `jobs` entries went through.
async fn drain(conn: &mut MultiplexedConnection, jobs: usize) {
    let mut done = 0;
    while done < jobs {
        let reply: StreamReadReply = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg(GROUP)
            .arg("c")
            .arg("COUNT")
            .arg(READ_COUNT)
            .arg("STREAMS")
            .arg(STREAM)
            .arg(">")
            .query_async(conn)
            .await
            .expect("XREADGROUP");
        let ids: Vec<String> = reply
            .keys
            .into_iter()
            .flat_map(|key| key.ids)
            .map(|entry| entry.id)
            .collect();
        assert!(!ids.is_empty(), "the stream ran dry after {done} of {jobs}");
        let mut pipe = redis::pipe();
        pipe.cmd("XACK").arg(STREAM).arg(GROUP).arg(&ids).ignore();
        pipe.cmd("XDEL").arg(STREAM).arg(&ids).ignore();
        let () = pipe.query_async(conn).await.expect("XACK + XDEL");
        done += ids.len();
    }
}
