//! Records written by a producer in another language, with one malformed field each, amid valid
//! jobs: each costs exactly one dead letter whose reason names the field, and every valid job
//! of the same fetch batch is delivered. On a single server and on a three-node Redis Cluster.

#[macro_use]
mod common;

use std::time::Duration;

use common::{Behaviour, Redis, TestWorker, config, eventually, job, job_with, queue, redis_conn};
use mailroom_queue::JobState;
use mailroom_testkit::{RedisCluster, RedisServer};

on_both!(a_malformed_field_dead_letters_its_row_alone);
on_both!(a_first_delivery_takes_its_record_from_its_entry);

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
        // The producer writes the record and the entry itself (no marks on the entry, so a
        // worker reads the record), with one field broken.
        q.enqueue(&pair[0]).await.unwrap();
        let json = pair[1].to_json();
        let payload: &[u8] = if field == "payload" { value } else { &json };
        let mut hset = redis::cmd("HSET");
        hset.arg(&record).arg("state").arg("queued");
        if field != "payload" {
            hset.arg(field).arg(value);
        }
        let () = redis::pipe()
            .add_command(hset)
            .ignore()
            .cmd("XADD")
            .arg(format!("{{{name}}}:v2:ready"))
            .arg("*")
            .arg("id")
            .arg(pair[1].id().to_string())
            .arg("p")
            .arg(payload)
            .ignore()
            .query_async(&mut c)
            .await
            .unwrap();
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

/// A stream entry as `XRANGE` gives it: its id and its fields.
type Entry = (String, Vec<(String, Vec<u8>)>);

/// `enqueue.lua` marks the entry of a job it queues with its payload with the record's
/// `created_at` (`c`) and `expires_at` (`x`): the first delivery of such an entry starts from
/// them and reads no record, so a record field changed after the enqueue is not seen.
async fn a_first_delivery_takes_its_record_from_its_entry(redis: Redis) {
    let q = queue(&redis, config()).await;
    let name = q.config().name.clone();
    let mut c = redis_conn(&redis).await;
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    let expiring = job_with(
        "a@example.com",
        serde_json::json!({"expires_at": later.to_rfc3339()}),
    );
    let plain = job("b@example.com");
    q.enqueue_many(&[expiring.clone(), plain.clone()])
        .await
        .unwrap();
    let entries: Vec<Entry> = redis::cmd("XRANGE")
        .arg(format!("{{{name}}}:v2:ready"))
        .arg("-")
        .arg("+")
        .query_async(&mut c)
        .await
        .unwrap();
    let mut marked = Vec::new();
    for ((_, fields), j) in entries.iter().zip([&expiring, &plain]) {
        let record = format!("{{{name}}}:job:{}", j.id());
        let (created, expires): (String, Option<String>) = redis::cmd("HMGET")
            .arg(&record)
            .arg("created_at")
            .arg("expires_at")
            .query_async(&mut c)
            .await
            .unwrap();
        let field = |n: &str| {
            fields
                .iter()
                .find(|(f, _)| f == n)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        assert_eq!(field("id"), Some(j.id().to_string()));
        assert_eq!(field("c"), Some(created), "created_at in the entry");
        assert_eq!(field("x"), expires, "expires_at in the entry");
        marked.push(record);
    }
    assert_eq!(
        marked.len(),
        2,
        "both jobs' entries are in the stream: {entries:?}"
    );
    // A record changed behind the queue's back after the enqueue: a worker that read it would
    // dead-letter the job.
    for record in &marked {
        let () = redis::cmd("HSET")
            .arg(record)
            .arg("attempts")
            .arg("1.5")
            .query_async(&mut c)
            .await
            .unwrap();
    }
    let w = TestWorker::start(&q, "w", Behaviour::Send).await;
    w.seen.wait_for(2, Duration::from_secs(10)).await;
    let seen = w.stop().await;
    let mut ids = seen.ids();
    ids.sort();
    let mut want = vec![expiring.id(), plain.id()];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(q.activity().undecodable, 0, "{:?}", q.activity());
    for j in [&expiring, &plain] {
        assert_eq!(
            q.status(j.id()).await.unwrap().unwrap().state,
            JobState::Sent
        );
    }
}
