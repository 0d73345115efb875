//! The rolling upgrade from protocol v1: jobs that v1 clients pushed with v1's `enqueue.lua`
//! (kept as a fixture, exactly as it shipped) into v1's keys, before the v2 workers started and
//! while they run, immediate and scheduled, are each delivered once by v2 workers, and the
//! status of each ends `sent`. On a single server and on a three-node Redis Cluster.

#[macro_use]
mod common;

use std::time::Duration;

use common::{Behaviour, Redis, TestWorker, config, eventually, job, queue, redis_conn};
use mailroom_jobs::{EmailJob, JobId};
use mailroom_queue::{JobState, Queue};
use mailroom_testkit::{RedisCluster, RedisServer};

on_both!(jobs_of_v1_clients_are_delivered_once_by_v2_workers);

/// Protocol v1's enqueue script, as v1 clients run it.
const V1_ENQUEUE_LUA: &str = include_str!("fixtures/v1/enqueue.lua");

/// Pushes `jobs` the way a v1 client does: v1's script on v1's keys, `due_ms` 0 for now.
async fn push_v1(redis: &Redis, queue: &Queue, jobs: &[EmailJob], due_ms: i64) {
    let name = &queue.config().name;
    let keys: Vec<String> = ["ready", "scheduled", "dead", "workers"]
        .iter()
        .map(|k| format!("{{{name}}}:{k}"))
        .collect();
    let v1 = redis::Script::new(V1_ENQUEUE_LUA);
    let mut script = v1.prepare_invoke();
    script
        .key(&keys)
        .arg(format!("{{{name}}}"))
        .arg(chrono::Utc::now().timestamp_millis())
        .arg(86_400);
    for j in jobs {
        script
            .arg(j.id().to_string())
            .arg("")
            .arg(j.to_json())
            .arg(due_ms)
            .arg(0)
            .arg(r#"{"metadata":{},"tags":[]}"#);
    }
    let reply: Vec<redis::Value> = script
        .invoke_async(&mut redis_conn(redis).await)
        .await
        .expect("v1 enqueue.lua");
    assert_eq!(reply.len(), 2 * jobs.len());
}

fn batch(n: usize) -> Vec<EmailJob> {
    (0..n).map(|i| job(&format!("u{i}@example.com"))).collect()
}

async fn jobs_of_v1_clients_are_delivered_once_by_v2_workers(redis: Redis) {
    let q = queue(&redis, config()).await;
    let before = batch(200);
    push_v1(&redis, &q, &before, 0).await;
    let later = batch(20);
    let due = chrono::Utc::now().timestamp_millis() + 1_500;
    push_v1(&redis, &q, &later, due).await;
    // A v2 client pushes too, during the rollout.
    let v2 = batch(50);
    q.enqueue_many(&v2).await.unwrap();

    let w = TestWorker::start(&q, "v2-worker", Behaviour::Send).await;
    let during = batch(100);
    push_v1(&redis, &q, &during, 0).await;

    let mut all: Vec<JobId> = [&before, &later, &v2, &during]
        .into_iter()
        .flatten()
        .map(EmailJob::id)
        .collect();
    w.seen.wait_for(all.len(), Duration::from_secs(30)).await;
    eventually(
        Duration::from_secs(10),
        "every job recorded sent",
        async || {
            for id in &all {
                let state = q.status(*id).await.unwrap().map(|s| s.state);
                (state == Some(JobState::Sent)).then_some(())?;
            }
            Some(())
        },
    )
    .await;
    let seen = w.stop().await;
    let mut ids = seen.ids();
    ids.sort();
    all.sort();
    assert_eq!(ids, all, "every job delivered exactly once");
    let stats = q.stats().await.unwrap();
    assert_eq!((stats.ready, stats.in_flight, stats.scheduled), (0, 0, 0));
}
