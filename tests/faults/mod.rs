//! The fault-injection scenarios, each written once against a [`Backing`] so the same code runs
//! on one `redis-server` (`tests/faults.rs`) and on a three-node cluster
//! (`tests/faults_cluster.rs`): a worker killed mid-run, Redis killed mid-run, undecodable
//! payloads amid valid jobs, SIGTERM with sends in flight, and a due backlog of a million.
//!
//! Each scenario runs real `mailroom run` processes against the fake Google (the `null`
//! transport for the backlog, which is about the queue), then checks what a user cares about:
//! what Gmail received, counted by `Message-ID` (a job's is the same on every attempt, so
//! duplicates = messages received − distinct ids), and what Redis says afterwards.
#![allow(dead_code)]

mod backlog;
mod outage;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use mailroom_jobs::JobId;
use mailroom_queue::Queue;
use mailroom_testkit::google::{FakeGoogle, FakeGoogleOptions, Fault, FaultRule, Quota};
use tokio::sync::RwLock;

use crate::common::google::{SENDER, Tally, gmail_env_on};
use crate::common::{Backing, Env, Worker, all_sent, enqueue_jobs, idle, job, job_fields, stats};

pub use backlog::due_backlog;
pub use outage::redis_restart_mid_run;

/// Scenarios share the machine, except the one that measures throughput: it takes this lock
/// for writing and so runs alone; every other scenario holds it for reading.
static MACHINE: RwLock<()> = RwLock::const_new(());

/// Limits far above anything a scenario sends, so Gmail's quota never paces a run.
const NO_QUOTA: &str = "[quota]\nsender_per_minute = 100000000\nsender_per_day = 100000000\n\
                        project_per_minute = 100000000\n";

/// A fake Google without usage limits.
fn fake_google() -> FakeGoogle {
    FakeGoogle::start_with(FakeGoogleOptions {
        quota: Quota::unlimited(),
        ..FakeGoogleOptions::default()
    })
}

/// Waits until the fake has accepted at least `n` messages, failing early if a worker exits.
async fn wait_received(
    google: &FakeGoogle,
    workers: &mut [&mut Worker],
    n: usize,
    within: Duration,
) {
    let deadline = Instant::now() + within;
    while google.sent().len() < n {
        for w in workers.iter_mut() {
            w.assert_running();
        }
        assert!(
            Instant::now() < deadline,
            "the fake received {} of {n} messages within {within:?}",
            google.sent().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until every one of `ids` is recorded as sent and nothing is left ready, scheduled or
/// in flight, failing early if a worker exits.
async fn wait_all_sent(
    queue: &Queue,
    ids: &[JobId],
    workers: &mut [&mut Worker],
    within: Duration,
) {
    let deadline = Instant::now() + within;
    loop {
        for w in workers.iter_mut() {
            w.assert_running();
        }
        if idle(queue).await && all_sent(queue, ids).await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not every job was sent within {within:?}: {:?}, {:?}",
            stats(queue).await,
            crate::common::state_counts(queue, ids).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asserts that the queue is empty: nothing ready, scheduled or in flight, and `dead` dead
/// letters.
async fn assert_drained(queue: &Queue, dead: u64) {
    let s = stats(queue).await;
    assert_eq!(
        (s.ready, s.scheduled, s.in_flight, s.dead),
        (0, 0, 0, dead),
        "ready, scheduled, in flight, dead: {s:?}"
    );
}

/// The jobs among `ids` whose message the fake never received.
fn missing(tally: &Tally, ids: &[JobId]) -> Vec<JobId> {
    ids.iter()
        .copied()
        .filter(|id| tally.times(*id) == 0)
        .collect()
}

/// SIGKILL of a worker in the middle of a run, then a new worker: every job is received and
/// recorded as sent, and the only messages received twice are jobs that were in flight at the
/// kill.
pub async fn sigkill_mid_run_then_restart(redis: Backing, jobs: usize) {
    let _shared = MACHINE.read().await;
    let google = fake_google();
    let env = gmail_world(
        redis,
        &google,
        "[worker]\nconcurrency = 64\n\n[queue]\nlease = \"2s\"",
    );
    let queue = env.queue().await;
    let ids = enqueue_jobs(&queue, jobs).await;

    let mut doomed = env.worker("doomed", &[]);
    wait_received(
        &google,
        &mut [&mut doomed],
        jobs / 3,
        Duration::from_secs(120),
    )
    .await;
    doomed.crash();
    let records = job_fields(&queue, &ids, &["state"]).await;
    let in_flight: HashSet<JobId> = ids
        .iter()
        .zip(&records)
        .filter(|(_, row)| row[0].as_deref() == Some("in_flight"))
        .map(|(id, _)| *id)
        .collect();
    let pending = stats(&queue).await.in_flight;
    let received_at_kill = google.sent().len();
    assert!(
        received_at_kill < jobs,
        "the worker was killed before it finished"
    );
    assert!(!in_flight.is_empty(), "the kill left deliveries in flight");

    let mut rescuer = env.worker("rescuer", &[]);
    wait_all_sent(&queue, &ids, &mut [&mut rescuer], Duration::from_secs(300)).await;
    rescuer.stop();

    let tally = Tally::of(&google);
    println!(
        "SIGKILL after {received_at_kill} of {jobs} messages: {} jobs in flight at the kill \
         ({pending} stream entries pending); received {}, unique {}, duplicates {}",
        in_flight.len(),
        tally.received,
        tally.unique(),
        tally.duplicates()
    );
    assert_eq!(missing(&tally, &ids), [], "jobs never received");
    assert_eq!(
        tally.unique(),
        jobs,
        "only the jobs' messages were received"
    );
    let twice: Vec<JobId> = ids
        .iter()
        .copied()
        .filter(|id| tally.times(*id) > 1)
        .collect();
    assert_eq!(
        tally.duplicates(),
        twice.len(),
        "no job was received three times"
    );
    assert!(
        twice.iter().all(|id| in_flight.contains(id)),
        "only jobs in flight at the kill may be sent twice: {twice:?}"
    );
    assert_drained(&queue, 0).await;
}

/// Undecodable payloads pushed straight into Redis amid valid jobs: each is dead-lettered with
/// a reason naming what is wrong, every valid job is received exactly once, and the worker
/// never stops.
pub async fn malformed_payloads_amid_valid_jobs(redis: Backing, valid: usize) {
    let _shared = MACHINE.read().await;
    let google = fake_google();
    let env = gmail_world(redis, &google, "[worker]\nconcurrency = 64");
    let queue = env.queue().await;
    // What a service in another language might push without validating; each entry is the
    // job id, its payload, and what the dead-letter reason must say.
    let bad_id = JobId::new();
    let unknown_version = JobId::new();
    let no_subject = JobId::new();
    let broken: [(String, String, &str); 4] = [
        (
            bad_id.to_string(),
            "{not json".to_owned(),
            "malformed payload: ",
        ),
        (
            unknown_version.to_string(),
            format!(
                r#"{{"version":"v9","from":"{SENDER}","to":["a@example.org"],"subject":"Hi","text":"x"}}"#
            ),
            "unknown version \"v9\"",
        ),
        (
            no_subject.to_string(),
            format!(r#"{{"version":"v1","from":"{SENDER}","to":["a@example.org"],"text":"x"}}"#),
            "missing field `subject`",
        ),
        (
            "not-a-job-id".to_owned(),
            format!(
                r#"{{"version":"v1","from":"{SENDER}","to":["a@example.org"],"subject":"Hi","text":"x"}}"#
            ),
            "malformed job id \"not-a-job-id\"",
        ),
    ];
    // Valid jobs before, between and after the broken ones, so they share fetch batches.
    let mut ids = enqueue_jobs(&queue, valid / 2).await;
    let mut conn = queue.connection();
    for (i, (id, payload, _)) in broken.iter().enumerate() {
        let () = redis::cmd("HSET")
            .arg(queue.key(&format!("job:{id}")))
            .arg(&[
                ("payload", payload.as_str()),
                ("state", "queued"),
                ("attempts", "0"),
            ])
            .query_async(&mut conn)
            .await
            .expect("push a broken job record");
        let _: String = redis::cmd("XADD")
            .arg(queue.key("ready"))
            .arg("*")
            .arg("id")
            .arg(id)
            .query_async(&mut conn)
            .await
            .expect("push its stream entry");
        let between = if i + 1 == broken.len() {
            valid - ids.len()
        } else {
            10
        };
        ids.extend(enqueue_jobs(&queue, between).await);
    }
    assert_eq!(ids.len(), valid);

    let mut worker = env.worker("w", &[]);
    wait_all_sent(&queue, &ids, &mut [&mut worker], Duration::from_secs(120)).await;
    worker.assert_running();
    let log = worker.stop();

    let tally = Tally::of(&google);
    let dead = stats(&queue).await.dead;
    println!(
        "{} broken payloads amid {valid} valid jobs: received {}, unique {}, duplicates {}, \
         dead {dead}",
        broken.len(),
        tally.received,
        tally.unique(),
        tally.duplicates()
    );
    assert_eq!(missing(&tally, &ids), [], "valid jobs never received");
    assert_eq!(
        (tally.received, tally.unique(), tally.duplicates()),
        (valid, valid, 0),
        "every valid job is received exactly once, and nothing else"
    );
    assert_drained(&queue, broken.len() as u64).await;
    let mut conn = queue.connection();
    for (id, _, why) in &broken {
        let (state, reason): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(queue.key(&format!("job:{id}")))
            .arg(&["state", "last_error"])
            .query_async(&mut conn)
            .await
            .expect("read a broken job's record");
        let reason = reason.unwrap_or_default();
        assert_eq!(state.as_deref(), Some("dead"), "{id}: {reason}");
        assert!(reason.contains(why), "{id}: {reason:?} should say {why:?}");
        let in_dead: Option<f64> = redis::cmd("ZSCORE")
            .arg(queue.key("dead"))
            .arg(id)
            .query_async(&mut conn)
            .await
            .expect("read the dead-letter set");
        assert!(in_dead.is_some(), "{id} is in the dead-letter set");
    }
    assert!(
        log.contains("dead-lettering undecodable job"),
        "the worker logged the dead letters:\n{log}"
    );
}

/// SIGTERM while 64 sends wait on a slow Gmail (2 s each): the worker lets them finish,
/// hands back the rest, and exits 0 inside its grace; a second worker sends the rest, and no
/// job is received twice.
pub async fn sigterm_with_sends_in_flight(redis: Backing, jobs: usize) {
    const CONCURRENCY: usize = 64;
    const GRACE: Duration = Duration::from_secs(10);
    let _shared = MACHINE.read().await;
    let google = fake_google();
    google.inject(FaultRule::send(Fault::Latency(Duration::from_secs(2))));
    let env = gmail_world(
        redis,
        &google,
        &format!(
            "[worker]\nconcurrency = {CONCURRENCY}\nshutdown_grace = \"{}s\"",
            GRACE.as_secs()
        ),
    );
    let queue = env.queue().await;
    let ids = enqueue_jobs(&queue, jobs).await;

    let mut worker = env.worker("slow", &[]);
    // Sends the fake has taken in and not yet answered.
    let waiting = |g: &FakeGoogle| usize::try_from(g.send_attempts()).unwrap() - g.sent().len();
    let deadline = Instant::now() + Duration::from_secs(60);
    while waiting(&google) < CONCURRENCY {
        worker.assert_running();
        assert!(
            Instant::now() < deadline,
            "{} sends under way",
            waiting(&google)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let in_flight = waiting(&google);
    let took = worker.terminate_cleanly(GRACE + Duration::from_secs(10));
    assert!(
        took < GRACE,
        "stopping took {took:?}, longer than the {GRACE:?} grace"
    );
    let lines = worker.log_lines();
    let stopped = lines
        .iter()
        .find(|l| l["message"] == "worker stopped")
        .expect("a stopped line");
    assert_eq!(stopped["drained"], true, "the sends finished: {stopped}");

    let before = Tally::of(&google);
    let s = stats(&queue).await;
    let counts = crate::common::state_counts(&queue, &ids).await;
    println!(
        "SIGTERM with {in_flight} sends in flight: exited 0 after {took:?}; received {}, \
         unique {}, {counts:?}",
        before.received,
        before.unique()
    );
    assert_eq!(
        u64::try_from(before.received).unwrap(),
        google.send_attempts(),
        "every send that reached Gmail was answered before the exit"
    );
    assert!(
        before.received >= in_flight,
        "the {in_flight} sends in flight at SIGTERM finished"
    );
    assert_eq!(
        counts.get("sent").copied().unwrap_or(0),
        before.received,
        "{counts:?}"
    );
    assert_eq!(
        counts.get("queued").copied().unwrap_or(0),
        jobs - before.received,
        "the rest went back to the queue: {counts:?}"
    );
    assert_eq!((s.in_flight, s.workers), (0, 0), "{s:?}");

    google.clear_faults();
    let mut second = env.worker("second", &[]);
    wait_all_sent(&queue, &ids, &mut [&mut second], Duration::from_secs(120)).await;
    second.stop();
    let tally = Tally::of(&google);
    println!(
        "after a second worker: received {}, unique {}, duplicates {}",
        tally.received,
        tally.unique(),
        tally.duplicates()
    );
    assert_eq!(missing(&tally, &ids), [], "jobs never received");
    assert_eq!(
        (tally.received, tally.unique(), tally.duplicates()),
        (jobs, jobs, 0)
    );
    assert_drained(&queue, 0).await;
}

/// A world on `redis` whose workers send through the fake Google without usage limits, with
/// `extra` TOML (sections other than `[quota]`).
fn gmail_world(redis: Backing, google: &FakeGoogle, extra: &str) -> Env {
    gmail_env_on(redis, google, &format!("{extra}\n\n{NO_QUOTA}"))
}

/// A job from `SENDER` to a recipient of its own.
fn numbered_job(i: usize, subject: &str) -> mailroom_jobs::EmailJob {
    job(SENDER, &format!("user{i}@example.org"), subject)
}
