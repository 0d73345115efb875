//! The queue's behaviour against a real Redis, each scenario on a single server and on a
//! three-node Redis Cluster. Several scenarios pin down a defect of apalis-redis 1.0.0 that
//! this queue must not have (named in the test's comment).

mod common;

use std::time::Duration;

use common::{Behaviour, Redis, TestWorker, config, job, job_with, queue};
use mailroom_queue::{Cancelled, DeadSelection, JobState, QueueConfig};
use mailroom_testkit::{RedisCluster, RedisServer};
use redis::AsyncCommands;

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn single() {
                super::$name(super::Redis::Single(super::RedisServer::start())).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn cluster() {
                super::$name(super::Redis::Cluster(super::RedisCluster::start())).await;
            }
        }
    )*};
}

on_both!(
    dedup_without_ttl_setting_returns_first_job,
    batch_enqueue_is_delivered_in_full,
    due_backlog_beyond_eight_thousand_drains,
    idle_queue_wakes_worker_without_polling,
    clean_stop_deregisters_and_name_can_restart,
    stats_count_every_state,
    retry_is_scheduled_at_exact_time_and_counts_attempts,
    dead_letters_can_be_listed_retried_and_purged,
    malformed_payloads_are_dead_lettered_and_batch_continues,
    crashed_worker_jobs_are_redelivered_after_lease,
    poison_job_is_dead_lettered_after_max_deliveries,
    finished_jobs_are_trimmed_after_retention,
    cancel_only_before_sending,
    expired_job_is_not_sent,
);

/// apalis-redis: "a dedup key is ignored unless a TTL is set (three pushes, three jobs)".
async fn dedup_without_ttl_setting_returns_first_job(redis: Redis) {
    let q = queue(&redis, config()).await;
    let keyed = || {
        job_with(
            "a@example.com",
            serde_json::json!({"idempotency_key": "welcome-42"}),
        )
    };
    let first = q.enqueue(&keyed()).await.unwrap();
    let second = q.enqueue(&keyed()).await.unwrap();
    let third = q.enqueue(&keyed()).await.unwrap();
    assert!(!first.duplicate);
    assert!(second.duplicate && third.duplicate);
    assert_eq!((second.id, third.id), (first.id, first.id));
    assert_eq!(q.stats().await.unwrap().ready, 1);

    // The key outlives the job's completion.
    let w = TestWorker::start(&q, "w", Behaviour::Send).await;
    w.seen.wait_for(1, Duration::from_secs(10)).await;
    w.stop().await;
    let again = q.enqueue(&keyed()).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(again.id, first.id);
    assert_eq!(q.stats().await.unwrap().ready, 0);

    // Re-sending the very same job (same id) is a duplicate too.
    let j = job("b@example.com");
    assert!(!q.enqueue(&j).await.unwrap().duplicate);
    assert!(q.enqueue(&j).await.unwrap().duplicate);
}

async fn batch_enqueue_is_delivered_in_full(redis: Redis) {
    let q = queue(&redis, config()).await;
    let jobs: Vec<_> = (0..500)
        .map(|i| job(&format!("u{i}@example.com")))
        .collect();
    let out = q.enqueue_many(&jobs).await.unwrap();
    assert_eq!(out.len(), 500);
    assert!(
        out.iter()
            .zip(&jobs)
            .all(|(e, j)| e.id == j.id() && !e.duplicate)
    );
    assert_eq!(q.stats().await.unwrap().ready, 500);
    let w = TestWorker::start(&q, "w", Behaviour::Send).await;
    w.seen.wait_for(500, Duration::from_secs(30)).await;
    let seen = w.stop().await;
    let mut ids = seen.ids();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 500, "every job exactly once");
    let s = q.status(jobs[7].id()).await.unwrap().unwrap();
    assert_eq!(s.state, JobState::Sent);
    assert_eq!(
        s.transport_id.as_deref(),
        Some(format!("msg-{}", jobs[7].id()).as_str())
    );
}

/// apalis-redis: "more than ~8,000 due jobs wedge the queue for good".
async fn due_backlog_beyond_eight_thousand_drains(redis: Redis) {
    let q = queue(&redis, config()).await;
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    for chunk in 0..20 {
        let jobs: Vec<_> = (0..1000)
            .map(|i| {
                job_with(
                    &format!("u{chunk}-{i}@example.com"),
                    serde_json::json!({"send_at": later}),
                )
            })
            .collect();
        q.enqueue_many(&jobs).await.unwrap();
    }
    assert_eq!(q.stats().await.unwrap().scheduled, 20_000);
    // Make all of them due at once: every score becomes 0.
    let scheduled = format!("{{{}}}:scheduled", q.config().name);
    let mut c = redis_conn(&redis).await;
    let _: i64 = redis::cmd("ZUNIONSTORE")
        .arg(&scheduled)
        .arg(1)
        .arg(&scheduled)
        .arg("WEIGHTS")
        .arg(0)
        .query_async(&mut c)
        .await
        .unwrap();
    let w = TestWorker::start(&q, "w", Behaviour::Send).await;
    w.seen.wait_for(20_000, Duration::from_secs(120)).await;
    w.stop().await;
    let s = q.stats().await.unwrap();
    assert_eq!((s.ready, s.scheduled, s.in_flight, s.dead), (0, 0, 0, 0));
}

/// apalis-redis: "a job pushed into an idle queue waits up to the 30 s heartbeat".
async fn idle_queue_wakes_worker_without_polling(redis: Redis) {
    let cfg = QueueConfig {
        block: Duration::from_secs(30),
        schedule_tick: Duration::from_secs(30),
        ..config()
    };
    let q = queue(&redis, cfg).await;
    let w = TestWorker::start(&q, "w", Behaviour::Send).await;
    tokio::time::sleep(Duration::from_millis(300)).await; // the worker is now blocked in its read
    let started = std::time::Instant::now();
    q.enqueue(&job("a@example.com")).await.unwrap();
    w.seen.wait_for(1, Duration::from_secs(10)).await;
    let picked_up = w.seen.0.lock().unwrap()[0].4 - started;
    // Nothing but the new entry could have woken a read that blocks for 30 s.
    assert!(
        picked_up < Duration::from_secs(2),
        "picked up after {picked_up:?}"
    );
    w.stop().await;
}

/// apalis-redis: "a cleanly stopped worker is not deregistered, so a restart under the same
/// name is refused".
async fn clean_stop_deregisters_and_name_can_restart(redis: Redis) {
    let q = queue(&redis, config()).await;
    let w = TestWorker::start(&q, "mailer-1", Behaviour::Send).await;
    assert_eq!(q.stats().await.unwrap().workers, 1);
    w.stop().await;
    assert_eq!(
        q.stats().await.unwrap().workers,
        0,
        "stopped worker is deregistered"
    );
    let w = TestWorker::start(&q, "mailer-1", Behaviour::Send).await;
    q.enqueue(&job("a@example.com")).await.unwrap();
    w.seen.wait_for(1, Duration::from_secs(10)).await;
    w.stop().await;
}

/// apalis-redis: "its stats calls fail (WRONGTYPE) or return zeros".
async fn stats_count_every_state(redis: Redis) {
    let q = queue(&redis, config()).await;
    let empty = q.stats().await.unwrap();
    assert_eq!(
        (empty.ready, empty.scheduled, empty.in_flight, empty.dead),
        (0, 0, 0, 0)
    );
    assert_eq!(empty.oldest_ready_age, None);

    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    q.enqueue_many(&[
        job("a@example.com"),
        job("b@example.com"),
        job("c@example.com"),
    ])
    .await
    .unwrap();
    q.enqueue(&job_with(
        "d@example.com",
        serde_json::json!({"send_at": later}),
    ))
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let s = q.stats().await.unwrap();
    assert_eq!((s.ready, s.scheduled, s.in_flight, s.dead), (3, 1, 0, 0));
    let age = s.oldest_ready_age.expect("an oldest ready job");
    assert!(
        age >= Duration::from_millis(200) && age < Duration::from_secs(10),
        "{age:?}"
    );

    // A worker that never finishes holds its deliveries in flight.
    let w = TestWorker::start(&q, "w", Behaviour::Vanish).await;
    w.seen.wait_for(3, Duration::from_secs(10)).await;
    let s = q.stats().await.unwrap();
    assert_eq!((s.ready, s.scheduled, s.in_flight), (0, 1, 3));
    assert_eq!(s.oldest_ready_age, None);
    w.crash();
}

/// apalis-redis: "retries are linear, capped at a hard-coded 25, and ignore max_attempts and
/// Retry-After" and "its vacuum deletes jobs that wait for a retry".
async fn retry_is_scheduled_at_exact_time_and_counts_attempts(redis: Redis) {
    let q = queue(&redis, config()).await;
    let j = job("a@example.com");
    q.enqueue(&j).await.unwrap();
    let w = TestWorker::start(&q, "w", Behaviour::RetryOnceThenSend).await;
    w.seen.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let s = q.status(j.id()).await.unwrap().unwrap();
    assert_eq!(s.state, JobState::Retrying);
    assert_eq!(s.attempts, 1);
    assert_eq!(s.last_error.as_deref(), Some("transient: try later"));
    assert!(s.due_at.is_some());
    w.seen.wait_for(2, Duration::from_secs(10)).await;
    let seen = w.seen.0.lock().unwrap().clone();
    let gap = seen[1].4 - seen[0].4;
    assert!(
        gap >= Duration::from_millis(1400),
        "retried after {gap:?}, scheduled 1.5 s later"
    );
    assert_eq!(
        (seen[0].2, seen[1].2),
        (0, 1),
        "attempts seen by the handler"
    );
    w.stop().await;
    assert_eq!(
        q.status(j.id()).await.unwrap().unwrap().state,
        JobState::Sent
    );
}

async fn dead_letters_can_be_listed_retried_and_purged(redis: Redis) {
    let q = queue(&redis, config()).await;
    let jobs: Vec<_> = (0..3).map(|i| job(&format!("u{i}@example.com"))).collect();
    q.enqueue_many(&jobs).await.unwrap();
    // Take the deliveries by hand and kill them.
    let w = TestWorker::start(&q, "w", Behaviour::Vanish).await;
    w.seen.wait_for(3, Duration::from_secs(10)).await;
    w.crash();
    let q2 = queue(
        &redis,
        QueueConfig {
            max_deliveries: 1,
            lease: Duration::from_secs(1),
            ..q.config().clone()
        },
    )
    .await;
    let w = TestWorker::start(&q2, "w2", Behaviour::Send).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while q.stats().await.unwrap().dead < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "jobs were not dead-lettered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dead = q.dead_list(0, 10).await.unwrap();
    assert_eq!(dead.len(), 3);
    assert!(
        dead.iter()
            .all(|d| d.status.state == JobState::Dead && d.payload.is_some())
    );
    assert!(
        dead[0]
            .status
            .last_error
            .as_deref()
            .unwrap()
            .contains("poison")
    );
    let shown = q.dead_show(jobs[0].id()).await.unwrap().unwrap();
    assert_eq!(shown.status.id, jobs[0].id());

    assert_eq!(
        q.dead_retry(DeadSelection::Ids(vec![jobs[0].id()]))
            .await
            .unwrap(),
        1
    );
    w.seen.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(w.seen.ids(), vec![jobs[0].id()]);
    assert_eq!(q.dead_purge(DeadSelection::All).await.unwrap(), 2);
    assert_eq!(q.stats().await.unwrap().dead, 0);
    assert!(
        q.status(jobs[1].id()).await.unwrap().is_none(),
        "purged jobs are gone"
    );
    w.stop().await;
}

/// apalis-redis: "one malformed payload stops the worker and strands the rest of its batch".
async fn malformed_payloads_are_dead_lettered_and_batch_continues(redis: Redis) {
    let q = queue(&redis, config()).await;
    let name = q.config().name.clone();
    let mut c = redis_conn(&redis).await;
    let good: Vec<_> = (0..5).map(|i| job(&format!("u{i}@example.com"))).collect();
    q.enqueue_many(&good[..2]).await.unwrap();
    let bad = [
        ("01J00000000000000000000001", "{not json"),
        (
            "01J00000000000000000000002",
            r#"{"version":"v9","from":"a@example.com"}"#,
        ),
    ];
    for (id, payload) in bad {
        let key = format!("{{{name}}}:job:{id}");
        let () = redis::pipe()
            .hset_multiple(
                &key,
                &[("payload", payload), ("state", "queued"), ("attempts", "0")],
            )
            .query_async(&mut c)
            .await
            .unwrap();
        let _: String = c
            .xadd(format!("{{{name}}}:ready"), "*", &[("id", id)])
            .await
            .unwrap();
    }
    q.enqueue_many(&good[2..]).await.unwrap();
    let w = TestWorker::start(&q, "w", Behaviour::Send).await;
    w.seen.wait_for(5, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let dead = q.dead_list(0, 10).await.unwrap();
    assert_eq!(dead.len(), 2);
    for d in &dead {
        let reason = d.status.last_error.clone().unwrap();
        assert!(reason.starts_with("malformed payload"), "{reason}");
    }
    assert!(
        dead.iter()
            .any(|d| d.status.last_error.as_deref().unwrap().contains("v9"))
    );
    // The worker is still alive.
    q.enqueue(&job("late@example.com")).await.unwrap();
    w.seen.wait_for(6, Duration::from_secs(10)).await;
    w.stop().await;
}

/// At-least-once: deliveries of a worker that died are taken over after the lease.
async fn crashed_worker_jobs_are_redelivered_after_lease(redis: Redis) {
    let q = queue(&redis, config()).await;
    let jobs: Vec<_> = (0..10).map(|i| job(&format!("u{i}@example.com"))).collect();
    q.enqueue_many(&jobs).await.unwrap();
    let dying = TestWorker::start(&q, "dying", Behaviour::Vanish).await;
    dying.seen.wait_for(10, Duration::from_secs(10)).await;
    dying.crash();
    let started = std::time::Instant::now();
    let w = TestWorker::start(&q, "heir", Behaviour::Send).await;
    w.seen.wait_for(10, Duration::from_secs(20)).await;
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "not before the lease ran out"
    );
    let seen = w.seen.0.lock().unwrap().clone();
    assert!(seen.iter().all(|s| s.3 == 2), "second delivery of each job");
    w.stop().await;
    for j in &jobs {
        assert_eq!(
            q.status(j.id()).await.unwrap().unwrap().state,
            JobState::Sent
        );
    }
}

async fn poison_job_is_dead_lettered_after_max_deliveries(redis: Redis) {
    let cfg = QueueConfig {
        max_deliveries: 2,
        lease: Duration::from_secs(1),
        ..config()
    };
    let q = queue(&redis, cfg).await;
    let j = job("a@example.com");
    q.enqueue(&j).await.unwrap();
    // A worker whose handler loses every delivery: its lease runs out again and again.
    let w = TestWorker::start(&q, "w", Behaviour::Vanish).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let s = q.status(j.id()).await.unwrap().unwrap();
        if s.state == JobState::Dead {
            assert!(s.last_error.unwrap().contains("poison"));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never dead-lettered: {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(w.seen.len(), 2, "delivered max_deliveries times");
    w.crash();
}

/// apalis-redis: "finished job ids are never trimmed".
async fn finished_jobs_are_trimmed_after_retention(redis: Redis) {
    let cfg = QueueConfig {
        retention: Duration::from_secs(2),
        ..config()
    };
    let q = queue(&redis, cfg).await;
    let j = job("a@example.com");
    q.enqueue(&j).await.unwrap();
    let w = TestWorker::start(&q, "w", Behaviour::Send).await;
    w.seen.wait_for(1, Duration::from_secs(10)).await;
    w.stop().await;
    let s = q.status(j.id()).await.unwrap().unwrap();
    assert_eq!(s.state, JobState::Sent);
    assert!(s.finished_at.is_some());
    tokio::time::sleep(Duration::from_millis(2600)).await;
    assert!(
        q.status(j.id()).await.unwrap().is_none(),
        "record trimmed after retention"
    );
    let mut c = redis_conn(&redis).await;
    let len: u64 = c
        .xlen(format!("{{{}}}:ready", q.config().name))
        .await
        .unwrap();
    assert_eq!(len, 0, "acknowledged entries are deleted from the stream");
}

async fn cancel_only_before_sending(redis: Redis) {
    let q = queue(&redis, config()).await;
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let queued = job("a@example.com");
    let scheduled = job_with("b@example.com", serde_json::json!({"send_at": later}));
    q.enqueue_many(&[queued.clone(), scheduled.clone()])
        .await
        .unwrap();
    assert_eq!(q.cancel(queued.id()).await.unwrap(), Cancelled::Cancelled);
    assert_eq!(
        q.cancel(scheduled.id()).await.unwrap(),
        Cancelled::Cancelled
    );
    assert_eq!(
        q.cancel(mailroom_jobs::JobId::new()).await.unwrap(),
        Cancelled::NotFound
    );
    let sent = job("c@example.com");
    q.enqueue(&sent).await.unwrap();
    let w = TestWorker::start(&q, "w", Behaviour::Send).await;
    w.seen.wait_for(1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        w.seen.ids(),
        vec![sent.id()],
        "cancelled jobs are never delivered"
    );
    w.stop().await;
    assert_eq!(
        q.cancel(sent.id()).await.unwrap(),
        Cancelled::TooLate(JobState::Sent)
    );
    assert_eq!(
        q.status(queued.id()).await.unwrap().unwrap().state,
        JobState::Cancelled
    );
    let s = q.stats().await.unwrap();
    assert_eq!((s.ready, s.scheduled), (0, 0));
}

async fn expired_job_is_not_sent(redis: Redis) {
    let q = queue(&redis, config()).await;
    let soon = (chrono::Utc::now() + chrono::Duration::milliseconds(300)).to_rfc3339();
    let j = job_with("a@example.com", serde_json::json!({"expires_at": soon}));
    q.enqueue(&j).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let w = TestWorker::start(&q, "w", Behaviour::Send).await;
    let fresh = job("b@example.com");
    q.enqueue(&fresh).await.unwrap();
    w.seen.wait_for(1, Duration::from_secs(10)).await;
    let seen = w.stop().await;
    assert_eq!(seen.ids(), vec![fresh.id()]);
    assert_eq!(
        q.status(j.id()).await.unwrap().unwrap().state,
        JobState::Expired
    );
}

async fn redis_conn(redis: &Redis) -> mailroom_queue::Conn {
    let target = mailroom_queue::RedisTarget::parse(&redis.url()).unwrap();
    mailroom_queue::Conn::open(&target, Duration::from_secs(5))
        .await
        .unwrap()
}
