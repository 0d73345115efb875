//! Gmail limits the requests in flight per user: `quota.sender_concurrency` (default 10)
//! keeps one sender's sends in flight under it, however many jobs the worker runs at once.

use std::time::Duration;

use mailroom_testkit::google::{FakeGoogle, Fault, FaultRule};

use crate::common::google::{SENDER, gmail_env, wait_sent};
use crate::common::job;
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
