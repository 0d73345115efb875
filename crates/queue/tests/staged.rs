//! Large payloads reach `enqueue.lua` staged in a key of their own (so Redis never copies them
//! through Lua): such a job is stored as any large job is, a duplicate leaves nothing behind,
//! a call that names a staged payload Redis does not have is refused whole, and a producer in
//! another language stages one by hand as `crates/queue/README.md` says. On a single server and
//! on a three-node cluster.

#[macro_use]
mod common;

use std::time::Duration;

use common::{
    Behaviour, Redis, TestWorker, config, enqueue_by_hand, job, job_with, queue, redis_conn,
};
use mailroom_jobs::EmailJob;
use mailroom_queue::{JobState, Queue};
use mailroom_testkit::{RedisCluster, RedisServer, command_calls};

on_both!(
    large_jobs_are_stored_whole_and_delivered,
    a_large_duplicate_leaves_nothing_behind,
    a_producer_in_another_language_stages_by_hand,
);

/// A job whose text is `bytes` long: well over the 64 KiB from which payloads are staged.
fn large(to: &str, bytes: usize) -> EmailJob {
    job_with(to, serde_json::json!({ "text": "b".repeat(bytes) }))
}

/// The staged keys of `q` still in Redis.
async fn staged_keys(redis: &Redis, q: &Queue) -> Vec<String> {
    redis::cmd("KEYS")
        .arg(q.key("v2:staged:*"))
        .query_async(&mut redis_conn(redis).await)
        .await
        .unwrap()
}

/// How many `RENAME`s a single server has run (its command statistics): `enqueue.lua` makes a
/// record of a staged payload by `RENAME`, and nothing else of a queue renames a key.
async fn renames(redis: &Redis) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut redis_conn(redis).await)
        .await
        .unwrap();
    command_calls(&info, "rename")
}

async fn large_jobs_are_stored_whole_and_delivered(redis: Redis) {
    let q = queue(&redis, config()).await;
    let alone = large("alone@example.com", 300_000);
    let later = job_with(
        "later@example.com",
        serde_json::json!({ "text": "c".repeat(200_000), "send_at": "2099-01-01T00:00:00Z" }),
    );
    let batch = [
        job("small@example.com"),
        large("big@example.com", 100_000),
        later.clone(),
    ];
    assert!(!q.enqueue(&alone).await.unwrap().duplicate);
    let answers = q.enqueue_many(&batch).await.unwrap();
    assert!(answers.iter().all(|a| !a.duplicate));
    if let Redis::Single(_) = redis {
        // (A cluster's statistics are per node.)
        assert_eq!(renames(&redis).await, 3, "each large payload was staged");
    }

    for j in [&alone, &batch[1], &later] {
        let stored = q.payload(j.id()).await.unwrap().expect("a stored payload");
        assert_eq!(
            stored.as_bytes(),
            j.to_json(),
            "the payload is stored byte for byte"
        );
    }
    let ttl: i64 = redis::cmd("TTL")
        .arg(q.key(&format!("job:{}", alone.id())))
        .query_async(&mut redis_conn(&redis).await)
        .await
        .unwrap();
    assert_eq!(ttl, -1, "a record made of a staged payload keeps no TTL");
    assert_eq!(
        q.status(later.id()).await.unwrap().unwrap().state,
        JobState::Scheduled
    );
    assert!(
        staged_keys(&redis, &q).await.is_empty(),
        "no staged key left"
    );
    let s = q.stats().await.unwrap();
    assert_eq!((s.ready, s.scheduled, s.enqueued), (3, 1, 4));

    let w = TestWorker::start(&q, "w", Behaviour::Send).await;
    w.seen.wait_for(3, Duration::from_secs(20)).await;
    w.stop().await;
    for j in [&alone, &batch[0], &batch[1]] {
        let status = q.status(j.id()).await.unwrap().unwrap();
        assert_eq!(status.state, JobState::Sent, "{}", j.id());
    }
}

async fn a_large_duplicate_leaves_nothing_behind(redis: Redis) {
    let q = queue(&redis, config()).await;
    let first = large("a@example.com", 150_000);
    assert!(!q.enqueue(&first).await.unwrap().duplicate);
    // The same job again, alone and within a batch, and a different large job under the
    // same idempotency key.
    assert!(q.enqueue(&first).await.unwrap().duplicate);
    let again = q
        .enqueue_many(&[job("b@example.com"), first.clone()])
        .await
        .unwrap();
    assert_eq!(
        again.iter().map(|a| a.duplicate).collect::<Vec<_>>(),
        [false, true]
    );
    let keyed = |text: &str| {
        job_with(
            "c@example.com",
            serde_json::json!({ "text": text.repeat(120_000), "idempotency_key": "report-7" }),
        )
    };
    let original = keyed("x");
    let kept = q.enqueue(&original).await.unwrap();
    let repeat = q.enqueue(&keyed("y")).await.unwrap();
    assert!(repeat.duplicate);
    assert_eq!(repeat.id, kept.id);

    assert!(
        staged_keys(&redis, &q).await.is_empty(),
        "no staged key left"
    );
    let stored = q.payload(first.id()).await.unwrap().unwrap();
    assert_eq!(stored.as_bytes(), first.to_json());
    let stored = q.payload(kept.id).await.unwrap().unwrap();
    assert_eq!(
        stored.as_bytes(),
        original.to_json(),
        "the first job's payload stays"
    );
    assert_eq!(q.stats().await.unwrap().enqueued, 3);
}

/// A producer in another language runs `enqueue.lua` itself: one job with its payload, one
/// naming a staged payload that is not there (expired, or never written), which refuses the
/// whole call; a staged payload named for two jobs, refused too; then the call with the
/// payload staged as the protocol says.
async fn a_producer_in_another_language_stages_by_hand(redis: Redis) {
    let q = queue(&redis, config()).await;
    let plain = job("a@example.com");
    let big = large("b@example.com", 100_000);
    let token = mailroom_jobs::JobId::new().to_string();
    let jobs = [
        (plain.id().to_string(), plain.to_json()),
        (
            big.id().to_string(),
            format!("@staged:{token}").into_bytes(),
        ),
    ];
    let err = enqueue_by_hand(&redis, &q, &jobs)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no staged payload") && err.contains(&big.id().to_string()),
        "{err}"
    );
    assert!(
        q.status(plain.id()).await.unwrap().is_none(),
        "nothing queued"
    );
    let s = q.stats().await.unwrap();
    assert_eq!((s.ready, s.enqueued), (0, 0));

    let staged = q.key(&format!("v2:staged:{token}"));
    let () = redis::pipe()
        .atomic()
        .hset(&staged, "payload", big.to_json())
        .ignore()
        .expire(&staged, 3600)
        .ignore()
        .query_async(&mut redis_conn(&redis).await)
        .await
        .unwrap();
    // One staged payload named for two jobs is refused whole too, before any write.
    let other = job("c@example.com");
    let twice = [
        jobs[0].clone(),
        jobs[1].clone(),
        (other.id().to_string(), jobs[1].1.clone()),
    ];
    let err = enqueue_by_hand(&redis, &q, &twice)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("named twice"), "{err}");
    assert_eq!(q.stats().await.unwrap().enqueued, 0, "nothing queued");

    let answers = enqueue_by_hand(&redis, &q, &jobs).await.unwrap();
    assert_eq!(
        answers,
        [(plain.id().to_string(), 0), (big.id().to_string(), 0)]
    );
    let stored = q.payload(big.id()).await.unwrap().unwrap();
    assert_eq!(stored.as_bytes(), big.to_json());
    assert!(
        staged_keys(&redis, &q).await.is_empty(),
        "no staged key left"
    );
    let w = TestWorker::start(&q, "w", Behaviour::Send).await;
    w.seen.wait_for(2, Duration::from_secs(20)).await;
    w.stop().await;
    assert_eq!(
        q.status(big.id()).await.unwrap().unwrap().state,
        JobState::Sent
    );
}
