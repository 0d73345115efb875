//! Records written by a producer in another language, with one malformed field each, amid valid
//! jobs: each costs exactly one dead letter whose reason names the field, and every valid job
//! of the same fetch batch is delivered. On a single server and on a three-node Redis Cluster.

#[macro_use]
mod common;

use std::time::Duration;

use common::{Behaviour, Redis, TestWorker, config, eventually, job, queue, redis_conn};
use mailroom_queue::JobState;
use mailroom_testkit::{RedisCluster, RedisServer};

on_both!(a_malformed_field_dead_letters_its_row_alone);

/// A field of a record and what a careless producer might write into it, with the field the
/// dead-letter reason must name.
const SHAPES: [(&str, &[u8], &str); 5] = [
    (
        "payload",
        b"{\"version\":\"v1\",\"from\":\"noreply@example.com\",\"to\":[\"a@example.com\"],\"subject\":\"caf\xe9\",\"text\":\"x\"}",
        "payload",
    ),
    ("expires_at", b"tomorrow", "expires_at"),
    ("deliveries", b"two", "deliveries"),
    ("attempts", b"1.5", "attempts"),
    ("created_at", b"2026-12-02T10:00:00Z", "created_at"),
];

async fn a_malformed_field_dead_letters_its_row_alone(redis: Redis) {
    let q = queue(&redis, config()).await;
    let name = q.config().name.clone();
    let mut c = redis_conn(&redis).await;
    // Valid jobs before, between and after the broken ones, all in one fetch batch.
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (field, value, named) in SHAPES {
        let pair = [job("ok@example.com"), job("broken@example.com")];
        let record = format!("{{{name}}}:job:{}", pair[1].id());
        if field == "payload" {
            // A payload travels in its stream entry: the producer pushes the entry itself.
            q.enqueue(&pair[0]).await.unwrap();
            let () = redis::pipe()
                .cmd("HSET")
                .arg(&record)
                .arg("state")
                .arg("queued")
                .ignore()
                .cmd("XADD")
                .arg(format!("{{{name}}}:v2:ready"))
                .arg("*")
                .arg("id")
                .arg(pair[1].id().to_string())
                .arg("p")
                .arg(value)
                .ignore()
                .query_async(&mut c)
                .await
                .unwrap();
        } else {
            q.enqueue_many(&pair).await.unwrap();
            let () = redis::cmd("HSET")
                .arg(&record)
                .arg(field)
                .arg(value)
                .query_async(&mut c)
                .await
                .unwrap();
        }
        good.push(pair[0].id());
        bad.push((pair[1].id(), named));
    }
    let last = job("ok@example.com");
    q.enqueue(&last).await.unwrap();
    good.push(last.id());

    let w = TestWorker::start(&q, "w", Behaviour::Send).await;
    w.seen.wait_for(good.len(), Duration::from_secs(15)).await;
    eventually(Duration::from_secs(15), "five dead letters", async || {
        (q.stats().await.unwrap().dead == 5).then_some(())
    })
    .await;
    let seen = w.stop().await;
    let mut ids = seen.ids();
    ids.sort();
    good.sort();
    assert_eq!(ids, good, "every valid job delivered once, no broken one");
    for (id, field) in bad {
        let s = q.status(id).await.unwrap().expect("a record");
        let reason = s.last_error.unwrap_or_default();
        assert_eq!(s.state, JobState::Dead, "{id}: {reason}");
        assert!(
            reason.starts_with("malformed ") && reason.contains(field),
            "{id}: the reason {reason:?} names {field}"
        );
    }
    assert_eq!(q.activity().undecodable, 5, "{:?}", q.activity());
    assert_eq!(q.stats().await.unwrap().in_flight, 0);
}
