//! Enqueue rates through the `mailroom-enqueue` client (validation, serialisation and the
//! atomic enqueue script included), beside the enqueue floor (plain pipelined `XADD`).

use mailroom_enqueue::Client;
use mailroom_jobs::{EmailJob, JobId};

use crate::floors::{self, Measured, measured};
use crate::report::{Table, thousands};
use crate::sizes::Sizes;
use crate::world::{World, job};

const CLIENTS: usize = 16;
const BATCH: usize = 1_000;

async fn client(world: &World, queue: &str) -> Client {
    Client::connect(&world.url(), queue)
        .await
        .expect("connect the enqueue client")
}

/// One row: what, then the figures.
fn row(table: &mut Table, what: String, m: &Measured) {
    table.row(vec![
        what,
        thousands(m.jobs as f64),
        format!("{:.2}", m.seconds),
        thousands(m.rate()),
        format!("{:.4}", m.cpu_per_job()),
        format!("{:.4}", m.redis_per_job()),
    ]);
}

/// A copy of `job` under a new id, built before a round's clock starts.
fn renamed(job: &EmailJob) -> EmailJob {
    let mut job = job.clone();
    job.v1_mut().id = JobId::new();
    job
}

pub async fn rates(world: &World, sizes: &Sizes) -> Table {
    let mut table = Table::new(&[
        "what",
        "jobs",
        "seconds",
        "jobs/s",
        "client CPU-ms per job",
        "redis-server CPU-ms per job",
    ]);
    let single = sizes.single;

    let one = client(world, "bench-enqueue-single").await;
    let jobs: Vec<_> = (0..single).map(job).collect();
    let m = measured(world, single, async {
        for j in jobs {
            one.send(j).await.expect("send");
        }
    })
    .await;
    row(
        &mut table,
        "`Client::send`, one caller, one at a time".into(),
        &m,
    );
    world.flush().await;

    let shared = client(world, "bench-enqueue-concurrent").await;
    let m = measured(world, single, async {
        let callers: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let client = shared.clone();
                tokio::spawn(async move {
                    for i in 0..single / CLIENTS {
                        client.send(job(c * single + i)).await.expect("send");
                    }
                })
            })
            .collect();
        for caller in callers {
            caller.await.expect("caller");
        }
    })
    .await;
    row(
        &mut table,
        format!("`Client::send`, {CLIENTS} concurrent callers sharing one client"),
        &m,
    );
    world.flush().await;

    let batched = client(world, "bench-enqueue-batched").await;
    let jobs: Vec<_> = (0..sizes.batched).map(job).collect();
    // The rounds are interleaved (`send_many`, then the floor, in each), so that a busy
    // stretch of a shared machine weighs on both alike.
    let mut many_runs = Vec::new();
    let mut floor_runs = Vec::new();
    for _ in 0..sizes.rounds.max(1) {
        // Fresh job ids each round: a repeat would only find duplicates.
        let chunks: Vec<Vec<_>> = jobs
            .chunks(BATCH)
            .map(|c| c.iter().map(renamed).collect())
            .collect();
        let m = measured(world, sizes.batched, async {
            for chunk in chunks {
                batched.send_many(chunk).await.expect("send_many");
            }
        })
        .await;
        world.flush().await;
        many_runs.push(m);
        floor_runs.push(floors::enqueue(world, sizes.batched).await);
    }
    let many = floors::median_of(many_runs);
    let floor = floors::median_of(floor_runs);
    row(
        &mut table,
        format!("`Client::send_many`, batches of {BATCH}"),
        &many,
    );
    row(
        &mut table,
        format!("enqueue floor: `XADD` of the same payloads, pipelined in batches of {BATCH}"),
        &floor,
    );
    table.note(
        "Each job is validated, serialised and stored with its record, its stream entry and the \
         queue's counters in one atomic script call per `send`, or per run of 100 jobs of a \
         batch (the runs of a batch pipelined). Jobs (and the \
         floor's JSON payloads) are built before the clock starts. CPU figures are user plus \
         system time from /proc over each row's loop: this process's, and the redis-server's.",
    );
    table.note(format!(
        "`send_many` / enqueue floor: {:.0} % of the rate (target ≥ 50 %), {:.2}× the \
         redis-server CPU per job; both rows are the median of {} rounds, run interleaved.",
        100.0 * many.rate() / floor.rate(),
        many.redis_per_job() / floor.redis_per_job(),
        sizes.rounds,
    ));
    table
}
