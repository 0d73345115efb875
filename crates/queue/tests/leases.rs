//! Lease renewal against a real Redis, on a single server and on a three-node Redis Cluster:
//! a worker renews only the deliveries it still holds, never one another worker took over
//! after its lease ran out.

#[macro_use]
mod common;

use std::time::Duration;

use common::{Behaviour, Redis, TestWorker, config, eventually, job, queue, redis_conn};
use mailroom_jobs::JobId;
use mailroom_queue::{Conn, JobState, Lease, Queue, QueueConfig};
use mailroom_testkit::{RedisCluster, RedisServer};
use redis::AsyncCommands;

on_both!(
    renewal_leaves_a_delivery_taken_over_by_another_worker,
    both_sends_after_a_takeover_are_kept_and_the_later_one_counted,
    a_send_recorded_after_the_job_was_rescheduled_takes_it_out_of_the_schedule,
);

/// The pending deliveries of the queue's stream: (entry id, consumer holding it).
async fn pending(c: &mut Conn, q: &Queue) -> Vec<(String, String)> {
    let ready = format!("{{{}}}:v2:ready", q.config().name);
    let rows: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
        .arg(&ready)
        .arg("workers")
        .arg("-")
        .arg("+")
        .arg(100)
        .query_async(c)
        .await
        .unwrap();
    rows.into_iter().map(|(e, who, _, _)| (e, who)).collect()
}

/// The last heartbeat (ms) the worker `consumer` wrote.
async fn heartbeat(c: &mut Conn, q: &Queue, consumer: &str) -> Option<i64> {
    let workers = format!("{{{}}}:workers", q.config().name);
    c.hget(&workers, consumer).await.unwrap()
}

/// Worker A holds a delivery and its lease runs out; worker B takes the delivery over (the
/// protocol's takeover, `XCLAIM` to B, played by the test so nothing else renews it); then A's
/// keeper renews what A holds. The delivery stays with B: a renewal never takes a delivery back.
async fn renewal_leaves_a_delivery_taken_over_by_another_worker(redis: Redis) {
    let q = queue(
        &redis,
        QueueConfig {
            lease: Duration::from_secs(3),
            ..config()
        },
    )
    .await;
    let mut c = redis_conn(&redis).await;
    q.enqueue(&job("a@example.com")).await.unwrap();
    let a = TestWorker::start(&q, "a", Behaviour::Keep).await;
    let (entry, owner) = eventually(Duration::from_secs(10), "A holds the job", async || {
        (a.kept.0.lock().unwrap().len() == 1).then_some(())?;
        pending(&mut c, &q).await.pop()
    })
    .await;
    assert_eq!(owner, a.consumer);

    let ready = format!("{{{}}}:v2:ready", q.config().name);
    let taken: Vec<String> = redis::cmd("XCLAIM")
        .arg(&ready)
        .arg("workers")
        .arg("b")
        .arg(0)
        .arg(&entry)
        .arg("JUSTID")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(
        taken,
        std::slice::from_ref(&entry),
        "B took the delivery over"
    );

    // A's keeper writes its heartbeat, then renews: a second heartbeat after the takeover
    // means a whole renewal ran after it.
    let mut beats = vec![heartbeat(&mut c, &q, &a.consumer).await];
    eventually(Duration::from_secs(10), "two renewals of A", async || {
        let now = heartbeat(&mut c, &q, &a.consumer).await;
        if beats.last() != Some(&now) {
            beats.push(now);
        }
        (beats.len() >= 3).then_some(())
    })
    .await;
    assert_eq!(
        pending(&mut c, &q).await,
        [(entry, "b".to_owned())],
        "the delivery stays with the worker that took it over"
    );
    a.crash();
}

/// Takes the lease of job `id` out of `kept`.
/// Worker A takes the `jobs` queued and hangs (its fetcher and keeper stop; the leases it
/// handed out stay with the test); worker B takes them all over once their lease runs out.
/// Answers A's leases and B.
async fn taken_over(q: &Queue, jobs: usize) -> (common::Kept, TestWorker) {
    let a = TestWorker::start(q, "a", Behaviour::Keep).await;
    let a_kept = a.kept.clone();
    eventually(Duration::from_secs(10), "A holds the jobs", async || {
        (a_kept.0.lock().unwrap().len() == jobs).then_some(())
    })
    .await;
    a.crash();
    let b = TestWorker::start(q, "b", Behaviour::Keep).await;
    eventually(
        Duration::from_secs(15),
        "B takes the jobs over",
        async || (b.kept.0.lock().unwrap().len() == jobs).then_some(()),
    )
    .await;
    (a_kept, b)
}

fn take(kept: &common::Kept, id: JobId) -> Lease {
    let mut kept = kept.0.lock().unwrap();
    let at = kept
        .iter()
        .position(|l| l.job_id() == id)
        .expect("a kept lease");
    kept.swap_remove(at)
}

/// Worker A holds two jobs and stops renewing (it hangs); worker B takes both over once their
/// lease runs out, and both copies of each job go out. For the first job B records its send
/// first, for the second A does. Either way the record keeps the first transport id, lists the
/// later one in `duplicate_ids`, and the later `sent` is counted as a duplicate send.
async fn both_sends_after_a_takeover_are_kept_and_the_later_one_counted(redis: Redis) {
    let q = queue(&redis, config()).await;
    let jobs = [job("a@example.com"), job("b@example.com")];
    q.enqueue_many(&jobs).await.unwrap();
    let (a_kept, b) = taken_over(&q, 2).await;
    let (first, second) = (jobs[0].id(), jobs[1].id());

    take(&b.kept, first)
        .sent(Some("gmail-b1"), None)
        .await
        .unwrap();
    take(&a_kept, first)
        .sent(Some("gmail-a1"), None)
        .await
        .unwrap();
    take(&a_kept, second)
        .sent(Some("gmail-a2"), None)
        .await
        .unwrap();
    take(&b.kept, second)
        .sent(Some("gmail-b2"), None)
        .await
        .unwrap();

    for (id, kept, later) in [
        (first, "gmail-b1", "gmail-a1"),
        (second, "gmail-a2", "gmail-b2"),
    ] {
        let s = q.status(id).await.unwrap().expect("a status");
        assert_eq!(s.state, JobState::Sent);
        assert_eq!(
            s.transport_id.as_deref(),
            Some(kept),
            "the first send's id stays"
        );
        assert_eq!(
            s.duplicate_ids,
            [later],
            "the later send's id is kept beside it"
        );
    }
    assert_eq!(q.activity().duplicate_sends, 2, "{:?}", q.activity());
    b.stop().await;
}

/// Worker A holds a job and stops renewing; worker B takes it over and reschedules it (a
/// retry an hour away). Then A's send of it comes in: the mail went out, so the job is sent
/// and leaves the schedule, though A's delivery was no longer pending (the outcome batch's
/// `XACK` found fewer entries than it named).
async fn a_send_recorded_after_the_job_was_rescheduled_takes_it_out_of_the_schedule(redis: Redis) {
    let q = queue(&redis, config()).await;
    let j = job("a@example.com");
    q.enqueue(&j).await.unwrap();
    let (a_kept, b) = taken_over(&q, 1).await;
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    take(&b.kept, j.id())
        .retry_at(later, "temporary", true)
        .await
        .unwrap();
    assert_eq!(q.stats().await.unwrap().scheduled, 1);
    take(&a_kept, j.id())
        .sent(Some("gmail-a"), None)
        .await
        .unwrap();
    let s = q.status(j.id()).await.unwrap().expect("a status");
    assert_eq!(s.state, JobState::Sent);
    assert_eq!(s.transport_id.as_deref(), Some("gmail-a"));
    assert_eq!(
        q.stats().await.unwrap().scheduled,
        0,
        "it left the schedule"
    );
    b.stop().await;
}
