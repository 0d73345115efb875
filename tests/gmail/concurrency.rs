//! Gmail limits the requests in flight per user: `quota.sender_concurrency` (default 10)
//! keeps one sender's sends in flight under it, however many jobs the worker runs at once;
//! with `quota.shared_sender_concurrency`, across workers too.

use std::time::Duration;

use mailroom_testkit::google::{FakeGoogle, Fault, FaultRule};

use crate::common::google::{SENDER, gmail_env, wait_sent};
use crate::common::{eventually, job, stats};
use crate::enqueue;

#[tokio::test(flavor = "multi_thread")]
async fn one_senders_sends_in_flight_never_pass_ten_with_64_jobs_at_once() {
    let google = FakeGoogle::start();
    // Each send takes a while, so without a cap the worker's 64 slots would overlap them.
    google.inject(FaultRule::send(Fault::Latency(Duration::from_millis(150))));
    let env = gmail_env(&google, "[worker]\nconcurrency = 64\n");
    let queue = env.queue().await;
    for n in 0..50 {
        enqueue(&queue, &job(SENDER, "ann@example.org", &format!("n{n}"))).await;
    }
    let worker = env.worker("w1", &[]);
    wait_sent(&google, 50, Duration::from_secs(60));
    worker.stop();
    let most = google.max_concurrent_sends(SENDER);
    println!("most sends in flight at the fake for one sender: {most}");
    assert!(
        most <= 10,
        "{most} sends of one sender were in flight at once"
    );
    assert!(most >= 2, "the sends went one at a time ({most})");
    assert_eq!(google.responses_by_status().get(&429), None, "no 429");
}

#[tokio::test(flavor = "multi_thread")]
async fn shared_slots_cap_one_senders_sends_in_flight_across_two_workers() {
    let google = FakeGoogle::start();
    google.inject(FaultRule::send(Fault::Latency(Duration::from_millis(150))));
    let env = gmail_env(
        &google,
        "[worker]\nconcurrency = 64\n\n[quota]\nsender_concurrency = 5\nshared_sender_concurrency = true\n",
    );
    let queue = env.queue().await;
    // Both workers wait for jobs before any comes, so both hold some at once.
    let w1 = env.worker("w1", &[]);
    let w2 = env.worker("w2", &[]);
    eventually(Duration::from_secs(30), "both workers registered", || {
        let queue = queue.clone();
        async move { stats(&queue).await.workers == 2 }
    })
    .await;
    for n in 0..50 {
        enqueue(&queue, &job(SENDER, "ann@example.org", &format!("n{n}"))).await;
    }
    wait_sent(&google, 50, Duration::from_secs(60));
    w1.stop();
    w2.stop();
    let most = google.max_concurrent_sends(SENDER);
    println!(
        "most sends in flight at the fake for one sender, two workers sharing 5 slots: {most}"
    );
    assert!(
        most <= 5,
        "{most} sends of one sender were in flight at once"
    );
    assert!(most >= 2, "the sends went one at a time ({most})");
    assert_eq!(google.responses_by_status().get(&429), None, "no 429");
}
