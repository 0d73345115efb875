//! The client against a real Redis: validation before anything is stored, atomic batches,
//! scheduling, status and cancel.

use mailroom_enqueue::{
    Address, Cancelled, Client, EmailJob, EmailJobV1, EnqueueError, JobState, Policy, QueueConfig,
    SenderAllowlist,
};
use mailroom_testkit::{RedisServer, command_calls};

fn job(to: &str) -> EmailJob {
    EmailJobV1::builder("Acme <noreply@acme.test>".parse().unwrap())
        .to(Address::parse(to).unwrap())
        .subject("Hello")
        .text("Hi")
        .build()
}

async fn conn(redis: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis
        .client()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn ready_count(redis: &RedisServer) -> u64 {
    let mut c = conn(redis).await;
    redis::cmd("XLEN")
        .arg("{mailroom}:v2:ready")
        .query_async(&mut c)
        .await
        .unwrap()
}

#[tokio::test]
async fn send_validates_before_touching_redis() {
    let redis = RedisServer::start();
    let client = Client::connect(&redis.url(), "mailroom").await.unwrap();
    let mut bad = job("bob@example.com");
    bad.v1_mut().subject = "Hi\r\nBcc: everyone@example.com".into();
    match client.send(bad).await {
        Err(EnqueueError::Invalid(e)) => assert_eq!(e.field, "subject"),
        other => panic!("expected a validation error, got {other:?}"),
    }
    let mut none = job("bob@example.com");
    none.v1_mut().to.clear();
    let err = client.send(none).await.unwrap_err();
    assert!(err.to_string().contains("to"), "{err}");
    assert_eq!(ready_count(&redis).await, 0, "nothing reached Redis");
}

#[tokio::test]
async fn send_many_is_all_or_nothing() {
    let redis = RedisServer::start();
    let client = Client::connect(&redis.url(), "mailroom").await.unwrap();
    let mut jobs: Vec<_> = (0..10).map(|i| job(&format!("u{i}@example.com"))).collect();
    jobs[7].v1_mut().text = None;
    match client.send_many(jobs.clone()).await {
        Err(EnqueueError::InvalidInBatch { index, error }) => {
            assert_eq!(index, 7);
            assert_eq!(error.field, "text");
        }
        other => panic!("expected a batch validation error, got {other:?}"),
    }
    assert_eq!(ready_count(&redis).await, 0);
    jobs[7].v1_mut().text = Some("fixed".into());
    let out = client.send_many(jobs.clone()).await.unwrap();
    assert_eq!(out.len(), 10);
    assert_eq!(ready_count(&redis).await, 10);
    assert!(out.iter().zip(&jobs).all(|(e, j)| e.id == j.id()));
}

/// Redis's count of `EVALSHA` calls so far.
async fn script_calls(redis: &RedisServer) -> u64 {
    let mut c = conn(redis).await;
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut c)
        .await
        .unwrap();
    command_calls(&info, "evalsha")
}

/// The job ids in the ready stream, in stream order.
async fn ready_ids(redis: &RedisServer) -> Vec<String> {
    let mut c = conn(redis).await;
    let reply: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
        .arg("{mailroom}:v2:ready")
        .arg("-")
        .arg("+")
        .query_async(&mut c)
        .await
        .unwrap();
    reply
        .ids
        .iter()
        .map(|e| e.get::<String>("id").unwrap())
        .collect()
}

#[tokio::test]
async fn a_large_batch_is_queued_in_order_by_short_script_calls_and_a_repeat_queues_none_twice() {
    let redis = RedisServer::start();
    let client = Client::connect(&redis.url(), "mailroom").await.unwrap();
    let jobs: Vec<_> = (0..1_000)
        .map(|i| job(&format!("u{i}@example.com")))
        .collect();
    // A batch cut short (Redis failed after its first runs) is enqueued again whole.
    let first = client.send_many(jobs[..250].to_vec()).await.unwrap();
    assert!(first.iter().all(|e| !e.duplicate));
    let calls = script_calls(&redis).await;
    let out = client.send_many(jobs.clone()).await.unwrap();
    assert_eq!(
        script_calls(&redis).await - calls,
        (1_000 / mailroom_queue::SCRIPT_JOBS) as u64,
        "one script call per run of {} jobs",
        mailroom_queue::SCRIPT_JOBS
    );
    assert!(out.iter().zip(&jobs).all(|(e, j)| e.id == j.id()));
    assert_eq!(
        out.iter().filter(|e| e.duplicate).count(),
        250,
        "the jobs queued before answer as duplicates"
    );
    let ids: Vec<String> = jobs.iter().map(|j| j.id().to_string()).collect();
    assert_eq!(
        ready_ids(&redis).await,
        ids,
        "each job queued once, in order"
    );
}

#[tokio::test]
async fn idempotency_key_dedups_and_status_echoes_metadata() {
    let redis = RedisServer::start();
    let client = Client::connect(&redis.url(), "mailroom").await.unwrap();
    let keyed = || {
        let mut j = job("bob@example.com");
        j.v1_mut().idempotency_key = Some("order-7-receipt".into());
        j.v1_mut().metadata.insert("order".into(), "7".into());
        j.v1_mut().tags.push("receipts".into());
        j
    };
    let a = client.send(keyed()).await.unwrap();
    let b = client.send(keyed()).await.unwrap();
    assert!(!a.duplicate && b.duplicate);
    assert_eq!(a.id, b.id);
    let status = client.status(a.id).await.unwrap().unwrap();
    assert_eq!(status.state, JobState::Queued);
    assert_eq!(status.metadata.get("order").map(String::as_str), Some("7"));
    assert_eq!(status.tags, vec!["receipts".to_owned()]);
}

#[tokio::test]
async fn schedule_then_cancel() {
    let redis = RedisServer::start();
    let client = Client::connect(&redis.url(), "mailroom").await.unwrap();
    let at = chrono::Utc::now() + chrono::Duration::hours(2);
    let e = client.schedule(job("bob@example.com"), at).await.unwrap();
    let status = client.status(e.id).await.unwrap().unwrap();
    assert_eq!(status.state, JobState::Scheduled);
    assert_eq!(
        status.due_at.map(|t| t.timestamp_millis()),
        Some(at.timestamp_millis())
    );
    assert_eq!(client.cancel(e.id).await.unwrap(), Cancelled::Cancelled);
    assert_eq!(
        client.status(e.id).await.unwrap().unwrap().state,
        JobState::Cancelled
    );
}

#[tokio::test]
async fn sender_allowlist_is_enforced_at_enqueue() {
    let redis = RedisServer::start();
    let policy = Policy {
        allowed_senders: Some(SenderAllowlist::new(["*@acme.test"]).unwrap()),
        ..Policy::default()
    };
    let client = Client::connect_with(&redis.url(), QueueConfig::default(), policy)
        .await
        .unwrap();
    assert!(client.send(job("bob@example.com")).await.is_ok());
    let mut intruder = job("bob@example.com");
    intruder.v1_mut().from = "ceo@other.test".parse().unwrap();
    match client.send(intruder).await {
        Err(EnqueueError::Invalid(e)) => assert_eq!(e.field, "from"),
        other => panic!("expected the allowlist to refuse, got {other:?}"),
    }
}

#[tokio::test]
async fn unreachable_redis_is_an_error() {
    let mut redis = RedisServer::start();
    let client = Client::connect(&redis.url(), "mailroom").await.unwrap();
    redis.kill();
    match client.send(job("bob@example.com")).await {
        Err(EnqueueError::Unavailable(_)) => {}
        other => panic!("expected unavailable, got {other:?}"),
    }
}

/// Single sends from many concurrent callers share script calls: the jobs that wait while
/// calls are running go together in the next one, at most `SCRIPT_JOBS` a call. Each caller
/// still gets its own answer, and a duplicate within one call is found as it would be alone.
/// (The callers are polled in one pass on the test's one-thread runtime, so every job waits
/// before the first call starts and the count of calls is exact.)
#[tokio::test]
async fn concurrent_sends_share_script_calls_and_each_gets_its_own_answer() {
    let redis = RedisServer::start();
    let client = Client::connect(&redis.url(), "mailroom").await.unwrap();
    let mut jobs: Vec<_> = (0..300)
        .map(|i| job(&format!("u{i}@example.com")))
        .collect();
    for j in &mut jobs[10..12] {
        j.v1_mut().idempotency_key = Some("order-9-receipt".into());
    }
    // The first call loads the script; the count starts after it.
    let first = client.send(job("first@example.com")).await.unwrap();
    let calls = script_calls(&redis).await;
    let answers = all_at_once(jobs.iter().map(|j| client.send(j.clone()))).await;
    assert_eq!(
        script_calls(&redis).await - calls,
        3,
        "300 jobs sent at once go in three calls of 100"
    );
    let answers: Vec<_> = answers.into_iter().map(Result::unwrap).collect();
    for (i, (answer, j)) in answers.iter().zip(&jobs).enumerate() {
        if i != 11 {
            assert_eq!((answer.id, answer.duplicate), (j.id(), false), "job {i}");
        }
    }
    assert!(answers[11].duplicate, "the second job with the same key");
    assert_eq!(
        answers[11].id,
        jobs[10].id(),
        "answers with the first one's id"
    );
    let mut queued = ready_ids(&redis).await;
    queued.sort();
    let mut expected: Vec<String> = jobs
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 11)
        .map(|(_, j)| j.id().to_string())
        .chain([first.id.to_string()])
        .collect();
    expected.sort();
    assert_eq!(queued, expected, "each job queued once");
}

/// A call that fails answers every caller whose job it held, with the error.
#[tokio::test]
async fn concurrent_sends_to_an_unreachable_redis_all_fail() {
    let mut redis = RedisServer::start();
    let client = Client::connect(&redis.url(), "mailroom").await.unwrap();
    redis.kill();
    let jobs: Vec<_> = (0..50).map(|i| job(&format!("u{i}@example.com"))).collect();
    let answers = all_at_once(jobs.into_iter().map(|j| client.send(j))).await;
    for answer in answers {
        match answer {
            Err(EnqueueError::Unavailable(_)) => {}
            other => panic!("expected unavailable, got {other:?}"),
        }
    }
}

/// Awaits `futures` together, polling every one that is not done in each pass (unlike
/// `join_all`, which yields to the runtime partway through a long list).
async fn all_at_once<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut done = true;
        for (future, output) in futures.iter_mut().zip(&mut outputs) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(out) => *output = Some(out),
                    std::task::Poll::Pending => done = false,
                }
            }
        }
        if done {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
