//! A backlog of jobs all due at once: the worker drains it at the rate it drains a small one.
//!
//! Rates are measured from the jobs' own `finished_at` (ms, written by the worker when it
//! records the outcome), over windows of the same number of jobs in both runs, leaving out
//! each run's start and end. The small run is repeated before and after the big one, and
//! medians are compared, so a noisy moment on a shared machine moves neither side much.

use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use mailroom_jobs::{EmailJob, JobId};
use mailroom_queue::Queue;

use super::MACHINE;
use crate::common::google::SENDER;
use crate::common::{Backing, Env, Worker, job_fields, stats};

/// Jobs in the reference run.
const SMALL: usize = 1_000;
/// Jobs per rate window: the small run's middle 80 %.
const WINDOW: usize = 800;
/// Reference runs, half before and half after the big one.
const SMALL_RUNS: usize = 6;
/// Lowest accepted ratio of the big run's rate to the small run's.
const MIN_RATIO: f64 = 0.8;

/// A job to a recipient of its own, due at `due`.
fn due_job(i: usize, due: DateTime<Utc>) -> EmailJob {
    let json = serde_json::json!({
        "version": "v1", "from": SENDER, "to": [format!("user{i}@example.org")],
        "subject": "Due", "text": "Hello there",
        "send_at": due.to_rfc3339_opts(SecondsFormat::Millis, true),
    });
    EmailJob::from_json(json.to_string().as_bytes()).expect("valid job")
}

/// One run: `n` jobs enqueued in batches of 1,000, all due at the same instant, which is
/// past by the time the worker may start on them.
struct Run {
    ids: Vec<JobId>,
    /// How long enqueueing took.
    enqueueing: Duration,
    /// Every job's `finished_at`, sorted.
    finished: Vec<i64>,
}

impl Run {
    /// Jobs per second over `WINDOW` jobs starting at job `from` (in finishing order).
    fn rate_from(&self, from: usize) -> f64 {
        let ms = (self.finished[from + WINDOW] - self.finished[from]).max(1);
        #[allow(clippy::cast_precision_loss)]
        let rate = WINDOW as f64 * 1000.0 / ms as f64;
        rate
    }

    /// The rates of consecutive windows between the first and last 10 % of the jobs
    /// (for the small run: one window, its middle 800 jobs).
    fn window_rates(&self) -> Vec<f64> {
        let n = self.finished.len();
        (n / 10..)
            .step_by(WINDOW)
            .take_while(|from| from + WINDOW <= n - n / 10)
            .map(|from| self.rate_from(from))
            .collect()
    }

    /// Jobs per second from the first outcome to the last.
    fn overall_rate(&self) -> f64 {
        let ms = (self.finished[self.finished.len() - 1] - self.finished[0]).max(1);
        #[allow(clippy::cast_precision_loss)]
        let rate = self.finished.len() as f64 * 1000.0 / ms as f64;
        rate
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    assert!(!xs.is_empty(), "no rate to take the median of");
    xs.sort_by(f64::total_cmp);
    let mid = xs.len() / 2;
    if xs.len().is_multiple_of(2) {
        f64::midpoint(xs[mid - 1], xs[mid])
    } else {
        xs[mid]
    }
}

/// Enqueues `n` jobs due `lead` from now, waits until the worker has finished them all and
/// checks that each is recorded as sent. With `fresh`, one job for immediate sending is
/// enqueued once a tenth of the backlog is done; it must not wait behind the rest of the
/// backlog.
async fn due_run(queue: &Queue, worker: &mut Worker, n: usize, lead: Duration, fresh: bool) -> Run {
    let due = Utc::now() + lead;
    let enqueueing = Instant::now();
    let mut ids = Vec::with_capacity(n);
    for start in (0..n).step_by(1_000) {
        let jobs: Vec<EmailJob> = (start..(start + 1_000).min(n))
            .map(|i| due_job(i, due))
            .collect();
        let enqueued = queue.enqueue_many(&jobs).await.expect("enqueue");
        ids.extend(enqueued.into_iter().map(|e| e.id));
    }
    let enqueueing = enqueueing.elapsed();
    let s = stats(queue).await;
    assert!(
        Utc::now() < due,
        "enqueueing {n} jobs took longer than {lead:?}: the run would not start with all due"
    );
    assert_eq!(
        (s.scheduled, s.ready, s.in_flight),
        (n as u64, 0, 0),
        "all waiting in the schedule: {s:?}"
    );

    let within = lead + Duration::from_secs(60) + Duration::from_micros(500 * n as u64);
    let deadline = Instant::now() + within;
    let mut fresh_id = None;
    loop {
        worker.assert_running();
        let s = stats(queue).await;
        let left = s.scheduled + s.ready + s.in_flight;
        if left == 0 {
            break;
        }
        if fresh && fresh_id.is_none() && left <= (n - n / 10) as u64 {
            let job = crate::common::job(SENDER, "fresh@example.org", "Fresh");
            fresh_id = Some(queue.enqueue(&job).await.expect("enqueue").id);
        }
        assert!(
            Instant::now() < deadline,
            "the backlog of {n} is stuck after {within:?}: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let rows = job_fields(queue, &ids, &["state", "finished_at"]).await;
    let mut finished = Vec::with_capacity(n);
    for (id, row) in ids.iter().zip(rows) {
        assert_eq!(row[0].as_deref(), Some("sent"), "job {id}");
        finished.push(
            row[1]
                .as_deref()
                .and_then(|t| t.parse::<i64>().ok())
                .expect("finished_at"),
        );
    }
    finished.sort_unstable();
    if let Some(id) = fresh_id {
        let row = job_fields(queue, &[id], &["state", "finished_at"]).await;
        assert_eq!(row[0][0].as_deref(), Some("sent"), "the fresh job {id}");
        let at: i64 = row[0][1].as_deref().unwrap().parse().unwrap();
        let behind = finished.partition_point(|t| *t < at);
        println!("a job enqueued with {n} due went out after {behind} of them");
        assert!(
            behind < n / 2,
            "a job enqueued for now waited behind {behind} of {n} due jobs"
        );
    }
    Run {
        ids,
        enqueueing,
        finished,
    }
}

/// `big` jobs due at once (the reduced size, or 1,000,000 under `MAILROOM_FAULTS=full`) drain
/// without a wedge, at least 80 % as fast as 1,000 due jobs through the same worker (the
/// `null` transport, so the queue is what is measured).
pub async fn due_backlog(redis: Backing, big: usize) {
    let _alone = MACHINE.write().await;
    let env = Env::on(
        redis,
        "[transport]\nkind = \"null\"\n\n[worker]\nconcurrency = 64\n",
    );
    let queue = env.queue().await;
    let mut worker = env.worker("steady", &[]);

    // The first run warms up the worker, Redis and the scripts; it is not counted. It also
    // tells how long the other runs need to enqueue their jobs before these are due.
    let warm_up = due_run(&queue, &mut worker, SMALL, Duration::from_secs(2), false).await;
    // A big batch enqueues more slowly per job than the warm-up (a bigger keyspace), so its
    // lead is more generous.
    let lead = |n: usize| {
        let factor = if n > SMALL { 3 } else { 2 };
        Duration::from_secs(1) + warm_up.enqueueing * u32::try_from(factor * n / SMALL).unwrap()
    };
    let mut small = Vec::new();
    for _ in 0..SMALL_RUNS / 2 {
        let run = due_run(&queue, &mut worker, SMALL, lead(SMALL), false).await;
        small.extend(run.window_rates());
    }
    let started = Instant::now();
    let backlog = due_run(&queue, &mut worker, big, lead(big), true).await;
    let drained_in = started.elapsed();
    for _ in 0..SMALL_RUNS / 2 {
        let run = due_run(&queue, &mut worker, SMALL, lead(SMALL), false).await;
        small.extend(run.window_rates());
    }
    worker.stop();

    let big_windows = backlog.window_rates();
    // A rate that depends on how much of the backlog is left shows as a difference between
    // its first and last quarter.
    let quarter = (big_windows.len() / 4).max(1);
    let (first, last) = (
        median(big_windows[..quarter].to_vec()),
        median(big_windows[big_windows.len() - quarter..].to_vec()),
    );
    let small_rate = median(small.clone());
    let big_rate = median(big_windows.clone());
    let ratio = big_rate / small_rate;
    println!(
        "{big} due jobs (enqueued in {:?}): drained in {drained_in:?} (overall {:.0} jobs/s), median {big_rate:.0} \
         jobs/s over {} windows of {WINDOW} (min {:.0}, max {:.0}; first quarter {first:.0}, \
         last quarter {last:.0}); {SMALL} due jobs: median \
         {small_rate:.0} jobs/s of {small:.0?}; ratio {ratio:.2}",
        backlog.enqueueing,
        backlog.overall_rate(),
        big_windows.len(),
        big_windows.iter().copied().fold(f64::INFINITY, f64::min),
        big_windows.iter().copied().fold(0.0, f64::max),
    );
    assert_eq!(backlog.ids.len(), big);
    let s = stats(&queue).await;
    assert_eq!(
        (s.ready, s.scheduled, s.in_flight, s.dead),
        (0, 0, 0, 0),
        "{s:?}"
    );
    assert!(
        ratio >= MIN_RATIO,
        "{big} due jobs drained at {big_rate:.0} jobs/s, {ratio:.2} of the {small_rate:.0} \
         jobs/s of {SMALL}"
    );
}
