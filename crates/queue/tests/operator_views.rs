//! What the console reads: the per-minute counts workers add (kept two hours), and each
//! registered worker with its heartbeat and the deliveries it holds. On a single server and
//! on a three-node Redis Cluster.

#[macro_use]
mod common;

use std::time::Duration;

use common::{Behaviour, Redis, TestWorker, config, job, queue, redis_conn};
use mailroom_queue::{MinuteCounts, unix_minute};
use mailroom_testkit::{RedisCluster, RedisServer};

on_both!(
    minute_counts_add_up_and_expire,
    workers_show_what_each_holds,
    a_waiting_jobs_payload_is_shown_wherever_it_is_kept
);

/// A job waiting in the stream keeps its payload in its entry, a scheduled one in its
/// record: the operator sees it either way, and nothing once the job is sent.
async fn a_waiting_jobs_payload_is_shown_wherever_it_is_kept(redis: Redis) {
    let q = queue(&redis, config()).await;
    let now = job("now@example.com");
    let mut later = job("later@example.com");
    later.v1_mut().send_at = Some(chrono::Utc::now() + chrono::Duration::hours(1));
    q.enqueue_many(&[now.clone(), later.clone()]).await.unwrap();
    for j in [&now, &later] {
        let shown = q.payload(j.id()).await.unwrap().expect("a payload");
        assert_eq!(shown, j.to_json_string(), "{}", j.id());
    }
    let w = TestWorker::start(&q, "w", Behaviour::Send).await;
    w.seen.wait_for(1, Duration::from_secs(10)).await;
    common::eventually(
        Duration::from_secs(10),
        "the job recorded sent",
        async || q.payload(now.id()).await.unwrap().is_none().then_some(()),
    )
    .await;
    w.stop().await;
}

async fn minute_counts_add_up_and_expire(redis: Redis) {
    let q = queue(&redis, config()).await;
    let minute = unix_minute();
    for (sent, retried, dead) in [(3, 1, 0), (2, 0, 1)] {
        q.count_minute(MinuteCounts {
            minute,
            sent,
            retried,
            dead,
        })
        .await
        .unwrap();
    }
    q.count_minute(MinuteCounts {
        minute: minute - 5,
        sent: 7,
        ..MinuteCounts::default()
    })
    .await
    .unwrap();
    let rows = q.minutes(60).await.unwrap();
    assert_eq!(rows.len(), 60);
    assert!(rows.windows(2).all(|w| w[1].minute == w[0].minute + 1));
    let at = |m: i64| {
        *rows
            .iter()
            .find(|r| r.minute == m)
            .expect("the minute is read")
    };
    assert_eq!(
        at(minute),
        MinuteCounts {
            minute,
            sent: 5,
            retried: 1,
            dead: 1
        }
    );
    assert_eq!(at(minute - 5).sent, 7);
    assert!(
        at(minute - 1).is_empty(),
        "a minute nobody counted reads as zeros"
    );
    let ttl: i64 = redis::cmd("TTL")
        .arg(q.key(&format!("minute:{minute}")))
        .query_async(&mut redis_conn(&redis).await)
        .await
        .unwrap();
    assert!((7000..=7200).contains(&ttl), "kept two hours: {ttl}");
}

async fn workers_show_what_each_holds(redis: Redis) {
    let q = queue(&redis, config()).await;
    assert!(q.workers().await.unwrap().is_empty());
    let holder = TestWorker::start(&q, "holder", Behaviour::Keep).await;
    let ids: Vec<_> = (0..3).map(|i| job(&format!("u{i}@example.org"))).collect();
    q.enqueue_many(&ids).await.unwrap();
    holder
        .seen
        .clone()
        .wait_for(3, Duration::from_secs(10))
        .await;
    let workers = q.workers().await.unwrap();
    assert_eq!(workers.len(), 1, "{workers:?}");
    assert_eq!(workers[0].name, holder.consumer);
    assert_eq!(workers[0].in_flight, 3);
    let age = chrono::Utc::now() - workers[0].heartbeat_at.expect("a heartbeat");
    assert!(age < chrono::Duration::seconds(60), "{age}");
    let stats = q.stats().await.unwrap();
    assert_eq!(stats.in_flight, 3);
    holder.crash();
}
