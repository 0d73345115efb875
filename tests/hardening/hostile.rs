//! Hostile input, one matrix (the README's "Hostile input" table row by row): each bad input
//! gets its exact result, a clear error at enqueue naming the field, or exactly one dead letter
//! with a reason while every job around it is sent; absurd durations in the config are
//! refused naming the key; absurd numbers from Google never crash the worker.

use std::time::Duration;

use mailroom_jobs::{Address, Attachment, EmailJob, EmailJobV1, JobId};
use mailroom_queue::JobState;
use mailroom_testkit::google::{Fault, FaultRule};
use serde_json::{Value, json};

use crate::common::google::{SENDER, gmail_env};
use crate::common::{Env, enqueue_jobs, eventually, stats, wait_dead};

/// A valid job as JSON, for a row to break.
fn base() -> Value {
    json!({
        "version": "v1", "from": "noreply@example.com", "to": ["ann@example.org"],
        "subject": "Hello", "text": "Hello there",
    })
}

/// `base()` with `patch` applied (top-level fields replaced).
fn with(patch: Value) -> Vec<u8> {
    let mut job = base();
    for (k, v) in patch.as_object().expect("an object") {
        job[k] = v.clone();
    }
    job.to_string().into_bytes()
}

/// A valid job with every field that ends up in a header.
fn full() -> Value {
    json!({
        "version": "v1", "from": "noreply@example.com", "to": ["Ann <ann@example.org>"],
        "subject": "Hello", "text": "Hello there", "headers": {"X-Campaign": "spring"},
        "idempotency_key": "k-1", "thread": {"thread_id": "t-1", "in_reply_to": "<a@b.example>"},
        "attachments": [{"filename": "a.txt", "content_type": "text/plain", "content": "aGk="}],
    })
}

/// Inputs refused at enqueue (`mailroom send --json -`): the bytes, and what the error must
/// say (the field, or for a document that is not a job at all, why).
fn refused_at_enqueue() -> Vec<(&'static str, Vec<u8>, String)> {
    let mut rows: Vec<(&str, Vec<u8>, String)> = Vec::new();
    // Header injection: CR/LF at each place that ends up in a header, by JSON pointer into a
    // job that has every such field.
    for (pointer, field) in [
        ("/subject", "subject"),
        ("/headers/X-Campaign", "headers[X-Campaign]"),
        ("/to/0", "to[0]"),
        ("/attachments/0/filename", "attachments[0].filename"),
        ("/attachments/0/content_type", "attachments[0].content_type"),
        ("/idempotency_key", "idempotency_key"),
        ("/thread/thread_id", "thread.thread_id"),
        ("/thread/in_reply_to", "thread.in_reply_to"),
    ] {
        let mut job = full();
        let value = job.pointer_mut(pointer).expect("a field of the full job");
        let text = value.as_str().expect("text").to_owned();
        *value = Value::from(match text.split_once(' ') {
            // A display name: the injection goes into the name.
            Some((name, addr)) => format!("{name}\r\nBcc: x@evil.example {addr}"),
            None => format!("{text}\r\nBcc: all@evil.example"),
        });
        rows.push((
            "header injection",
            job.to_string().into_bytes(),
            format!("{field}:"),
        ));
    }
    let mut renamed = full();
    renamed["headers"] = json!({"X-A\r\nBcc": "x"});
    rows.push((
        "CRLF in a header name",
        renamed.to_string().into_bytes(),
        "headers[X-A".into(),
    ));
    rows.extend([
        (
            "1,000 recipients",
            with(json!({"to": (0..1000).map(|i| format!("u{i}@example.org")).collect::<Vec<_>>()})),
            "to: 1000 recipients".into(),
        ),
        (
            "a 36 MB message",
            with(json!({"text": "x".repeat(36_700_161)})),
            "message: rendered message would be at least".into(),
        ),
        (
            "10 MB of metadata",
            with(json!({"metadata": {"blob": "x".repeat(10 << 20)}})),
            "metadata: metadata and tags hold".into(),
        ),
        (
            "JSON nested 10,000 deep",
            format!(
                "{{\"version\":\"v1\",\"metadata\":{}{}}}",
                "[".repeat(10_000),
                "]".repeat(10_000)
            )
            .into_bytes(),
            "recursion limit exceeded".into(),
        ),
        (
            "invalid UTF-8",
            [&b"{\"version\":\"v1\",\"subject\":\"\xff\xfe\""[..], b"}"].concat(),
            "invalid unicode".into(),
        ),
        (
            "bad base64",
            with(json!({"attachments": [
                {"filename": "a.bin", "content_type": "application/octet-stream", "content": "!!!not base64"}
            ]})),
            "attachments[0].content:".into(),
        ),
        (
            "a sender with {}",
            with(json!({"from": "{x}@example.com"})),
            "from:".into(),
        ),
        (
            "a sender with :",
            with(json!({"from": "\"a:b\"@example.com"})),
            "from:".into(),
        ),
        (
            "a sender off the allowlist",
            with(json!({"from": "ceo@other.example"})),
            "from: sender ceo@other.example is not on the allowlist".into(),
        ),
    ]);
    for name in [
        "Resent-From",
        "Resent-Message-ID",
        "DKIM-Signature",
        "Received",
        "Authentication-Results",
        "Return-Path",
        "Sender",
        "Disposition-Notification-To",
        "Errors-To",
        "ARC-Seal",
    ] {
        rows.push((
            "a reserved header",
            with(json!({"headers": {name: "x"}})),
            format!("headers[{name}]: {name} is reserved"),
        ));
    }
    rows
}

#[test]
fn each_bad_input_is_refused_at_enqueue_naming_the_field() {
    let env = Env::new("[jobs]\nallowed_senders = [\"*@example.com\"]\n");
    for (what, payload, says) in refused_at_enqueue() {
        let out = env.run_with_stdin(&["send", "--json", "-"], &payload);
        let stderr = out.stderr();
        assert_eq!(out.code(), Some(2), "{what}: {stderr}");
        assert!(
            stderr.contains(&says),
            "{what}: expected {says:?} in {stderr}"
        );
        assert!(
            stderr.len() < 2_000,
            "{what}: {} bytes of error",
            stderr.len()
        );
    }
    assert_eq!(env.run(&["queue", "stats", "--json"]).code(), Some(0));
}

#[test]
fn an_error_quotes_at_most_200_characters_of_a_field() {
    let env = Env::new("");
    let long = format!("{}@", "x".repeat(100_000));
    let out = env.run_with_stdin(&["send", "--json", "-"], &with(json!({"to": [long]})));
    let stderr = out.stderr();
    assert_eq!(out.code(), Some(2), "{stderr}");
    assert!(stderr.contains("to[0]: invalid address"), "{stderr}");
    assert!(stderr.contains("(99801 more characters)"), "{stderr}");
    assert!(stderr.len() < 1_000, "{} bytes", stderr.len());
}

/// Jobs that reach Redis without the producer's checks (a service in another language, a
/// producer with a wider allowlist): the bad job and the reason its dead letter must give.
fn dead_at_the_worker() -> Vec<(&'static str, EmailJob, &'static str)> {
    let from = |a: &str| Address::parse(a).unwrap();
    let job = |sender: &str| {
        EmailJobV1::builder(from(sender))
            .to(from("ann@example.org"))
            .subject("Hello")
            .text("Hello there")
    };
    let many = (0..1000).fold(job(SENDER), |b, i| b.to(from(&format!("u{i}@example.org"))));
    vec![
        (
            "CRLF in a header value",
            job(SENDER)
                .header("X-Campaign", "x\r\nBcc: all@evil.example")
                .build(),
            "invalid job: headers[X-Campaign]: value contains CR or LF",
        ),
        (
            "a reserved header",
            job(SENDER).header("DKIM-Signature", "v=1").build(),
            "invalid job: headers[DKIM-Signature]: DKIM-Signature is reserved",
        ),
        (
            "1,000 recipients",
            many.build(),
            "invalid job: to: 1001 recipients",
        ),
        (
            "a sender with {}",
            job("{x}@example.com").build(),
            "invalid job: from: a sender address cannot contain '{'",
        ),
        (
            "a sender off the allowlist",
            job("ceo@other.example").build(),
            "invalid job: from: sender ceo@other.example is not on the allowlist",
        ),
        (
            "10 MB of metadata",
            {
                let mut v1 = job(SENDER).build().into_v1();
                v1.metadata.insert("blob".into(), "x".repeat(10 << 20));
                v1.into()
            },
            "invalid job: metadata: metadata and tags hold",
        ),
        (
            "a 36 MB message",
            job(SENDER)
                .attachment(Attachment::new(
                    "big.bin",
                    "application/octet-stream",
                    vec![7u8; 28 << 20],
                ))
                .build(),
            "invalid job: message: rendered message",
        ),
        (
            "a 100 MB record pushed straight into Redis",
            job(SENDER)
                .attachment(Attachment::new(
                    "huge.bin",
                    "application/octet-stream",
                    vec![7u8; 75 << 20],
                ))
                .build(),
            "malformed payload: the job is 10485",
        ),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn each_bad_job_in_redis_is_one_dead_letter_and_its_neighbours_are_sent() {
    let env = Env::new("[jobs]\nallowed_senders = [\"*@example.com\"]\n");
    let queue = env.queue().await;
    let mut valid = enqueue_jobs(&queue, 10).await;
    let mut bad: Vec<(&str, JobId, &str)> = Vec::new();
    for (what, job, reason) in dead_at_the_worker() {
        bad.push((what, queue.enqueue(&job).await.expect("enqueue").id, reason));
        valid.extend(enqueue_jobs(&queue, 5).await);
    }
    let mut worker = env.worker("w", &[]);
    // Bounds for a loaded machine: in a debug build the 36 MB and 100 MB rows take tens of
    // seconds to move through Redis and the worker; the waits end as soon as the state is seen.
    wait_dead(&queue, bad.len() as u64, Duration::from_secs(300)).await;
    env.wait_for_outbox(&mut worker, valid.len(), Duration::from_secs(120));
    worker.assert_running();
    for (what, id, reason) in &bad {
        let status = queue.status(*id).await.unwrap().expect("a status");
        assert_eq!(status.state, JobState::Dead, "{what}");
        let error = status.last_error.unwrap_or_default();
        assert!(error.starts_with(reason), "{what}: {error}");
    }
    for id in &valid {
        let status = queue.status(*id).await.unwrap().expect("a status");
        assert_eq!(status.state, JobState::Sent, "{id}");
    }
    assert_eq!(
        stats(&queue).await.dead,
        bad.len() as u64,
        "exactly one dead letter each"
    );
    worker.stop();
}

#[test]
fn absurd_durations_in_the_config_are_refused_naming_the_key() {
    let env = Env::new("");
    for (var, value, key) in [
        ("MAILROOM__RETRY__CAP", "300years", "retry.cap"),
        ("MAILROOM__QUEUE__LEASE", "500years", "queue.lease"),
        (
            "MAILROOM__CREDENTIALS__QUARANTINE_GIVE_UP",
            "1000years",
            "credentials.quarantine_give_up",
        ),
        (
            "MAILROOM__HTTP__HEADER_TIMEOUT",
            "99999999999999999999s",
            "http.header_timeout",
        ),
    ] {
        let out = env
            .command(&["config", "check"])
            .env(var, value)
            .output()
            .expect("run mailroom");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}={value}: {stderr}");
        assert!(stderr.contains(key), "{var}={value}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn absurd_retry_after_and_expires_in_from_google_never_crash_the_worker() {
    let google = mailroom_testkit::google::FakeGoogle::start();
    google.announce_expires_in(Some(u64::MAX));
    google.inject(FaultRule::send(Fault::rate_limited(Duration::from_secs(u64::MAX))).times(1));
    let env = gmail_env(&google, "");
    let queue = env.queue().await;
    let held = queue
        .enqueue(&crate::common::job(SENDER, "ann@example.org", "held"))
        .await
        .unwrap()
        .id;
    let mut worker = env.worker("w", &[]);
    eventually(
        Duration::from_secs(30),
        "the 429 to be recorded",
        || async {
            queue
                .status(held)
                .await
                .unwrap()
                .is_some_and(|s| s.state == JobState::Retrying && s.last_error.is_some())
        },
    )
    .await;
    let status = queue.status(held).await.unwrap().unwrap();
    let due = status.due_at.expect("a retry time");
    assert!(
        due <= chrono::Utc::now() + chrono::Duration::hours(25),
        "Retry-After clamped to retry.max_retry_after: {due}"
    );
    // The token with an expires_in of u64::MAX works for the other sender.
    let other = queue
        .enqueue(&crate::common::job(
            crate::common::google::OTHER,
            "bob@example.org",
            "goes",
        ))
        .await
        .unwrap()
        .id;
    crate::wait_state(&queue, other, JobState::Sent, Duration::from_secs(30)).await;
    worker.assert_running();
    worker.stop();
}
