//! Redis going away under a running worker (apalis-redis 1.0.0: "a Redis restart kills the worker
//! (broken pipe) instead of reconnecting").

mod common;

use std::time::Duration;

use common::{Behaviour, Redis, TestWorker, config, job, queue};
use mailroom_testkit::{RedisOptions, RedisServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_survives_redis_restart_and_enqueue_fails_loudly_meanwhile() {
    let mut redis = Redis::Single(RedisServer::start_with(RedisOptions {
        appendonly: true,
        ..Default::default()
    }));
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
    tokio::time::sleep(Duration::from_millis(1500)).await; // the worker sees the outage
    redis.server().restart();

    // The client reconnects by itself, and the worker picks up new jobs.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let after = job("after@example.com");
    loop {
        match q.enqueue(&after).await {
            Ok(_) => break,
            Err(e) => {
                assert!(
                    std::time::Instant::now() < deadline,
                    "enqueue never recovered: {e}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
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
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while q.enqueue(&j).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "enqueue never recovered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    w.seen.wait_for(1, Duration::from_secs(20)).await;
    w.stop().await;
}
