//! Reads grow while a backlog waits and the handlers eat faster than reads of `queue.batch`
//! bring jobs (`queue.batch_max`), on a single server and on a three-node Redis Cluster; they
//! stay at `queue.batch` while the handlers are the slower part.

#[macro_use]
mod common;

use std::time::Duration;

use common::{
    Behaviour, Redis, TestWorker, config, eventually, job, pending_count, queue, redis_conn,
};
use mailroom_jobs::EmailJob;
use mailroom_queue::{Queue, QueueConfig};
use mailroom_testkit::{RedisCluster, RedisServer};

on_both!(
    a_backlog_fast_handlers_eat_is_read_in_growing_reads,
    slow_handlers_keep_reads_at_batch,
);

/// A queue whose reads ask for 8 jobs at first and at most 64.
async fn growing(redis: &Redis) -> Queue {
    let cfg = QueueConfig {
        batch: 8,
        batch_max: 64,
        ..config()
    };
    queue(redis, cfg).await
}

async fn backlog(q: &Queue, n: usize) {
    let jobs: Vec<EmailJob> = (0..n).map(|i| job(&format!("r{i}@example.com"))).collect();
    q.enqueue_many(&jobs).await.unwrap();
}

/// Reads of 8: the jobs in handlers, at most two reads' worth waiting for them and one read
/// ahead make 8 + 3 × 8 = 32 deliveries held at most; reads that double up to 64 bring more.
async fn a_backlog_fast_handlers_eat_is_read_in_growing_reads(redis: Redis) {
    let q = growing(&redis).await;
    backlog(&q, 5_000).await;
    let mut c = redis_conn(&redis).await;
    let w = TestWorker::start_with(&q, "w", Behaviour::Send, 8).await;
    let held = eventually(Duration::from_secs(30), "more than 40 held", async || {
        let n = pending_count(&mut c, &q).await;
        (n > 40).then_some(n)
    })
    .await;
    assert!(held <= 8 + 3 * 64, "{held} held");
    w.seen.wait_for(5_000, Duration::from_secs(60)).await;
    let seen = w.seen.len();
    let mut ids = w.stop().await.ids();
    ids.sort();
    ids.dedup();
    assert_eq!((ids.len(), seen), (5_000, 5_000), "every job sent once");
}

/// One handler taking 20 ms a job never runs out of jobs: reads stay at 8, so the worker
/// holds at most 1 + 3 × 8 deliveries all through the backlog.
async fn slow_handlers_keep_reads_at_batch(redis: Redis) {
    let q = growing(&redis).await;
    backlog(&q, 100).await;
    let mut c = redis_conn(&redis).await;
    let w = TestWorker::start_with(&q, "w", Behaviour::Slow(20), 1).await;
    let mut most = 0;
    let watch = async {
        while w.seen.len() < 100 {
            most = most.max(pending_count(&mut c, &q).await);
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), watch)
        .await
        .expect("100 jobs sent within 60 s");
    assert!(most <= 1 + 3 * 8, "{most} held");
    w.stop().await;
}
