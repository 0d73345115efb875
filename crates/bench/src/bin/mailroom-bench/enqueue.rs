//! Enqueue rates through the `mailroom-enqueue` client: validation, serialisation and the
//! atomic enqueue script included.

use std::time::Instant;

use mailroom_enqueue::Client;

use crate::report::{Table, rate, thousands};
use crate::world::{World, job};

const SINGLE: usize = 10_000;
const CLIENTS: usize = 16;
const BATCHED: usize = 200_000;
const BATCH: usize = 1_000;

async fn client(world: &World, queue: &str) -> Client {
    Client::connect(&world.url(), queue)
        .await
        .expect("connect the enqueue client")
}

pub async fn rates(world: &World) -> Table {
    let mut table = Table::new(&["what", "jobs", "seconds", "jobs/s"]);
    let mut add = |what: String, jobs: usize, took: std::time::Duration| {
        table.row(vec![
            what,
            thousands(jobs as f64),
            format!("{:.2}", took.as_secs_f64()),
            thousands(rate(jobs, took)),
        ]);
    };

    let one = client(world, "bench-enqueue-single").await;
    let jobs: Vec<_> = (0..SINGLE).map(job).collect();
    let start = Instant::now();
    for j in jobs {
        one.send(j).await.expect("send");
    }
    add(
        "`Client::send`, one caller, one at a time".into(),
        SINGLE,
        start.elapsed(),
    );

    let shared = client(world, "bench-enqueue-concurrent").await;
    let start = Instant::now();
    let callers: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let client = shared.clone();
            tokio::spawn(async move {
                for i in 0..SINGLE / CLIENTS {
                    client.send(job(c * SINGLE + i)).await.expect("send");
                }
            })
        })
        .collect();
    for caller in callers {
        caller.await.expect("caller");
    }
    add(
        format!("`Client::send`, {CLIENTS} concurrent callers sharing one client"),
        SINGLE,
        start.elapsed(),
    );

    let batched = client(world, "bench-enqueue-batched").await;
    let jobs: Vec<_> = (0..BATCHED).map(job).collect();
    let mut chunks = Vec::new();
    let mut rest = jobs;
    while !rest.is_empty() {
        let tail = rest.split_off(rest.len().min(BATCH));
        chunks.push(std::mem::replace(&mut rest, tail));
    }
    let start = Instant::now();
    for chunk in chunks {
        batched.send_many(chunk).await.expect("send_many");
    }
    add(
        format!("`Client::send_many`, batches of {BATCH}"),
        BATCHED,
        start.elapsed(),
    );
    table.note(
        "Each job is validated, serialised and stored with its record, its stream entry and the \
         queue's counters in one atomic script call per `send` or per batch. Jobs are built \
         before the clock starts.",
    );
    world.flush().await;
    table
}
