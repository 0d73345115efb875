//! Broken job records pushed straight into Redis amid valid jobs: the scenario runner, and
//! its case of undecodable payloads.

use std::time::Duration;

use mailroom_jobs::JobId;

use super::{MACHINE, assert_drained, fake_google, gmail_world, missing, wait_all_sent};
use crate::common::google::{SENDER, Tally};
use crate::common::report::Report;
use crate::common::{Backing, enqueue_jobs, stats};

/// A job record pushed straight into Redis, as a producer in another language might write it,
/// with what its dead-letter reason must say.
pub struct Broken {
    /// The job id (the record's key and its stream entry's `id`).
    pub id: String,
    /// The record's fields; `state` `queued` is added.
    pub fields: Vec<(&'static str, Vec<u8>)>,
    /// Text the dead-letter reason must contain.
    pub why: &'static str,
}

/// A v1 payload from `SENDER` with `subject`, as JSON bytes.
pub fn payload(subject: &str) -> Vec<u8> {
    format!(
        r#"{{"version":"v1","from":"{SENDER}","to":["a@example.org"],"subject":"{subject}","text":"x"}}"#
    )
    .into_bytes()
}

/// Undecodable payloads pushed straight into Redis amid valid jobs: each is dead-lettered with
/// a reason naming what is wrong, every valid job is received exactly once, and the worker
/// never stops.
pub async fn malformed_payloads_amid_valid_jobs(redis: Backing, valid: usize) {
    let broken = |id: String, payload: &[u8], why| Broken {
        id,
        fields: vec![("payload", payload.to_vec()), ("attempts", b"0".to_vec())],
        why,
    };
    let v9 = String::from_utf8(payload("Hi"))
        .unwrap()
        .replace("v1", "v9");
    // A job may leave its subject out (a template gives it), not its sender.
    let no_sender = String::from_utf8(payload("Hi"))
        .unwrap()
        .replace(&format!(r#""from":"{SENDER}","#), "");
    let records = vec![
        broken(
            JobId::new().to_string(),
            b"{not json",
            "malformed payload: ",
        ),
        broken(
            JobId::new().to_string(),
            v9.as_bytes(),
            "unknown version \"v9\"",
        ),
        broken(
            JobId::new().to_string(),
            no_sender.as_bytes(),
            "missing field `from`",
        ),
        broken(
            "not-a-job-id".to_owned(),
            &payload("Hi"),
            "malformed job id \"not-a-job-id\"",
        ),
    ];
    let notes = format!("{} undecodable", records.len());
    broken_amid_valid(
        redis,
        valid,
        "malformed payloads amid valid jobs",
        &notes,
        records,
    )
    .await;
}

/// Pushes `broken` records straight into Redis amid `valid` jobs, runs a worker, and checks
/// that each broken record is dead-lettered alone with its reason, every valid job is received
/// exactly once, and the worker never stops. Writes the figures as `scenario`.
pub async fn broken_amid_valid(
    redis: Backing,
    valid: usize,
    scenario: &str,
    notes: &str,
    broken: Vec<Broken>,
) {
    let _shared = MACHINE.read().await;
    let mut report = Report::start(scenario, &redis);
    let google = fake_google();
    let env = gmail_world(redis, &google, "[worker]\nconcurrency = 64");
    let queue = env.queue().await;
    // Valid jobs before, between and after the broken ones, so they share fetch batches.
    let mut ids = enqueue_jobs(&queue, valid / 2).await;
    let mut conn = queue.connection();
    for (i, record) in broken.iter().enumerate() {
        let mut hset = redis::cmd("HSET");
        hset.arg(queue.key(&format!("job:{}", record.id)))
            .arg("state")
            .arg("queued");
        for (field, value) in &record.fields {
            hset.arg(*field).arg(value.as_slice());
        }
        let () = hset
            .query_async(&mut conn)
            .await
            .expect("push a broken job record");
        let _: String = redis::cmd("XADD")
            .arg(queue.key("ready"))
            .arg("*")
            .arg("id")
            .arg(&record.id)
            .query_async(&mut conn)
            .await
            .expect("push its stream entry");
        let between = if i + 1 == broken.len() {
            valid - ids.len()
        } else {
            10
        };
        ids.extend(enqueue_jobs(&queue, between).await);
    }
    assert_eq!(ids.len(), valid);
    report.set("jobs", valid + broken.len());
    report.set("notes", notes);

    let mut worker = env.worker("w", &[]);
    wait_all_sent(&queue, &ids, &mut [&mut worker], Duration::from_secs(120)).await;
    worker.assert_running();
    worker.stop();

    let tally = Tally::of(&google);
    let dead = stats(&queue).await.dead;
    report.tally(&tally);
    report.set("dead", dead);
    println!(
        "{} broken records amid {valid} valid jobs: received {}, unique {}, duplicates {}, \
         dead {dead}",
        broken.len(),
        tally.received,
        tally.unique(),
        tally.duplicates()
    );
    assert_eq!(missing(&tally, &ids), [], "valid jobs never received");
    assert_eq!(
        (tally.received, tally.unique(), tally.duplicates()),
        (valid, valid, 0),
        "every valid job is received exactly once, and nothing else"
    );
    assert_drained(&queue, broken.len() as u64).await;
    let mut conn = queue.connection();
    for Broken { id, why, .. } in &broken {
        let (state, reason): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(queue.key(&format!("job:{id}")))
            .arg(&["state", "last_error"])
            .query_async(&mut conn)
            .await
            .expect("read a broken job's record");
        let reason = reason.unwrap_or_default();
        assert_eq!(state.as_deref(), Some("dead"), "{id}: {reason}");
        assert!(reason.contains(why), "{id}: {reason:?} should say {why:?}");
        let in_dead: Option<f64> = redis::cmd("ZSCORE")
            .arg(queue.key("dead"))
            .arg(id)
            .query_async(&mut conn)
            .await
            .expect("read the dead-letter set");
        assert!(in_dead.is_some(), "{id} is in the dead-letter set");
    }
}
