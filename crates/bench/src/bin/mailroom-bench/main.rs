//! `mailroom-bench`: mailroom's benchmarks, run on one machine in one go, written to
//! `BENCHMARKS.md` (or the path given as the first argument) as markdown tables.
//!
//! ```text
//! mailroom-bench [OUTPUT.md] [SECTION…]   # make bench
//! ```
//!
//! Sections: `enqueue`, `replicas`, `api`, `queue`, `e2e`, `latency`; all of them when none is
//! named. `process` (never part of the full run) is the `queue` section without its no-op
//! drains: the stream floor and the `mailroom` process on `null`, for a quick comparison.
//! `MAILROOM_BENCH_SCALE` and `MAILROOM_BENCH_ROUNDS` shrink a run (see `sizes`).
//!
//! It starts a redis-server of its own (through the testkit) and a lean Gmail in process,
//! then measures: enqueue rates beside the enqueue floor, queue throughput with a no-op handler
//! at three backlogs beside the stream floor, the worker's end-to-end throughput through the
//! `gmail` transport beside a BullMQ peer and a minimal Rust floor on the same fake, idle
//! pickup and scheduled-send lateness; with each contender's CPU per job, the redis-server's
//! CPU per job (from /proc) and peak RSS. The `mailroom` binary, the floor and the BullMQ
//! scripts are found beside this binary and in `bench/bullmq` (`make bench` builds them).
//!
//! Modules:
//!
//! * `sizes`: how big each measurement is, and the knobs that shrink a run.
//! * `floors`: the Redis floors (stream and enqueue), minimal loops with no framework and no Lua.
//! * `world`: the redis-server, the lean Gmail, the job every contender sends, the binaries.
//! * `sink`: the lean Gmail (token endpoint and send, arrival times, nothing more).
//! * `enqueue`: enqueue rates through the `mailroom-enqueue` client.
//! * `replicas`: `send` and `send_many` with `min_replicas_ack` 0 and 1, on a primary with a
//!   replica.
//! * `api`: the HTTP API's enqueue rates beside `send_many`.
//! * `queue`: queue throughput with a no-op handler, and the `mailroom` process on `null`.
//! * `contenders`: the end-to-end comparison (mailroom, the BullMQ peer, the floor).
//! * `latency`: idle pickup and scheduled-send lateness of the `mailroom` process.
//! * `machine`: the machine and the versions the numbers were measured with.
//! * `report`: the markdown report and its tables.

mod api;
mod contenders;
mod enqueue;
mod floors;
mod latency;
mod machine;
mod queue;
mod replicas;
mod report;
mod sink;
mod sizes;
mod world;

use std::time::Duration;

use report::Report;

/// The rows measured in this process (the no-op worker, the enqueue client, and the Redis
/// floors beside them) allocate through mimalloc, as the `mailroom` program does, so the
/// queue's code is measured with the allocator it runs with (with glibc's, the no-op worker spent
/// about a fifth of its time in `malloc` and `free`). The floors share it.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Concurrency of every end-to-end contender.
const E2E_CONCURRENCY: usize = 64;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let output = args.next().unwrap_or_else(|| "BENCHMARKS.md".to_owned());
    let only: Vec<String> = args.collect();
    let wanted = |section: &str| only.is_empty() || only.iter().any(|s| s == section);
    let sizes = sizes::Sizes::from_env();
    let world = world::World::start();
    let mut machine = machine::describe();
    if !sizes.published() {
        machine.push((
            "sizes".to_owned(),
            format!(
                "shrunk for a quick run (MAILROOM_BENCH_SCALE={}, MAILROOM_BENCH_ROUNDS={}); \
                 `make bench` without them runs the published sizes",
                sizes.scale, sizes.rounds
            ),
        ));
    }
    let mut report = Report::new(machine);

    if wanted("enqueue") {
        eprintln!("enqueue rates…");
        report.section("Enqueue", enqueue::rates(&world, &sizes).await);
    }
    if wanted("replicas") {
        eprintln!("replica acknowledgement…");
        report.section("Replica acknowledgement", replicas::costs(&sizes).await);
    }
    if wanted("api") {
        eprintln!("HTTP API enqueue rates…");
        report.section("HTTP API", api::throughput(&world, sizes.rounds).await);
    }
    if wanted("queue") {
        eprintln!("queue throughput, no-op handler…");
        report.section(
            "Queue throughput",
            queue::throughput(&world, &sizes, true).await,
        );
    } else if only.iter().any(|s| s == "process") {
        eprintln!("the stream floor and the mailroom run process…");
        report.section(
            "Queue throughput",
            queue::throughput(&world, &sizes, false).await,
        );
    }
    if wanted("e2e") {
        eprintln!("end to end through the gmail transport…");
        let e2e = contenders::compare(&world, sizes.e2e_jobs, E2E_CONCURRENCY, sizes.rounds).await;
        report.section("End to end", e2e);
    }
    if wanted("latency") {
        eprintln!("latency…");
        report.section("Latency", latency::measure(&world).await);
    }

    let text = report.markdown();
    std::fs::write(&output, &text).unwrap_or_else(|e| panic!("cannot write {output}: {e}"));
    println!("{text}");
    eprintln!("written to {output}");
    // Give child processes a moment to be reaped before the world is torn down.
    tokio::time::sleep(Duration::from_millis(50)).await;
}
