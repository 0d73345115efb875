//! A backlog of jobs all due at once: it drains without a wedge, every job is sent, and a job
//! enqueued for immediate sending while the backlog drains goes out after a bounded number of
//! backlog jobs, not behind the rest of it.
//!
//! How fast the backlog drains, and whether that depends on its size, is a benchmark
//! (`make bench`, queue throughput at 1,000 / 100,000 / 1,000,000 due jobs), not an assertion:
//! this scenario prints its rate and asserts counts only.

use std::time::{Duration, Instant};

use chrono::{SecondsFormat, Utc};
use mailroom_jobs::{EmailJob, JobId};
use mailroom_queue::Queue;

use super::MACHINE;
use crate::common::google::SENDER;
use crate::common::report::Report;
use crate::common::{Backing, Env, Worker, eventually, job_fields, stats};

/// The worker's concurrency (`worker.concurrency`) in this scenario.
const CONCURRENCY: usize = 64;
/// Jobs read per fetch while the queue keeps up (`queue.batch`, the default).
const BATCH: usize = 128;
/// Most jobs read per fetch while a backlog waits (`queue.batch_max`, the default).
const BATCH_MAX: usize = 512;
/// Due jobs moved to the ready stream per promotion (`queue.promote_batch`, the default).
const PROMOTE_BATCH: usize = 1_000;
/// Workers draining the backlog.
const WORKERS: usize = 1;

/// The most backlog jobs that may go out after a job is enqueued for immediate sending and
/// before that job does, by the protocol's design:
///
/// * ahead of it in the ready stream: fewer than two promote windows. `promote.lua` moves due
///   jobs only while fewer than `promote_batch` entries wait undelivered, and at most
///   `promote_batch` per call, so fewer than 2 × `promote_batch` wait; the new job is appended
///   behind them (`XADD`), and the stream is read in entry order;
/// * already delivered to a worker and not yet finished: per worker, `concurrency` in its
///   handlers (a handler waits for its outcome to be recorded), and up to three reads fetched
///   but not started (the next read starts once at most one read's worth is left, and a full
///   read has the one after it read ahead while it starts), each of at most `batch_max` jobs,
///   so at most 3 × `batch_max`;
/// * delivered after it but finished first: at most the other `concurrency` − 1 handlers of
///   its worker while it is in its own.
///
/// With one worker, concurrency 64, batch_max 512 and promote_batch 1,000: 3,664.
const STARVATION_BOUND: usize = 2 * PROMOTE_BATCH + WORKERS * (2 * CONCURRENCY + 3 * BATCH_MAX);

/// How far ahead of its enqueue each batch of the backlog is scheduled: far enough that every
/// job lands in the schedule (a job due by the time its enqueue runs would go straight to the
/// ready stream), however slow one enqueue of 1,000 jobs is on a busy machine.
const LEAD: Duration = Duration::from_secs(5);

/// A job to a recipient of its own, due at `due`.
fn due_job(i: usize, due: chrono::DateTime<Utc>) -> EmailJob {
    let json = serde_json::json!({
        "version": "v1", "from": SENDER, "to": [format!("user{i}@example.org")],
        "subject": "Due", "text": "Hello there",
        "send_at": due.to_rfc3339_opts(SecondsFormat::Millis, true),
    });
    EmailJob::from_json(json.to_string().as_bytes()).expect("valid job")
}

/// Enqueues `n` jobs in batches of 1,000, each batch due [`LEAD`] after its enqueue, while no
/// worker runs; then waits until the whole backlog is due. Returns the ids.
async fn schedule_backlog(queue: &Queue, n: usize) -> Vec<JobId> {
    let mut ids = Vec::with_capacity(n);
    for start in (0..n).step_by(1_000) {
        let due = Utc::now() + LEAD;
        let jobs: Vec<EmailJob> = (start..(start + 1_000).min(n))
            .map(|i| due_job(i, due))
            .collect();
        let enqueued = queue.enqueue_many(&jobs).await.expect("enqueue");
        ids.extend(enqueued.into_iter().map(|e| e.id));
    }
    let s = stats(queue).await;
    assert_eq!(
        (s.scheduled, s.ready, s.in_flight),
        (n as u64, 0, 0),
        "all waiting in the schedule: {s:?}"
    );
    let scheduled = queue.key("scheduled");
    eventually(LEAD * 2, "the whole backlog to be due", || {
        let mut conn = queue.connection();
        let scheduled = scheduled.clone();
        async move {
            let due: u64 = redis::cmd("ZCOUNT")
                .arg(&scheduled)
                .arg("-inf")
                .arg(Utc::now().timestamp_millis())
                .query_async(&mut conn)
                .await
                .expect("count the due jobs");
            due == n as u64
        }
    })
    .await;
    ids
}

/// Waits until nothing is left ready, scheduled or in flight; once a tenth of the backlog of
/// `n` has gone, enqueues one job for immediate sending and returns its id.
async fn drain_with_a_fresh_job(queue: &Queue, worker: &mut Worker, n: usize) -> JobId {
    let within = Duration::from_secs(120) + Duration::from_millis(2 * n as u64);
    let deadline = Instant::now() + within;
    let mut fresh = None;
    loop {
        worker.assert_running();
        let s = stats(queue).await;
        let left = s.scheduled + s.ready + s.in_flight;
        if left == 0 {
            break;
        }
        if fresh.is_none() && left <= (n - n / 10) as u64 {
            let job = crate::common::job(SENDER, "fresh@example.org", "Fresh");
            fresh = Some(queue.enqueue(&job).await.expect("enqueue").id);
        }
        assert!(
            Instant::now() < deadline,
            "the backlog of {n} is stuck after {within:?}: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    fresh.expect("the fresh job was enqueued before the backlog drained")
}

/// Field `i` of a record as a number of milliseconds.
fn ms(row: &[Option<String>], i: usize, what: &str) -> i64 {
    row[i]
        .as_deref()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{what} in {row:?}"))
}

/// `big` jobs due at once (the reduced size, or 1,000,000 under `MAILROOM_FAULTS=full`) drain
/// without a wedge through one worker (the `null` transport: this is about the queue), every
/// one recorded as sent, and a job enqueued for now while they drain goes out after at most
/// [`STARVATION_BOUND`] of them.
pub async fn due_backlog(redis: Backing, big: usize) {
    // Alone on the machine: a million jobs in Redis beside the other scenarios would only slow
    // them, and the rate this prints would describe the neighbours.
    let _alone = MACHINE.write().await;
    let mut report = Report::start("due backlog, and a job for now", &redis);
    report.set("jobs", big + 1);
    let env = Env::on(
        redis,
        &format!(
            "[transport]\nkind = \"null\"\n\n[worker]\nconcurrency = {CONCURRENCY}\n\n\
             [queue]\nbatch = {BATCH}\nbatch_max = {BATCH_MAX}\npromote_batch = {PROMOTE_BATCH}\n"
        ),
    );
    let queue = env.queue().await;
    let enqueueing = Instant::now();
    let ids = schedule_backlog(&queue, big).await;
    let enqueued_in = enqueueing.elapsed();

    let mut worker = env.worker("steady", &[]);
    let started = Instant::now();
    let fresh = drain_with_a_fresh_job(&queue, &mut worker, big).await;
    let drained_in = started.elapsed();
    worker.stop();

    let rows = job_fields(&queue, &ids, &["state", "finished_at"]).await;
    let mut finished = Vec::with_capacity(big);
    let mut sent = 0;
    for (id, row) in ids.iter().zip(&rows) {
        if row[0].as_deref() == Some("sent") {
            sent += 1;
        }
        finished.push(ms(row, 1, &format!("finished_at of {id}")));
    }
    finished.sort_unstable();
    let fresh_row = &job_fields(&queue, &[fresh], &["state", "created_at", "finished_at"]).await[0];
    let (enqueued_at, fresh_done) = (
        ms(fresh_row, 1, "the fresh job's created_at"),
        ms(fresh_row, 2, "the fresh job's finished_at"),
    );
    // Backlog jobs that went out after the fresh job was enqueued and before it went out.
    // Timestamps are whole milliseconds, and one script call records a batch of outcomes at
    // one instant: outcomes recorded in the millisecond of the enqueue, or with the fresh
    // job's, cannot be placed before or after it, and are not counted.
    let overtook = finished
        .partition_point(|t| *t < fresh_done)
        .saturating_sub(finished.partition_point(|t| *t <= enqueued_at));
    let s = stats(&queue).await;
    #[allow(clippy::cast_precision_loss)]
    let rate = big as f64 / (finished[big - 1] - finished[0]).max(1) as f64 * 1000.0;
    println!(
        "{big} due jobs (enqueued in {enqueued_in:?}): drained in {drained_in:?}, {rate:.0} \
         jobs/s from the first outcome to the last; a job enqueued for now with {} of them \
         left went out after {overtook} more (bound {STARVATION_BOUND})",
        finished.len() - finished.partition_point(|t| *t <= enqueued_at),
    );
    report.set(
        "received",
        sent + usize::from(fresh_row[0].as_deref() == Some("sent")),
    );
    report.set("dead", s.dead);
    report.set(
        "notes",
        format!(
            "the job for now went out after {overtook} backlog jobs (bound {STARVATION_BOUND}); \
             {rate:.0} jobs/s"
        ),
    );

    assert_eq!(sent, big, "backlog jobs recorded as sent");
    assert_eq!(
        fresh_row[0].as_deref(),
        Some("sent"),
        "the fresh job {fresh}"
    );
    assert_eq!(
        (s.ready, s.scheduled, s.in_flight, s.dead),
        (0, 0, 0, 0),
        "{s:?}"
    );
    assert!(
        overtook <= STARVATION_BOUND,
        "a job enqueued for now went out after {overtook} backlog jobs, more than the \
         {STARVATION_BOUND} the protocol allows: 2 promote windows of {PROMOTE_BATCH}, plus \
         per worker ({WORKERS}) 2 × concurrency {CONCURRENCY} + 3 × reads of {BATCH_MAX}"
    );
}
