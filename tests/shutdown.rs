//! Stopping a worker, cleanly or not, loses no job. What happened is read from the outbox and
//! the queue, not from the worker's log.

mod common;

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;
use std::time::Duration;

use common::{Env, enqueue_jobs, eventually, in_flight, job_fields, states, stats};
use mailroom_queue::JobState;

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_in_flight_sends_and_exits_0_losing_nothing() {
    let env = Env::new(
        "[worker]\nconcurrency = 128\nshutdown_grace = \"20s\"\n\n[queue]\nbatch = 64\nblock = \"200ms\"\n",
    );
    let queue = env.queue().await;
    let ids = enqueue_jobs(&queue, 6000).await;

    let mut worker = env.worker("drain", &[]);
    env.wait_for_outbox(&mut worker, 200, Duration::from_secs(60));
    let written_at_sigterm = env.outbox_files().len();
    let took = worker.terminate_cleanly(Duration::from_secs(30));
    assert!(
        took < Duration::from_secs(20),
        "stopping took {took:?}, longer than the grace"
    );

    let s = stats(&queue).await;
    assert_eq!(s.in_flight, 0, "nothing left in flight: {s:?}");
    assert_eq!(s.workers, 0, "the worker deregistered: {s:?}");
    let all = states(&queue, &ids).await;
    let sent = all.iter().filter(|s| **s == Some(JobState::Sent)).count();
    let queued = all.iter().filter(|s| **s == Some(JobState::Queued)).count();
    println!(
        "SIGTERM after {written_at_sigterm} messages: {sent} sent, {queued} back in the queue, \
         stopped in {took:?}"
    );
    assert_eq!(
        sent + queued,
        ids.len(),
        "every job is sent or queued: {:?}",
        all.iter().collect::<HashSet<_>>()
    );
    assert!(
        queued > 0,
        "the test should stop the worker before it finishes"
    );
    assert_eq!(s.ready as usize, queued);
    // The sends under way at SIGTERM finished: every message written is its job's, recorded
    // as sent, and no job handed back had its message written.
    let written: HashSet<String> = env
        .outbox_files()
        .iter()
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    let recorded: HashSet<String> = ids
        .iter()
        .zip(&all)
        .filter(|(_, s)| **s == Some(JobState::Sent))
        .map(|(id, _)| id.to_string())
        .collect();
    assert_eq!(
        written.len(),
        sent,
        "every written message is recorded as sent"
    );
    assert_eq!(
        written, recorded,
        "the messages written are the jobs recorded as sent"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_worker_s_jobs_are_taken_over_and_all_are_sent() {
    const JOBS: usize = 2000;
    const CONCURRENCY: usize = 64;
    let env = Env::new(&format!("[worker]\nconcurrency = {CONCURRENCY}\n"));
    let queue = env.queue().await;
    let ids = enqueue_jobs(&queue, JOBS).await;

    let mut first = env.worker("doomed", &[]);
    env.wait_for_outbox(&mut first, 300, Duration::from_secs(60));
    first.crash();
    let held = in_flight(&queue, &ids).await;
    // What the outbox held at the kill, with each file's inode: a message written again
    // replaces its file (a new file is renamed over it), so its inode changes.
    let at_kill: Vec<(PathBuf, u64)> = env
        .outbox_files()
        .into_iter()
        .map(|p| {
            let inode = fs::metadata(&p).expect("a written message").ino();
            (p, inode)
        })
        .collect();
    let before = at_kill.len();
    assert!(before < JOBS, "the worker was killed before it finished");

    let second = env.worker("rescuer", &[("MAILROOM__QUEUE__LEASE", "2s")]);
    eventually(Duration::from_secs(120), "every job to be sent", || {
        let queue = queue.clone();
        let ids = ids.clone();
        async move {
            let s = stats(&queue).await;
            s.ready == 0
                && s.in_flight == 0
                && s.scheduled == 0
                && states(&queue, &ids)
                    .await
                    .iter()
                    .all(|s| *s == Some(JobState::Sent))
        }
    })
    .await;
    second.stop();

    assert_eq!(env.outbox_files().len(), JOBS);
    assert_eq!(stats(&queue).await.dead, 0);
    let twice: Vec<&PathBuf> = at_kill
        .iter()
        .filter(|(p, inode)| fs::metadata(p).ok().map(|m| m.ino()) != Some(*inode))
        .map(|(p, _)| p)
        .collect();
    println!(
        "killed after {before} files with {} jobs in flight; {} of {JOBS} messages were written twice",
        held.len(),
        twice.len()
    );
    // A message written twice is a job whose send had gone out and whose outcome had not
    // landed: its delivery was still held by the killed worker.
    let held_files: HashSet<String> = held.iter().map(|id| format!("{id}.eml")).collect();
    let outside: Vec<&&PathBuf> = twice
        .iter()
        .filter(|p| {
            let name = p.file_name().unwrap_or_default().to_string_lossy();
            !held_files.contains(name.as_ref())
        })
        .collect();
    assert!(
        outside.is_empty(),
        "only jobs in flight at the kill may be written twice: {outside:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sends_that_outlast_the_grace_are_handed_back_at_once() {
    let env = Env::new("[worker]\nconcurrency = 8\nshutdown_grace = \"1s\"\n");
    let queue = env.queue().await;
    let ids = enqueue_jobs(&queue, 50).await;
    let vars = [
        ("MAILROOM__TRANSPORT__KIND", "null"),
        ("MAILROOM__TRANSPORT__NULL__LATENCY", "1h"),
    ];
    let mut worker = env.worker("slow", &vars);
    // Jobs count as in flight in Redis once fetched; the handlers' own gauge says when the
    // eight sends have really started.
    let addr = common::http::listen_addr(&mut worker);
    eventually(Duration::from_secs(30), "eight sends under way", || {
        let scrape = common::http::get(&addr, "/metrics").body;
        async move { common::http::sample(&scrape, "mailroom_jobs_in_flight") >= Some(8.0) }
    })
    .await;

    // The sends sleep for an hour: a stop within seconds means the grace cut them off.
    let took = worker.terminate_cleanly(Duration::from_secs(20));
    assert!(took < Duration::from_secs(10), "stopping took {took:?}");

    let s = stats(&queue).await;
    assert_eq!((s.in_flight, s.ready), (0, 50), "{s:?}");
    assert!(
        states(&queue, &ids)
            .await
            .iter()
            .all(|s| *s == Some(JobState::Queued))
    );
    // Every job was delivered to the worker (one fetch holds all fifty) and handed back
    // without spending the delivery: a job handed back leaves the stream entry it came in
    // (its payload moves into its record) for a new one.
    let records = job_fields(&queue, &ids, &["payload", "deliveries"]).await;
    let released = records.iter().filter(|r| r[0].is_some()).count();
    assert_eq!(released, ids.len(), "every delivery was handed back");
    assert!(
        records
            .iter()
            .all(|r| r[1].as_deref().unwrap_or("0") == "0"),
        "a handed-back delivery is not counted: {records:?}"
    );
    println!(
        "grace ran out after {took:?}: {released} deliveries handed back, 50 of 50 jobs queued"
    );
}
