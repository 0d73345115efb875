//! Large jobs amid small ones, with the worker's memory capped.

use std::time::{Duration, Instant};

use mailroom_jobs::{Attachment, EmailJob};

use super::{MACHINE, assert_drained, fake_google, gmail_world, missing, wait_all_sent};
use crate::common::google::{SENDER, Tally};
use crate::common::report::Report;
use crate::common::{Backing, Env, Worker, enqueue_all, job};

/// The worker's data segment limit (`RLIMIT_DATA`, which since Linux 4.7 counts every
/// private writable mapping: the heap, `mmap`ed allocations, thread stacks): 256 MiB.
const MEMORY_CAP: u64 = 256 << 20;

/// Attachment of each large job: 18.5 MB, so that the job is 25 MB rendered (base64 with line
/// breaks) and 24.7 MB as stored (base64 in JSON).
const LARGE: usize = 18_500_000;

/// The worker's byte budget in this scenario: 16 MiB, so a large job is always held alone.
/// Sending one costs about four times its stored size at its peak (the payload read, the
/// decoded attachment, the rendered message, the upload body google-gmail1 copies it into).
const BUDGET: usize = 16 << 20;

/// The most the worker's data segment may span once the sends are over: 128 MiB. Freed large
/// buffers go back to the system (the allocator's build settings in `.cargo/config.toml` serve
/// allocations over 1 MiB by mappings of their own); measured 43–44 MB with them, 254 MB
/// without.
const DATA_AFTER: u64 = 128 << 20;

/// How many large jobs; they sit next to each other in the stream, so one fetch batch would
/// hold them all.
const LARGE_JOBS: usize = 8;

/// A job from `SENDER` of 25 MB.
fn large_job(i: usize) -> EmailJob {
    let content: Vec<u8> = (0..LARGE).map(|b| (b % 251) as u8).collect();
    let mut v1 = job(SENDER, &format!("large{i}@example.org"), "Large")
        .v1()
        .clone();
    v1.attachments.push(Attachment::new(
        "large.bin",
        "application/octet-stream",
        content,
    ));
    EmailJob::V1(v1)
}

/// `mailroom run` under `prlimit --data=MEMORY_CAP`; waits until its `/proc/PID/limits` shows
/// the cap (`prlimit` sets it on itself, then executes `mailroom` in the same process).
fn capped_worker(env: &Env, name: &str, vars: &[(&str, &str)]) -> Worker {
    let data = format!("--data={MEMORY_CAP}");
    let worker = env.worker_via(&["prlimit", &data, "--"], name, vars);
    let cap = MEMORY_CAP.to_string();
    let capped = |limits: &str| {
        limits
            .lines()
            .any(|l| l.starts_with("Max data size") && l.split_whitespace().nth(3) == Some(&cap))
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let limits = std::fs::read_to_string(format!("/proc/{}/limits", worker.pid()))
            .expect("read the worker's limits");
        if capped(&limits) {
            return worker;
        }
        assert!(
            Instant::now() < deadline,
            "the worker runs with a data limit of {cap} bytes:\n{limits}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Eight jobs of 25 MB among `small` small ones, with the worker's memory capped at 256 MiB:
/// with its byte budget (`worker.max_held_bytes`, [`BUDGET`]) the worker takes the large jobs
/// one at a time and every job is received exactly once, without the worker dying. The cap is
/// read back from the worker's `/proc/PID/limits`.
pub async fn large_jobs_under_a_memory_cap(redis: Backing, small: usize) {
    let _shared = MACHINE.read().await;
    let mut report = Report::start("large jobs under a 256 MiB memory cap", &redis);
    let large: Vec<EmailJob> = (0..LARGE_JOBS).map(large_job).collect();

    let google = fake_google();
    let env = gmail_world(
        redis,
        &google,
        &format!("[worker]\nconcurrency = 64\nmax_held_bytes = {BUDGET}"),
    );
    let queue = env.queue().await;
    let smalls: Vec<EmailJob> = (0..small)
        .map(|i| job(SENDER, &format!("user{i}@example.org"), "Small"))
        .collect();
    let mut ids = enqueue_all(&queue, &smalls[..small / 2]).await;
    ids.extend(enqueue_all(&queue, &large).await);
    ids.extend(enqueue_all(&queue, &smalls[small / 2..]).await);
    report.set("jobs", ids.len());

    let mut worker = capped_worker(&env, "w", &[]);
    wait_all_sent(&queue, &ids, &mut [&mut worker], Duration::from_secs(600)).await;
    worker.assert_running();
    let status = std::fs::read_to_string(format!("/proc/{}/status", worker.pid()))
        .expect("the worker's /proc status");
    let memory = memory_of(&status);
    let data = status_kb(&status, "VmData");
    worker.stop();

    let tally = Tally::of(&google);
    report.tally(&tally);
    report.set("dead", 0);
    report.set(
        "notes",
        format!("{LARGE_JOBS} × 25 MB among {small}, budget {BUDGET} bytes; {memory}"),
    );
    println!(
        "{LARGE_JOBS} large jobs among {small} small ones under {MEMORY_CAP} bytes: received {}, \
         unique {}, duplicates {}; after the sends: {memory}",
        tally.received,
        tally.unique(),
        tally.duplicates()
    );
    assert_eq!(missing(&tally, &ids), [], "jobs never received");
    assert_eq!(
        (tally.received, tally.unique()),
        (ids.len(), ids.len()),
        "every job is received exactly once"
    );
    assert_drained(&queue, 0).await;
    assert!(
        data.is_some_and(|kb| kb * 1024 < DATA_AFTER),
        "after the sends the worker's data segment is under {DATA_AFTER} bytes \
         (freed large buffers returned): {memory}"
    );
}

/// One `kB` figure (`VmData`, …) of a `/proc/PID/status` text.
fn status_kb(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(&format!("{key}:")))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The peak resident size and the present data segment and resident size of a
/// `/proc/PID/status` text.
fn memory_of(status: &str) -> String {
    ["VmHWM", "VmData", "VmRSS"]
        .iter()
        .filter_map(|key| Some(format!("{key}: {} kB", status_kb(status, key)?)))
        .collect::<Vec<_>>()
        .join(", ")
}
