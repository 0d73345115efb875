//! Queue throughput: a backlog drained by a worker whose handler does nothing but record the
//! job as sent, at three backlog sizes; and the real `mailroom` process with the `null`
//! transport, which adds validation and MIME rendering.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use apalis::prelude::*;
use mailroom_jobs::EmailJob;
use mailroom_queue::{Lease, Queue, QueueConfig, RedisBackend};

use crate::floors::{self, Measured, measured};
use crate::report::{Table, thousands};
use crate::sizes::Sizes;
use crate::world::{World, fill};

const CONCURRENCY: usize = 64;

/// When the first of `target` jobs was handled and when the last outcome was written.
#[derive(Clone)]
struct Progress {
    done: Arc<AtomicUsize>,
    target: usize,
    first: Arc<Mutex<Option<Instant>>>,
    last: Arc<Mutex<Option<Instant>>>,
    finished: Arc<tokio::sync::Notify>,
}

async fn noop(
    _job: Box<EmailJob>,
    lease: Lease,
    progress: Data<Progress>,
) -> Result<(), BoxDynError> {
    lease.sent_in_background(None, None, None);
    let now = Instant::now();
    progress.first.lock().expect("lock").get_or_insert(now);
    if progress.done.fetch_add(1, Ordering::Relaxed) + 1 == progress.target {
        progress.finished.notify_one();
    }
    Ok(())
}

/// Drains a backlog of `backlog` jobs with the no-op handler: the time from the first job
/// handled to the last outcome written, and the CPU figures over the worker's run.
async fn drain(world: &World, backlog: usize) -> Measured {
    let name = format!("bench-noop-{backlog}");
    let queue = Queue::connect(&world.url(), QueueConfig::named(&name))
        .await
        .expect("connect");
    fill(&queue, backlog).await;
    let progress = Progress {
        done: Arc::default(),
        target: backlog,
        first: Arc::default(),
        last: Arc::default(),
        finished: Arc::default(),
    };
    let backend = RedisBackend::new(queue.clone(), "bench")
        .await
        .expect("backend");
    let tracker = backend.tracker();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = WorkerBuilder::new("bench")
        .backend(backend)
        .concurrency(CONCURRENCY)
        .data(progress.clone())
        .build(noop);
    let mut m = measured(world, backlog, async {
        let running = tokio::spawn(worker.run_until(async move {
            let _ = stopped.await;
            Ok::<(), std::io::Error>(())
        }));
        progress.finished.notified().await;
        // The last outcomes are still being written: the drain ends when they land.
        tracker.flushed().await;
        *progress.last.lock().expect("lock") = Some(Instant::now());
        let _ = stop.send(());
        running.await.expect("worker task").expect("worker");
    })
    .await;
    let first = progress.first.lock().expect("lock").expect("a first job");
    let last = progress.last.lock().expect("lock").expect("a last job");
    m.seconds = (last - first).as_secs_f64();
    world.flush().await;
    m
}

/// One row: what, then the figures (peak RSS only for a process of its own).
fn row(table: &mut Table, what: String, m: &Measured, rss_mb: Option<f64>) {
    table.row(vec![
        what,
        thousands(m.jobs as f64),
        format!("{:.2}", m.seconds),
        thousands(m.rate()),
        format!("{:.4}", m.cpu_per_job()),
        format!("{:.4}", m.redis_per_job()),
        rss_mb.map_or_else(String::new, |mb| format!("{mb:.1}")),
    ]);
}

/// The queue section's table; without `with_drains`, only the stream floor and the `mailroom
/// run` process rows (the `process` section, for a quick comparison of the two).
pub async fn throughput(world: &World, sizes: &Sizes, with_drains: bool) -> Table {
    let mut table = Table::new(&[
        "what",
        "backlog",
        "seconds",
        "jobs/s",
        "worker CPU-ms per job",
        "redis-server CPU-ms per job",
        "peak RSS MB",
    ]);
    // The rounds are interleaved (each runs the floor, every backlog and the process in turn),
    // so that a busy stretch of a shared machine weighs on all of them alike.
    let mut floors_run = Vec::new();
    let backlogs = if with_drains {
        &sizes.backlogs[..]
    } else {
        &[]
    };
    let mut drains = vec![Vec::new(); backlogs.len()];
    let mut processes = Vec::new();
    for _ in 0..sizes.rounds.max(1) {
        floors_run.push(floors::stream(world, sizes.process_jobs).await);
        for (runs, &backlog) in drains.iter_mut().zip(backlogs) {
            runs.push(drain(world, backlog).await);
        }
        processes.extend(crate::contenders::null_process(world, sizes.process_jobs).await);
    }
    let floor = floors::median_of(floors_run);
    row(
        &mut table,
        "stream floor: `XREADGROUP COUNT 256` + pipelined `XACK`/`XDEL`, no Lua, in process"
            .to_owned(),
        &floor,
        None,
    );
    let mut rates = Vec::new();
    for runs in drains {
        let m = floors::median_of(runs);
        rates.push(m.rate());
        row(
            &mut table,
            format!("no-op handler, concurrency {CONCURRENCY}, in process"),
            &m,
            None,
        );
    }
    if !rates.is_empty() {
        drains_note(&mut table, sizes, &floor, &rates);
    }
    if let Some(process) = crate::contenders::Summary::of(&processes, sizes.process_jobs) {
        let jobs = sizes.process_jobs;
        let m = Measured {
            jobs,
            seconds: jobs as f64 / process.rate,
            cpu_ms: (process.cpu_ms * jobs as f64) as u64,
            redis_cpu_ms: (process.redis_ms * jobs as f64) as u64,
        };
        row(
            &mut table,
            format!(
                "`mailroom run` process, `null` transport, concurrency {CONCURRENCY} \
                 (validation and MIME rendering included)"
            ),
            &m,
            Some(process.rss_mb),
        );
        table.note(format!(
            "`mailroom run` with the `null` transport: {:.0} % of the stream floor's rate \
             (target ≥ 40 %), {:.1}× its redis-server CPU per job; its time runs from the \
             process start to an empty queue, and each figure is the median of the rounds.",
            100.0 * m.rate() / floor.rate(),
            m.redis_per_job() / floor.redis_per_job(),
        ));
    }
    table
}

/// What the no-op drains' `rates` say: how flat across backlogs, and how near the stream floor.
fn drains_note(table: &mut Table, sizes: &Sizes, floor: &Measured, rates: &[f64]) {
    let (low, high) = rates
        .iter()
        .fold((f64::MAX, 0.0_f64), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    table.note(format!(
        "The handler records each job as sent and does nothing else: this is the queue's own \
         cost (fetch, start, outcome, acknowledgement). Each row of the floor and the drains \
         is the median of {} rounds, run interleaved. The slowest backlog ran at {:.0} % of the fastest \
         (target: within ±15 %). The fastest ran at {:.0} % of the stream floor (target \
         ≥ 50 %), the slowest at {:.0} %. The stream floor drains {} jobs of the same \
         payloads from a consumer group. CPU figures are user plus system time from /proc: \
         for the rows in process, this process's over the worker's run.",
        sizes.rounds,
        100.0 * low / high,
        100.0 * high / floor.rate(),
        100.0 * low / floor.rate(),
        thousands(floor.jobs as f64),
    ));
}
