//! Delivery, retries, crashes and dead letters against a real Redis, each scenario on a single
//! server and on a three-node Redis Cluster. Several scenarios pin down a defect of apalis-redis
//! 1.0.0 that this queue must not have (named in the test's comment).

#[macro_use]
mod common;

use std::time::Duration;

use common::{
    Behaviour, Redis, TestWorker, config, eventually, job, job_with, queue, redis_conn,
    status_when, wait_for_blocked_read, wait_until_past,
};
use mailroom_queue::{DeadFilter, DeadSelection, JobState, QueueConfig};
use mailroom_testkit::{RedisCluster, RedisServer};
use redis::AsyncCommands;

on_both!(
    due_backlog_beyond_eight_thousand_drains,
    idle_queue_wakes_worker_without_polling,
    clean_stop_deregisters_and_name_can_restart,
    retry_is_scheduled_at_exact_time_and_counts_attempts,
    dead_letters_can_be_listed_retried_and_purged,
    malformed_payloads_are_dead_lettered_and_batch_continues,
    crashed_worker_jobs_are_redelivered_after_lease,
    poison_job_is_dead_lettered_after_max_deliveries,
    housekeeping_trims_old_dead_letters_and_spares_waiting_jobs,
);

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
    wait_for_blocked_read(&redis).await;
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

/// apalis-redis: "retries are linear, capped at a hard-coded 25, and ignore max_attempts and
/// Retry-After" and "its vacuum deletes jobs that wait for a retry".
async fn retry_is_scheduled_at_exact_time_and_counts_attempts(redis: Redis) {
    let q = queue(&redis, config()).await;
    let j = job("a@example.com");
    q.enqueue(&j).await.unwrap();
    let w = TestWorker::start(&q, "w", Behaviour::RetryOnceThenSend).await;
    w.seen.wait_for(1, Duration::from_secs(10)).await;
    // The handler's outcome is recorded once the job leaves in_flight.
    let s = status_when(&q, j.id(), Duration::from_secs(10), |s| {
        s.state != JobState::InFlight
    })
    .await;
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
    eventually(Duration::from_secs(15), "jobs dead-lettered", async || {
        (q.stats().await.unwrap().dead >= 3).then_some(())
    })
    .await;
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
    assert_eq!(q2.activity().poisoned, 3, "{:?}", q2.activity());

    // Filters: by reason, by sender (read from the payload), by the time of death.
    let all = q.dead_find(&DeadFilter::default(), 0, 10).await.unwrap();
    assert_eq!(all.len(), 3);
    let by = |reason: Option<&str>, sender: Option<&str>| DeadFilter {
        reason: reason.map(str::to_owned),
        sender: sender.map(str::to_owned),
        ..DeadFilter::default()
    };
    let poison = q.dead_find(&by(Some("POISON"), None), 0, 10).await.unwrap();
    assert_eq!(poison.len(), 3);
    assert!(
        q.dead_find(&by(Some("nope"), None), 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let one = q
        .dead_find(&by(None, Some("NoReply@Example.com")), 1, 1)
        .await
        .unwrap();
    assert_eq!(one, all[1..2], "offset and limit count matches");
    let domain = q
        .dead_find(&by(None, Some("*@example.com")), 0, 10)
        .await
        .unwrap();
    assert_eq!(domain.len(), 3);
    assert!(
        q.dead_find(&by(None, Some("u0@example.com")), 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let future = chrono::Utc::now() + chrono::Duration::hours(1);
    let newer = DeadFilter {
        died_after: Some(future),
        ..DeadFilter::default()
    };
    assert!(q.dead_find(&newer, 0, 10).await.unwrap().is_empty());
    let older = DeadFilter {
        died_before: Some(future),
        ..DeadFilter::default()
    };
    assert_eq!(q.dead_find(&older, 0, 10).await.unwrap(), all);

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
    eventually(Duration::from_secs(10), "two dead letters", async || {
        (q.stats().await.unwrap().dead >= 2).then_some(())
    })
    .await;
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
    assert_eq!(q.activity().undecodable, 2, "{:?}", q.activity());
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
    let s = status_when(&q, j.id(), Duration::from_secs(20), |s| {
        s.state == JobState::Dead
    })
    .await;
    assert!(s.last_error.unwrap().contains("poison"));
    assert_eq!(w.seen.len(), 2, "delivered max_deliveries times");
    w.crash();
}

/// apalis-redis: "its vacuum deletes jobs that wait for a retry".
async fn housekeeping_trims_old_dead_letters_and_spares_waiting_jobs(redis: Redis) {
    let cfg = QueueConfig {
        dead_retention: Duration::from_secs(1),
        ..config()
    };
    let q = queue(&redis, cfg).await;
    let retrying = job("retry@example.com");
    let doomed = job("dead@example.com");
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let scheduled = job_with("later@example.com", serde_json::json!({"send_at": later}));
    q.enqueue_many(&[retrying.clone(), doomed.clone(), scheduled.clone()])
        .await
        .unwrap();
    // The first delivery of each: `retrying` waits 1.5 s for its retry; `doomed` dies.
    let w = TestWorker::start(&q, "w", Behaviour::Keep).await;
    w.seen.wait_for(2, Duration::from_secs(10)).await;
    let leases: Vec<_> = w.kept.0.lock().unwrap().drain(..).collect();
    for lease in leases {
        if lease.job_id() == retrying.id() {
            let at = chrono::Utc::now() + chrono::Duration::milliseconds(1500);
            lease.retry_at(at, "try later", true).await.unwrap();
        } else {
            lease.dead("refused").await.unwrap();
        }
    }
    w.stop().await;
    // Past the dead letter's retention by the clock `maintain` reads: it died (its score) at
    // least `dead_retention` ago.
    let dead_key = format!("{{{}}}:dead", q.config().name);
    let died: f64 = redis_conn(&redis)
        .await
        .zscore(&dead_key, doomed.id().to_string())
        .await
        .unwrap();
    let retention = i64::try_from(q.config().dead_retention.as_millis()).unwrap();
    wait_until_past(died as i64 + retention).await;

    // The dead letter is past its retention; the retrying and the scheduled jobs must stay.
    assert_eq!(q.maintain().await.unwrap().0, 1, "one dead letter trimmed");
    assert!(q.status(doomed.id()).await.unwrap().is_none());
    assert_eq!(q.stats().await.unwrap().dead, 0);
    let s = q.status(retrying.id()).await.unwrap().unwrap();
    assert_eq!(s.state, JobState::Retrying);
    assert_eq!(
        q.status(scheduled.id()).await.unwrap().unwrap().state,
        JobState::Scheduled
    );

    // And the retry still happens.
    let w = TestWorker::start(&q, "w", Behaviour::Send).await;
    w.seen.wait_for(1, Duration::from_secs(10)).await;
    let seen = w.stop().await;
    assert_eq!(seen.ids(), vec![retrying.id()]);
    assert_eq!(
        q.status(retrying.id()).await.unwrap().unwrap().state,
        JobState::Sent
    );
}
