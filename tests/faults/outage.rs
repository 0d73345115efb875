//! Redis killed and restarted (with its append-only file) under running workers and a producer
//! that keeps enqueueing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailroom_jobs::JobId;
use mailroom_queue::Queue;

use super::{
    MACHINE, assert_drained, fake_google, gmail_world, missing, numbered_job, wait_all_sent,
    wait_received,
};
use crate::common::google::Tally;
use crate::common::report::Report;
use crate::common::{Backing, Worker, enqueue_jobs, job_fields};

/// How long Redis stays down: well under the lease, so every outcome recorded meanwhile is
/// retried until it lands, and no delivery is taken over.
const OUTAGE: Duration = Duration::from_secs(1);

/// What the producer's enqueues returned.
#[derive(Debug, Default)]
pub(super) struct Produced {
    /// Jobs whose enqueue returned `Ok`.
    pub ok: Vec<JobId>,
    /// Jobs whose enqueue returned an error.
    pub failed: Vec<JobId>,
}

/// A service enqueueing one job every few milliseconds until stopped.
pub(super) struct Producer {
    produced: Arc<Mutex<Produced>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Producer {
    pub(super) fn start(queue: Queue) -> Self {
        let produced = Arc::new(Mutex::new(Produced::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let (produced, stop) = (produced.clone(), stop.clone());
            async move {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let job = numbered_job(1_000_000 + i, "Live");
                    i += 1;
                    let result = queue.enqueue(&job).await;
                    {
                        let mut p = produced.lock().unwrap();
                        match result {
                            Ok(e) => p.ok.push(e.id),
                            Err(_) => p.failed.push(job.id()),
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        });
        Self {
            produced,
            stop,
            task,
        }
    }

    /// (enqueues that returned Ok, enqueues that failed) so far.
    pub(super) fn counts(&self) -> (usize, usize) {
        let p = self.produced.lock().unwrap();
        (p.ok.len(), p.failed.len())
    }

    pub(super) async fn finish(self) -> Produced {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the producer ran");
        std::mem::take(&mut *self.produced.lock().unwrap())
    }
}

/// Waits until `check` holds, failing early if a worker exits.
pub(super) async fn wait_until(
    workers: &mut [&mut Worker],
    within: Duration,
    what: &str,
    mut check: impl FnMut(&[&mut Worker]) -> bool,
) {
    let deadline = Instant::now() + within;
    while !check(workers) {
        for w in workers.iter_mut() {
            w.assert_running();
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Redis killed in the middle of a run and started again on its append-only file: both
/// workers reconnect and finish, every enqueue that returned `Ok` is delivered exactly once,
/// and enqueues while Redis is away return errors (an errored enqueue that reached Redis
/// before the kill may still be delivered, once).
pub async fn redis_restart_mid_run(redis: Backing, preload: usize) {
    let _shared = MACHINE.read().await;
    let mut report = Report::start("Redis killed and restarted (AOF) mid-run", &redis);
    let google = fake_google();
    let mut env = gmail_world(
        redis,
        &google,
        "[worker]\nconcurrency = 16\n\n[queue]\nlease = \"8s\"",
    );
    let queue = env.queue().await;
    let mut ids = enqueue_jobs(&queue, preload).await;
    let mut a = env.worker("a", &[]);
    let mut b = env.worker("b", &[]);
    let producer = Producer::start(queue.clone());
    wait_received(
        &google,
        &mut [&mut a, &mut b],
        preload / 4,
        Duration::from_secs(120),
    )
    .await;

    report.set(
        "in_flight_at_kill",
        crate::common::stats(&queue).await.in_flight,
    );
    env.redis.kill();
    let killed = Instant::now();
    wait_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(30),
        "the producer to see Redis gone, for the length of the outage",
        |_| producer.counts().1 > 0 && killed.elapsed() >= OUTAGE,
    )
    .await;
    let (ok_at_restart, _) = producer.counts();
    env.redis.restart();
    let outage = killed.elapsed();
    wait_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(60),
        "50 enqueues to succeed after the restart",
        |_| producer.counts().0 >= ok_at_restart + 50,
    )
    .await;
    let produced = producer.finish().await;
    ids.extend(&produced.ok);
    wait_all_sent(
        &queue,
        &ids,
        &mut [&mut a, &mut b],
        Duration::from_secs(180),
    )
    .await;
    let logs: Vec<String> = [a, b].into_iter().map(Worker::stop).collect();

    // An enqueue that failed may have reached Redis before the kill (the answer was lost):
    // such a job is delivered like any other; the others never existed.
    let landed: Vec<JobId> = produced
        .failed
        .iter()
        .zip(job_fields(&queue, &produced.failed, &["state"]).await)
        .filter_map(|(id, row)| row[0].as_ref().map(|state| (*id, state.clone())))
        .map(|(id, state)| {
            assert_eq!(
                state, "sent",
                "a failed enqueue that landed is delivered: {id}"
            );
            id
        })
        .collect();
    let tally = Tally::of(&google);
    let expected = ids.len() + landed.len();
    report.set("jobs", expected);
    report.tally(&tally);
    report.set("dead", crate::common::stats(&queue).await.dead);
    report.set(
        "notes",
        format!(
            "down {:.1} s; {} enqueues refused ({} landed before the kill)",
            outage.as_secs_f64(),
            produced.failed.len(),
            landed.len()
        ),
    );
    println!(
        "Redis down for {outage:?}: {} enqueues ok, {} errors ({} of them landed before the \
         kill); received {}, unique {}, duplicates {}",
        produced.ok.len(),
        produced.failed.len(),
        landed.len(),
        tally.received,
        tally.unique(),
        tally.duplicates()
    );
    assert!(
        !produced.failed.is_empty(),
        "enqueues failed while Redis was down"
    );
    assert_eq!(
        missing(&tally, &ids),
        [],
        "jobs enqueued with Ok never received"
    );
    let twice: Vec<String> = ids
        .iter()
        .filter(|id| tally.times(**id) > 1)
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        (tally.received, tally.unique(), tally.duplicates()),
        (expected, expected, 0),
        "every job received exactly once; sent twice: {twice:?}; what the workers logged \
         about them:\n{}",
        logs.iter()
            .flat_map(|log| log.lines())
            .filter(|l| twice.iter().any(|id| l.contains(id.as_str())))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_drained(&queue, 0).await;
    assert_eq!(
        crate::common::stats(&queue).await.enqueued,
        u64::try_from(expected).unwrap(),
        "jobs created in Redis"
    );
}
