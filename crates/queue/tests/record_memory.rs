//! What a queued job and a finished job's record cost in Redis: enqueues 100,000 jobs of about
//! 1 KB on a fresh server and prints the growth of `used_memory` (`INFO memory`) per job
//! against its payload's bytes; then sends them and prints the growth per job again, read once
//! every job is sent and its stream entry and job hash are gone, so what is left is the records
//! kept for the retention period. Ignored by default (it takes a while); run it with
//! `cargo test -p mailroom-queue --test record_memory -- --ignored --nocapture`.

mod common;

use std::time::{Duration, Instant};

use common::{Behaviour, Redis, TestWorker, config, eventually, job_with, queue, redis_conn};
use mailroom_testkit::RedisServer;

const JOBS: usize = 100_000;

async fn used_memory(redis: &Redis) -> i64 {
    let mut c = redis_conn(redis).await;
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut c)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory in INFO memory")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow: sends 100,000 jobs; run with --ignored --nocapture"]
async fn bytes_per_finished_record() {
    let redis = Redis::Single(RedisServer::start());
    let q = queue(&redis, config()).await;
    let before = used_memory(&redis).await;
    let text = "Your order has shipped. ".repeat(36);
    let started = Instant::now();
    let mut payload_bytes = 0;
    for _ in 0..JOBS / 1000 {
        let batch: Vec<_> = (0..1000)
            .map(|_| job_with("someone@example.com", serde_json::json!({ "text": text })))
            .collect();
        payload_bytes += batch.iter().map(|j| j.to_json().len()).sum::<usize>();
        q.enqueue_many(&batch).await.unwrap();
    }
    let enqueued = started.elapsed();
    let queued = used_memory(&redis).await;
    let per_queued = (queued - before) as f64 / JOBS as f64;
    let payload = payload_bytes as f64 / JOBS as f64;
    println!(
        "queued: {per_queued:.0} B per job for a payload of {payload:.0} B ({:.2}x)",
        per_queued / payload
    );
    let w = TestWorker::start(&q, "w", Behaviour::SendLikeGmail).await;
    w.seen.wait_for(JOBS, Duration::from_secs(900)).await;
    eventually(Duration::from_secs(60), "every job settled", async || {
        let s = q.stats().await.unwrap();
        (s.ready == 0 && s.in_flight == 0).then_some(())
    })
    .await;
    w.stop().await;
    let mut c = redis_conn(&redis).await;
    let (jobs, stream): (Vec<String>, u64) = redis::pipe()
        .cmd("KEYS")
        .arg(q.key("job:*"))
        .cmd("XLEN")
        .arg(q.key("v2:ready"))
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(stream, 0, "every stream entry is gone");
    let after = used_memory(&redis).await;
    let per_job = (after - before) as f64 / JOBS as f64;
    println!(
        "used_memory before {before} B, after {after} B: {per_job:.1} B per finished record \
         over {JOBS} jobs, {} job hashes left (enqueued in {enqueued:?}, all sent in {:?})",
        jobs.len(),
        started.elapsed()
    );
}
