//! Undecodable payloads pushed straight into Redis amid valid jobs.

use std::time::Duration;

use mailroom_jobs::JobId;

use super::{MACHINE, assert_drained, fake_google, gmail_world, missing, wait_all_sent};
use crate::common::google::{SENDER, Tally};
use crate::common::report::Report;
use crate::common::{Backing, enqueue_jobs, stats};

/// Undecodable payloads pushed straight into Redis amid valid jobs: each is dead-lettered with
/// a reason naming what is wrong, every valid job is received exactly once, and the worker
/// never stops.
pub async fn malformed_payloads_amid_valid_jobs(redis: Backing, valid: usize) {
    let _shared = MACHINE.read().await;
    let mut report = Report::start("malformed payloads amid valid jobs", &redis);
    let google = fake_google();
    let env = gmail_world(redis, &google, "[worker]\nconcurrency = 64");
    let queue = env.queue().await;
    // What a service in another language might push without validating; each entry is the
    // job id, its payload, and what the dead-letter reason must say.
    let bad_id = JobId::new();
    let unknown_version = JobId::new();
    let no_subject = JobId::new();
    let broken: [(String, String, &str); 4] = [
        (
            bad_id.to_string(),
            "{not json".to_owned(),
            "malformed payload: ",
        ),
        (
            unknown_version.to_string(),
            format!(
                r#"{{"version":"v9","from":"{SENDER}","to":["a@example.org"],"subject":"Hi","text":"x"}}"#
            ),
            "unknown version \"v9\"",
        ),
        (
            no_subject.to_string(),
            format!(r#"{{"version":"v1","from":"{SENDER}","to":["a@example.org"],"text":"x"}}"#),
            "missing field `subject`",
        ),
        (
            "not-a-job-id".to_owned(),
            format!(
                r#"{{"version":"v1","from":"{SENDER}","to":["a@example.org"],"subject":"Hi","text":"x"}}"#
            ),
            "malformed job id \"not-a-job-id\"",
        ),
    ];
    // Valid jobs before, between and after the broken ones, so they share fetch batches.
    let mut ids = enqueue_jobs(&queue, valid / 2).await;
    let mut conn = queue.connection();
    for (i, (id, payload, _)) in broken.iter().enumerate() {
        let () = redis::cmd("HSET")
            .arg(queue.key(&format!("job:{id}")))
            .arg(&[
                ("payload", payload.as_str()),
                ("state", "queued"),
                ("attempts", "0"),
            ])
            .query_async(&mut conn)
            .await
            .expect("push a broken job record");
        let _: String = redis::cmd("XADD")
            .arg(queue.key("ready"))
            .arg("*")
            .arg("id")
            .arg(id)
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
    report.set("notes", format!("{} undecodable", broken.len()));

    let mut worker = env.worker("w", &[]);
    wait_all_sent(&queue, &ids, &mut [&mut worker], Duration::from_secs(120)).await;
    worker.assert_running();
    worker.stop();

    let tally = Tally::of(&google);
    let dead = stats(&queue).await.dead;
    report.tally(&tally);
    report.set("dead", dead);
    println!(
        "{} broken payloads amid {valid} valid jobs: received {}, unique {}, duplicates {}, \
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
    for (id, _, why) in &broken {
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
