//! Redis going away under a running worker (apalis-redis 1.0.0: "a Redis restart kills the worker
//! (broken pipe) instead of reconnecting").

mod common;

use std::time::Duration;

use common::{Behaviour, Redis, TestWorker, config, eventually, job, queue};
use mailroom_testkit::RedisServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_survives_redis_restart_and_enqueue_fails_loudly_meanwhile() {
    let mut redis = Redis::durable();
    let q = queue(&redis, config()).await;
    let w = TestWorker::start(&q, "w", Behaviour::Send).await;
    let before = job("before@example.com");
    q.enqueue(&before).await.unwrap();
    w.seen.wait_for(1, Duration::from_secs(10)).await;

    redis.server().kill();
    let during = q.enqueue(&job("during@example.com")).await;
    assert!(
        during.is_err(),
        "an enqueue while Redis is down must fail, not vanish"
    );
    // The worker sees the outage: a fetch round fails.
    eventually(
        Duration::from_secs(10),
        "a failed fetch round",
        async || (q.activity().redis_errors > 0).then_some(()),
    )
    .await;
    redis.server().restart();

    // The client reconnects by itself, and the worker picks up new jobs.
    let after = job("after@example.com");
    eventually(Duration::from_secs(20), "enqueue recovered", async || {
        q.enqueue(&after).await.ok()
    })
    .await;
    w.seen.wait_for(2, Duration::from_secs(20)).await;
    let seen = w.stop().await;
    assert_eq!(seen.ids(), vec![before.id(), after.id()]);
    assert_eq!(
        q.status(after.id()).await.unwrap().unwrap().state,
        mailroom_queue::JobState::Sent
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_recreates_its_group_when_redis_comes_back_empty() {
    let mut redis = Redis::Single(RedisServer::start());
    let q = queue(&redis, config()).await;
    let w = TestWorker::start(&q, "w", Behaviour::Send).await;
    redis.server().kill();
    redis.server().restart(); // no persistence: the stream and its group are gone
    let j = job("a@example.com");
    eventually(Duration::from_secs(20), "enqueue recovered", async || {
        q.enqueue(&j).await.ok()
    })
    .await;
    w.seen.wait_for(1, Duration::from_secs(20)).await;
    w.stop().await;
}
