//! One job, one id: a job pushed through the documented protocol (`EVAL enqueue.lua`) without
//! an `id` in its payload is the job stored under the id the enqueue was given, on every
//! delivery; a payload whose `id` disagrees with that id is dead-lettered naming both. Each
//! scenario runs on a single server and on a three-node Redis Cluster.

#[macro_use]
mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use apalis::prelude::*;
use common::{Redis, config, enqueue_by_hand, queue};
use mailroom_jobs::{EmailJob, JobId, message_id_for};
use mailroom_queue::{JobState, Lease, Queue, RedisBackend};
use mailroom_testkit::{RedisCluster, RedisServer};

on_both!(
    a_pushed_job_without_an_id_keeps_the_record_id_on_every_delivery,
    a_pushed_job_whose_id_disagrees_is_dead_lettered_naming_both,
);

/// Pushes one job the way `crates/queue/README.md` tells another language to.
async fn push_raw(redis: &Redis, queue: &Queue, id: &str, payload: &str) {
    let reply = enqueue_by_hand(redis, queue, &[(id.to_owned(), payload.into())])
        .await
        .expect("enqueue.lua");
    assert_eq!(reply.len(), 1, "one job pushed");
}

/// What a handler saw: the decoded job's id, the lease's id and the Message-ID it renders.
type Seen = Arc<Mutex<Vec<(JobId, JobId, String)>>>;

/// Records each delivery, then lets its lease lapse the first time (as a worker that died
/// after sending would) and records it as sent the second time.
async fn record_then_vanish_once(
    job: Box<EmailJob>,
    lease: Lease,
    seen: Data<Seen>,
) -> Result<(), BoxDynError> {
    let message_id = message_id_for(&job.id(), job.from());
    let first = {
        let mut seen = seen.lock().unwrap();
        seen.push((job.id(), lease.job_id(), message_id));
        seen.len() == 1
    };
    if first {
        drop(lease);
    } else {
        lease.sent(Some("gmail-1"), None).await?;
    }
    Ok(())
}

/// Runs a worker on `queue` until the returned sender fires.
fn start_worker(
    queue: &Queue,
    seen: &Seen,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let (queue, seen) = (queue.clone(), seen.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        let backend = RedisBackend::new(queue, "w").await.expect("backend");
        WorkerBuilder::new("w")
            .backend(backend)
            .data(seen)
            .build(record_then_vanish_once)
            .run_until(async move {
                let _ = stopped.await;
                Ok::<(), std::io::Error>(())
            })
            .await
            .expect("worker ran");
    });
    (stop, handle)
}

/// Waits until the job's state is `state` (20 s at most).
async fn wait_state(queue: &Queue, id: JobId, state: JobState) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let now = queue.status(id).await.unwrap().map(|s| s.state);
        if now == Some(state) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job is {now:?}, wanted {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_pushed_job_without_an_id_keeps_the_record_id_on_every_delivery(redis: Redis) {
    let q = queue(&redis, config()).await;
    let id = "01M8TXHYT8RBC3YWADV5FXJSBG";
    let payload = r#"{"version":"v1","from":"py@example.com","to":["x@example.org"],"subject":"from python","text":"hi"}"#;
    push_raw(&redis, &q, id, payload).await;

    let record: JobId = id.parse().unwrap();
    let seen = Seen::default();
    let (stop, worker) = start_worker(&q, &seen);
    wait_state(&q, record, JobState::Sent).await;
    let _ = stop.send(());
    worker.await.unwrap();

    let seen = seen.lock().unwrap().clone();
    let expected = format!("<{id}@example.com>");
    assert_eq!(
        seen.len(),
        2,
        "delivered, taken over after its lease, delivered again"
    );
    for (job_id, lease_id, message_id) in seen {
        assert_eq!(job_id, record, "the decoded job carries the record's id");
        assert_eq!(lease_id, record);
        assert_eq!(
            message_id, expected,
            "the same Message-ID on every delivery"
        );
    }
}

async fn a_pushed_job_whose_id_disagrees_is_dead_lettered_naming_both(redis: Redis) {
    let q = queue(&redis, config()).await;
    let id = "01M8TXHYT8RBC3YWADV5FXJSBG";
    let other = "01M8TXHYW9M1KS190MT7QH12N8";
    let payload = format!(
        r#"{{"version":"v1","id":"{other}","from":"py@example.com","to":["x@example.org"],"subject":"s","text":"hi"}}"#
    );
    push_raw(&redis, &q, id, &payload).await;

    let record: JobId = id.parse().unwrap();
    let seen = Seen::default();
    let (stop, worker) = start_worker(&q, &seen);
    wait_state(&q, record, JobState::Dead).await;
    let _ = stop.send(());
    worker.await.unwrap();

    assert!(seen.lock().unwrap().is_empty(), "never handed to a handler");
    let status = q.status(record).await.unwrap().expect("record");
    let reason = status.last_error.unwrap();
    assert!(reason.contains(id) && reason.contains(other), "{reason}");
}
