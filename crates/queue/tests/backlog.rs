//! A million due jobs at once (apalis-redis 1.0.0: "more than ~8,000 due jobs wedge the queue
//! for good", from a Lua `unpack` of the whole backlog).

mod common;

use std::time::{Duration, Instant};

use common::{Behaviour, Redis, TestWorker, config, eventually, job, queue};
use mailroom_testkit::RedisServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn million_due_jobs_neither_wedge_nor_starve_new_jobs() {
    let redis = Redis::Single(RedisServer::start());
    let q = queue(&redis, config()).await;
    let scheduled = format!("{{{}}}:scheduled", q.config().name);
    let mut c = redis
        .server_ref()
        .client()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    // A million due ids, scored in the past. They have no job record, so each is dropped at
    // delivery: the test measures the queue's machinery, not the handler.
    for chunk in 0..100 {
        let mut pipe = redis::pipe();
        let mut cmd = redis::cmd("ZADD");
        cmd.arg(&scheduled);
        for i in 0..10_000 {
            cmd.arg(1).arg(format!("phantom-{chunk}-{i}"));
        }
        pipe.add_command(cmd).ignore();
        let () = pipe.query_async(&mut c).await.unwrap();
    }
    assert_eq!(q.stats().await.unwrap().scheduled, 1_000_000);

    let w = TestWorker::start(&q, "w", Behaviour::Send).await;
    // The worker is into the backlog: it has dropped phantom deliveries.
    eventually(
        Duration::from_secs(30),
        "phantom deliveries dropped",
        async || (q.activity().missing > 0).then_some(()),
    )
    .await;
    // A job enqueued for now is not stuck behind the backlog: promotion only tops the stream up.
    let fresh = job("fresh@example.com");
    q.enqueue(&fresh).await.unwrap();
    w.seen.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(w.seen.ids(), vec![fresh.id()]);

    // And the whole backlog drains.
    let started = Instant::now();
    loop {
        let s = q.stats().await.unwrap();
        if s.scheduled == 0 && s.ready == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "backlog stuck at {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("drained 1,000,000 due entries in {:?}", started.elapsed());
    w.stop().await;
}
