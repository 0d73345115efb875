//! The fetcher's connection is replaced after a round that read a large job, and kept through
//! rounds of small ones, so that its read buffer does not keep a large job's size for the rest
//! of the worker's life. On a single server, whose `CLIENT LIST` shows the fetcher's connection
//! as the one whose last command is `XREADGROUP`.

mod common;

use std::time::Duration;

use common::{Behaviour, Redis, TestWorker, config, eventually, job, job_with, queue, redis_conn};
use mailroom_queue::Conn;
use mailroom_testkit::RedisServer;

const WITHIN: Duration = Duration::from_secs(20);

/// The ids of the server's client connections whose last command was `XREADGROUP`.
async fn readers(c: &mut Conn) -> Vec<u64> {
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(c)
        .await
        .unwrap();
    list.lines()
        .filter(|l| l.split(' ').any(|f| f == "cmd=xreadgroup"))
        .filter_map(|l| l.strip_prefix("id=")?.split(' ').next()?.parse().ok())
        .collect()
}

/// The one connection reading the stream.
async fn reader(c: &mut Conn) -> u64 {
    eventually(
        WITHIN,
        "one connection reads the stream",
        async || match readers(c).await[..] {
            [id] => Some(id),
            _ => None,
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fetch_connection_is_replaced_after_a_large_job_only() {
    let redis = Redis::Single(RedisServer::start());
    let q = queue(&redis, config()).await;
    let mut c = redis_conn(&redis).await;
    let w = TestWorker::start(&q, "w", Behaviour::Send).await;

    // A round returns its jobs once it has decided on its connection: when the handler has
    // seen a job, the connection that reads next is settled.
    q.enqueue(&job("a@example.com")).await.unwrap();
    w.seen.wait_for(1, WITHIN).await;
    let first = reader(&mut c).await;
    q.enqueue(&job("b@example.com")).await.unwrap();
    w.seen.wait_for(2, WITHIN).await;
    assert_eq!(
        reader(&mut c).await,
        first,
        "small jobs keep the connection"
    );

    let large = job_with(
        "large@example.com",
        serde_json::json!({ "text": "a".repeat(2 << 20) }),
    );
    q.enqueue(&large).await.unwrap();
    w.seen.wait_for(3, WITHIN).await;
    let next = reader(&mut c).await;
    assert_ne!(next, first, "a job of 2 MiB replaces the connection");
    eventually(WITHIN, "the old connection is closed", async || {
        let list: String = redis::cmd("CLIENT")
            .arg("LIST")
            .query_async(&mut c)
            .await
            .unwrap();
        (!list.lines().any(|l| l.starts_with(&format!("id={first} ")))).then_some(())
    })
    .await;
    w.stop().await;
}
