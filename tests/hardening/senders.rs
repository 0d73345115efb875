//! Memory stays bounded whatever senders appear: 10,000 distinct senders under `*@example.com`
//! through the fake Google, one job each. The worker's peak RSS (`VmHWM`) stays under 64 MB,
//! and once `credentials.sender_idle` has passed every sender's credentials leave memory: the
//! cache's own count, which the worker logs at debug as it sweeps, falls to 0. `RssAnon` at
//! the end of the run and once idle is printed, not asserted: the allocator keeps freed pages
//! for reuse, so the process's figure need not fall with what it holds.

use std::time::Duration;

use mailroom_jobs::EmailJob;
use mailroom_testkit::google::{FakeGoogle, Quota};

use crate::common::google::gmail_env;
use crate::common::{all_sent, enqueue_all, eventually, job};
use crate::proc_status_kb;

const SENDERS: usize = 10_000;

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_senders_fit_in_64_mb_and_leave_memory_when_idle() {
    let _alone = crate::HEAVY.lock().await;
    let google = FakeGoogle::start();
    google.set_quota(Quota::unlimited());
    let senders: Vec<String> = (0..SENDERS).map(|i| format!("s{i}@example.com")).collect();
    for sender in &senders {
        google.add_domain_user(sender);
    }
    let env = gmail_env(
        &google,
        "[quota]\nsender_per_minute = 100000\nsender_per_day = 1000000\n\
         project_per_minute = 1000000\n\n[credentials]\nsender_idle = \"6s\"\n",
    );
    let queue = env.queue().await;
    let jobs: Vec<EmailJob> = senders
        .iter()
        .map(|s| job(s, "ann@example.org", "hello"))
        .collect();
    let ids = enqueue_all(&queue, &jobs).await;
    let worker = env.worker(
        "w",
        &[("RUST_LOG", "info,mailroom_worker::credentials=debug")],
    );
    eventually(Duration::from_secs(600), "every job to be sent", || {
        all_sent(&queue, &ids)
    })
    .await;
    let pid = worker.pid();
    let peak_kb = proc_status_kb(pid, "VmHWM");
    let anon_at_end = proc_status_kb(pid, "RssAnon");
    assert!(
        peak_kb < 64 * 1024,
        "peak RSS {peak_kb} kB with {SENDERS} senders"
    );
    assert_eq!(google.sent().len(), SENDERS);

    // Idle: every sender's credentials leave the cache.
    let mut kept = usize::MAX;
    eventually(Duration::from_secs(30), "the sender cache to empty", || {
        kept = worker
            .log_lines()
            .iter()
            .filter_map(|l| l["kept"].as_u64())
            .next_back()
            .map_or(usize::MAX, |k| usize::try_from(k).unwrap_or(usize::MAX));
        let empty = kept == 0;
        async move { empty }
    })
    .await;
    let anon_idle = proc_status_kb(pid, "RssAnon");
    println!(
        "{SENDERS} senders: peak RSS {peak_kb} kB; RssAnon {anon_at_end} kB at the end of the \
         run, {anon_idle} kB once idle"
    );
    worker.stop();
}
