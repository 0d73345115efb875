//! The operator endpoints answer what the command line prints for the same question: a
//! job's status and its cancel, the batch endpoint's all-or-none, the queue's stats, the
//! dead letters with their filters (retried and then sent), and the senders.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{eventually, wait_dead};
use crate::world::{Api, job, problem};

async fn get(api: &Api, path: &str, key: &str) -> Value {
    let answer = api.with(Method::GET, path, key).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 200, "GET {path}");
    answer.json().await.unwrap()
}

fn cli_json(api: &Api, args: &[&str]) -> Value {
    serde_json::from_str(&api.env.run(args).ok()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn status_cancel_and_stats_equal_the_command_line() {
    let api = Api::start("");
    let mut later = job("noreply@example.com", "ann@example.org");
    later["send_at"] = json!("2099-01-01T00:00:00Z");
    later["tags"] = json!(["welcome"]);
    let answer: Value = api
        .post_job(&api.keys.app, &later)
        .await
        .json()
        .await
        .unwrap();
    let id = answer["id"].as_str().unwrap().to_owned();

    let status = get(&api, &format!("/v1/messages/{id}"), &api.keys.reader).await;
    assert_eq!(status, cli_json(&api, &["status", &id, "--json"]));
    assert_eq!(status["state"], "scheduled");
    let stats = get(&api, "/v1/queue", &api.keys.reader).await;
    assert_eq!(stats, cli_json(&api, &["queue", "stats", "--json"]));
    assert_eq!(stats["scheduled"], 1);

    let bad = api
        .with(Method::GET, "/v1/messages/nope", &api.keys.reader)
        .send()
        .await
        .unwrap();
    let cli = api.env.run(&["status", "nope"]);
    let p = problem(bad, 400).await;
    assert_eq!(
        p["detail"],
        cli.stderr().trim().strip_prefix("error: ").unwrap()
    );
    assert_eq!(p["field"], "id");

    let path = format!("/v1/messages/{id}");
    problem(
        api.with(Method::DELETE, &path, &api.keys.reader)
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    let cancelled = api
        .with(Method::DELETE, &path, &api.keys.app)
        .send()
        .await
        .unwrap();
    assert_eq!(cancelled.status().as_u16(), 200);
    let again = api
        .with(Method::DELETE, &path, &api.keys.app)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 200, "a cancel is idempotent");
    let status = get(&api, &path, &api.keys.app).await;
    assert_eq!(status["state"], "cancelled");
    let unknown = "/v1/messages/01JD3Q1Z9XJ8Q4V6W2N0K5M7AB";
    problem(
        api.with(Method::DELETE, unknown, &api.keys.app)
            .send()
            .await
            .unwrap(),
        404,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_is_all_or_none_and_names_its_bad_job() {
    let api = Api::start("");
    let post = |body: Value, key: &str| {
        api.with(Method::POST, "/v1/messages/batch", key)
            .json(&body)
            .send()
    };
    let good = |i: usize| job("noreply@example.com", &format!("u{i}@example.org"));
    let mut bad = good(1);
    bad["to"] = json!(["bob@"]);
    let p = problem(
        post(json!({"jobs": [good(0), bad, good(2)]}), &api.keys.app)
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(p["index"], 1);
    assert_eq!(p["field"], "to[0]");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .starts_with("invalid job at index 1: to[0]: "),
        "{p}"
    );
    let p = problem(
        post(json!({"jobs": [good(0), good(1)]}), &api.keys.billing)
            .await
            .unwrap(),
        403,
    )
    .await;
    assert_eq!(p["index"], 0);
    let too_many: Vec<Value> = (0..1001).map(good).collect();
    let p = problem(
        post(json!({"jobs": too_many}), &api.keys.app)
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(p["field"], "jobs");
    let queue = api.env.queue().await;
    assert_eq!(
        crate::common::stats(&queue).await.enqueued,
        0,
        "nothing of a refused batch"
    );

    let thousand: Vec<Value> = (0..1000).map(good).collect();
    let answer = post(json!({"jobs": thousand}), &api.keys.app)
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 202);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer["jobs"].as_array().unwrap().len(), 1000);
    assert_eq!(crate::common::stats(&queue).await.enqueued, 1000);
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_letters_are_listed_by_filter_retried_and_sent() {
    let api = Api::start("");
    let mut ids = Vec::new();
    for i in 0..3 {
        let answer: Value = api
            .post_job(
                &api.keys.app,
                &job("noreply@example.com", &format!("u{i}@example.org")),
            )
            .await
            .json()
            .await
            .unwrap();
        ids.push(answer["id"].as_str().unwrap().to_owned());
    }
    // A worker whose allowlist has lost noreply@ dead-letters all three.
    let queue = api.env.queue().await;
    let strict = api.env.worker(
        "strict",
        &[("MAILROOM__JOBS__ALLOWED_SENDERS", "billing@example.com")],
    );
    wait_dead(&queue, 3, Duration::from_secs(30)).await;
    strict.stop();

    let listed = get(
        &api,
        "/v1/dead?reason=FROM&sender=noreply@example.com&limit=2",
        &api.keys.reader,
    )
    .await;
    assert_eq!(
        listed,
        cli_json(
            &api,
            &[
                "dead",
                "list",
                "--json",
                "--reason",
                "FROM",
                "--sender",
                "noreply@example.com",
                "--limit",
                "2"
            ]
        )
    );
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let none = get(&api, "/v1/dead?older_than=1h", &api.keys.reader).await;
    assert_eq!(none, json!([]));
    let p = problem(
        api.with(Method::GET, "/v1/dead?older_than=soon", &api.keys.reader)
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(p["field"], "older_than");

    let retry = |body: Value, key: &str| {
        api.with(Method::POST, "/v1/dead/retry", key)
            .json(&body)
            .send()
    };
    problem(
        retry(json!({"ids": [ids[0]]}), &api.keys.reader)
            .await
            .unwrap(),
        403,
    )
    .await;
    problem(retry(json!({}), &api.keys.admin).await.unwrap(), 422).await;
    let done: Value = retry(json!({"ids": [ids[0]]}), &api.keys.admin)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        done,
        json!({"selected": 1, "done": 1, "message": "retried 1"})
    );
    let purged: Value = api
        .with(Method::POST, "/v1/dead/purge", &api.keys.admin)
        .json(&json!({"ids": [ids[1]]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(purged["message"], "purged 1");
    let rest: Value = retry(json!({"reason": "from"}), &api.keys.admin)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["done"], 1);

    let mut worker = api.env.worker("w", &[]);
    api.env
        .wait_for_outbox(&mut worker, 2, Duration::from_secs(30));
    for id in [&ids[0], &ids[2]] {
        let path = format!("/v1/messages/{id}");
        eventually(Duration::from_secs(10), "sent", || async {
            get(&api, &path, &api.keys.reader).await["state"] == "sent"
        })
        .await;
    }
    let senders = get(&api, "/v1/senders", &api.keys.admin).await;
    assert_eq!(senders, cli_json(&api, &["auth", "list", "--json"]));
    let noreply = senders
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["sender"] == "noreply@example.com")
        .unwrap_or_else(|| panic!("{senders}"));
    assert_eq!(noreply["kind"], "service_account");
    assert_eq!(noreply["health"], "ok");
    assert_eq!(noreply["quota"]["minute"]["limit"], 150);
}
