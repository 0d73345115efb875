//! Queue throughput: a backlog drained by a worker whose handler does nothing but record the
//! job as sent, at three backlog sizes; and the real `mailroom` process with the `null`
//! transport, which adds validation and MIME rendering.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apalis::prelude::*;
use mailroom_jobs::EmailJob;
use mailroom_queue::{Lease, Queue, QueueConfig, RedisBackend};

use crate::report::{Table, rate, thousands};
use crate::world::{World, fill};

const BACKLOGS: [usize; 3] = [1_000, 100_000, 1_000_000];
const CONCURRENCY: usize = 64;
const PROCESS_JOBS: usize = 100_000;

/// When the first and the last of `target` jobs were recorded.
#[derive(Clone)]
struct Progress {
    done: Arc<AtomicUsize>,
    target: usize,
    first: Arc<Mutex<Option<Instant>>>,
    last: Arc<Mutex<Option<Instant>>>,
    finished: Arc<tokio::sync::Notify>,
}

async fn noop(_job: EmailJob, lease: Lease, progress: Data<Progress>) -> Result<(), BoxDynError> {
    lease.sent(None, None).await?;
    let now = Instant::now();
    progress.first.lock().expect("lock").get_or_insert(now);
    if progress.done.fetch_add(1, Ordering::Relaxed) + 1 == progress.target {
        *progress.last.lock().expect("lock") = Some(now);
        progress.finished.notify_one();
    }
    Ok(())
}

async fn drain(world: &World, backlog: usize) -> Duration {
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
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = WorkerBuilder::new("bench")
        .backend(backend)
        .concurrency(CONCURRENCY)
        .data(progress.clone())
        .build(noop);
    let running = tokio::spawn(worker.run_until(async move {
        let _ = stopped.await;
        Ok::<(), std::io::Error>(())
    }));
    progress.finished.notified().await;
    let _ = stop.send(());
    running.await.expect("worker task").expect("worker");
    let first = progress.first.lock().expect("lock").expect("a first job");
    let last = progress.last.lock().expect("lock").expect("a last job");
    world.flush().await;
    last - first
}

pub async fn throughput(world: &World) -> Table {
    let mut table = Table::new(&["what", "backlog", "seconds", "jobs/s"]);
    let mut rates = Vec::new();
    for backlog in BACKLOGS {
        let took = drain(world, backlog).await;
        rates.push(rate(backlog, took));
        table.row(vec![
            format!("no-op handler, concurrency {CONCURRENCY}, in process"),
            thousands(backlog as f64),
            format!("{:.2}", took.as_secs_f64()),
            thousands(rate(backlog, took)),
        ]);
    }
    let (low, high) = rates
        .iter()
        .fold((f64::MAX, 0.0_f64), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    table.note(format!(
        "The handler records each job as sent and does nothing else: this is the queue's own \
         cost (fetch, start, outcome, acknowledgement). The slowest backlog ran at {:.0} % of \
         the fastest.",
        100.0 * low / high
    ));
    if let Some(process) = crate::contenders::null_process(world, PROCESS_JOBS).await {
        table.row(vec![
            format!(
                "`mailroom run` process, `null` transport, concurrency {CONCURRENCY} \
                 (validation and MIME rendering included)"
            ),
            thousands(PROCESS_JOBS as f64),
            format!("{:.2}", process.seconds),
            thousands(PROCESS_JOBS as f64 / process.seconds),
        ]);
        table.note(format!(
            "`mailroom run` with the `null` transport: peak RSS {:.1} MB, {:.3} CPU-ms per job.",
            process.max_rss_kb as f64 / 1024.0,
            process.cpu_ms as f64 / PROCESS_JOBS as f64
        ));
    }
    table
}
