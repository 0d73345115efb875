//! Jobs that break the policy are dead-lettered without stopping the worker, and the `dead`
//! and `queue stats` commands show and act on them.

mod common;

use std::time::Duration;

use common::{Env, eventually, job, stats};
use mailroom_jobs::JobId;
use mailroom_queue::JobState;

const POLICY: &str = "[jobs]\nallowed_senders = [\"*@example.com\"]\n";

#[tokio::test(flavor = "multi_thread")]
async fn a_sender_off_the_allowlist_is_dead_lettered_and_the_worker_goes_on() {
    let env = Env::new(POLICY);
    let queue = env.queue().await;
    let worker = env.worker("w", &[]);

    // Pushed straight into Redis, so the command line's validation never saw it.
    let bad = queue
        .enqueue(&job("eve@evil.example", "victim@example.org", "Phish"))
        .await
        .unwrap()
        .id;
    let good = queue
        .enqueue(&job("noreply@example.com", "ann@example.org", "Fine"))
        .await
        .unwrap()
        .id;

    eventually(Duration::from_secs(30), "both jobs finished", || {
        let queue = queue.clone();
        async move {
            let b = queue.status(bad).await.unwrap().map(|s| s.state);
            let g = queue.status(good).await.unwrap().map(|s| s.state);
            b == Some(JobState::Dead) && g == Some(JobState::Sent)
        }
    })
    .await;
    let dead = queue.status(bad).await.unwrap().unwrap();
    let reason = dead.last_error.unwrap_or_default();
    assert!(reason.starts_with("invalid job: from: "), "{reason}");
    assert_eq!(env.outbox_files(), [env.outbox.join(format!("{good}.eml"))]);

    let log = worker.stop();
    assert!(
        !log.contains("eve@evil.example") && !log.contains("victim@example.org"),
        "full addresses in the log:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_letters_can_be_listed_shown_retried_and_purged() {
    let env = Env::new(POLICY);
    let queue = env.queue().await;
    let mut ids: Vec<JobId> = Vec::new();
    for i in 0..3 {
        let j = job(
            "eve@evil.example",
            &format!("user{i}@example.org"),
            &format!("Dead {i}"),
        );
        ids.push(queue.enqueue(&j).await.unwrap().id);
    }
    let worker = env.worker("w", &[]);
    common::wait_dead(&queue, 3, Duration::from_secs(30)).await;
    worker.stop();

    let table = env.run(&["queue", "stats"]).ok();
    let row = |name: &str| common::table_row(&table, name);
    assert_eq!(row("dead").as_deref(), Some("3"), "{table}");
    assert_eq!(row("ready").as_deref(), Some("0"), "{table}");

    let list = env.run(&["dead", "list"]).ok();
    assert!(list.starts_with("ID"), "a table with a header: {list}");
    for id in &ids {
        let line = list
            .lines()
            .find(|l| l.starts_with(&id.to_string()))
            .unwrap_or_else(|| panic!("{id} listed: {list}"));
        assert!(line.contains("invalid job: from: "), "{line}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&env.run(&["dead", "list", "--json", "--limit", "2"]).ok()).unwrap();
    assert_eq!(json.as_array().map(Vec::len), Some(2), "{json}");

    let shown = env.run(&["dead", "show", &ids[0].to_string()]).ok();
    assert!(
        shown.contains("dead") && shown.contains("invalid job: from: "),
        "{shown}"
    );
    assert!(
        shown.contains("\"subject\": \"Dead 0\""),
        "the payload is shown: {shown}"
    );
    let unknown = env.run(&["dead", "show", &JobId::new().to_string()]);
    assert_eq!(unknown.code(), Some(1));

    assert_eq!(
        env.run(&["dead", "retry", &ids[0].to_string()]).ok().trim(),
        "retried 1"
    );
    let s = stats(&queue).await;
    assert_eq!((s.dead, s.ready), (2, 1), "{s:?}");

    assert_eq!(env.run(&["dead", "purge", "--all"]).ok().trim(), "purged 2");
    assert_eq!(stats(&queue).await.dead, 0);
    assert!(env.run(&["dead", "list"]).ok().contains("no dead jobs"));
    let neither = env.run(&["dead", "purge"]);
    assert_eq!(neither.code(), Some(2), "ids or --all are required");

    // With the sender allowed, the retried job goes out.
    let relaxed = env.worker(
        "w2",
        &[("MAILROOM__JOBS__ALLOWED_SENDERS", "*@evil.example")],
    );
    eventually(Duration::from_secs(30), "the retried job sent", || {
        let queue = queue.clone();
        let id = ids[0];
        async move { queue.status(id).await.unwrap().map(|s| s.state) == Some(JobState::Sent) }
    })
    .await;
    relaxed.stop();
    let status = env.run(&["status", &ids[0].to_string()]).ok();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("state") && l.ends_with("sent")),
        "{status}"
    );
}
