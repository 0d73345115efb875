//! `POST /v1/messages`: accepted jobs are sent, duplicates are found, bad jobs get the
//! command line's message as a problem naming the field, keys and scopes are enforced, and a
//! Redis that is away is a 503, never a silent drop.

use std::time::Duration;

use reqwest::Method;

use crate::world::{Api, job, problem};

#[tokio::test(flavor = "multi_thread")]
async fn a_posted_job_is_sent_once_and_its_repeat_is_a_duplicate() {
    let api = Api::start("");
    let body = job("noreply@example.com", "ann@example.org");
    let first = api
        .with(Method::POST, "/v1/messages", &api.keys.app)
        .header("Idempotency-Key", "order-17")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status().as_u16(), 202);
    let first: serde_json::Value = first.json().await.unwrap();
    assert_eq!(first["duplicate"], false);
    let again: serde_json::Value = api
        .with(Method::POST, "/v1/messages", &api.keys.app)
        .header("Idempotency-Key", "order-17")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["id"], first["id"]);

    let mut worker = api.env.worker("w1", &[]);
    api.env
        .wait_for_outbox(&mut worker, 1, Duration::from_secs(30));
    let id = first["id"].as_str().unwrap();
    let queue = api.env.queue().await;
    crate::common::eventually(Duration::from_secs(10), "the job is sent", || async {
        queue
            .status(id.parse().unwrap())
            .await
            .unwrap()
            .is_some_and(|s| s.state.as_str() == "sent")
    })
    .await;
    assert_eq!(
        api.env.outbox_files().len(),
        1,
        "one message for two requests"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_jobs_get_the_command_lines_message_naming_the_field() {
    let api = Api::start("");
    let bad = serde_json::json!({
        "version": "v1", "from": "noreply@example.com", "to": ["bob@"], "subject": "Hi", "text": "x",
    });
    let cli = api
        .env
        .run_with_stdin(&["send", "--json", "-"], bad.to_string().as_bytes());
    assert_eq!(cli.code(), Some(2));
    let said = cli
        .stderr()
        .trim()
        .strip_prefix("error: ")
        .unwrap()
        .to_owned();
    let p = problem(api.post_job(&api.keys.app, &bad).await, 422).await;
    assert_eq!(p["detail"], said);
    assert_eq!(p["field"], "to[0]");

    let not_json = api
        .with(Method::POST, "/v1/messages", &api.keys.app)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let p = problem(not_json, 400).await;
    assert!(
        p["detail"].as_str().unwrap().starts_with("invalid job: "),
        "{p}"
    );

    let no_text =
        serde_json::json!({"version": "v1", "from": "noreply@example.com", "subject": "Hi"});
    let cli = api
        .env
        .run_with_stdin(&["send", "--json", "-"], no_text.to_string().as_bytes());
    let p = problem(api.post_job(&api.keys.app, &no_text).await, 422).await;
    assert_eq!(
        p["detail"],
        cli.stderr().trim().strip_prefix("error: ").unwrap()
    );
    assert!(p["field"].is_string(), "{p}");

    let huge = serde_json::json!({
        "version": "v1", "from": "noreply@example.com", "to": ["a@example.org"], "subject": "Hi",
        "text": "x".repeat(2 * 1024 * 1024),
    });
    let api_small = api
        .with(Method::POST, "/v1/messages", &api.keys.app)
        .json(&huge)
        .send()
        .await
        .unwrap();
    // The default api.max_body_bytes is 10 MiB: this one passes the limit and is queued.
    assert_eq!(api_small.status().as_u16(), 202);
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_over_the_limit_are_413_problems() {
    let api = Api::start("[api]\nmax_body_bytes = 4096\nmax_batch_bytes = 8192\n");
    for (path, size) in [
        ("/v1/messages", 5000),
        ("/v1/messages/batch", 9000),
        ("/v1/messages", 20_000),
    ] {
        let body = serde_json::json!({
            "version": "v1", "from": "noreply@example.com", "to": ["a@example.org"],
            "subject": "Hi", "text": "x".repeat(size),
        });
        let answer = api
            .with(Method::POST, path, &api.keys.app)
            .json(&body)
            .send()
            .await
            .unwrap();
        problem(answer, 413).await;
    }
    let stats = crate::common::stats(&api.env.queue().await).await;
    assert_eq!(stats.enqueued, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_scopes_and_sender_lists_are_enforced() {
    let api = Api::start("");
    let body = job("noreply@example.com", "ann@example.org");
    let anonymous = api
        .http
        .post(api.url("/v1/messages"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        anonymous
            .headers()
            .get("www-authenticate")
            .unwrap()
            .to_str()
            .unwrap(),
        "Bearer"
    );
    problem(anonymous, 401).await;
    problem(api.post_job("mrk_not-a-key", &body).await, 401).await;
    let p = problem(api.post_job(&api.keys.reader, &body).await, 403).await;
    assert!(p["detail"].as_str().unwrap().contains("\"send\""), "{p}");

    // The billing key may send as billing@ only.
    let p = problem(api.post_job(&api.keys.billing, &body).await, 403).await;
    assert_eq!(p["field"], "from");
    let ok = api
        .post_job(
            &api.keys.billing,
            &job("billing@example.com", "ann@example.org"),
        )
        .await;
    assert_eq!(ok.status().as_u16(), 202);
    // Its list names other@, which jobs.allowed_senders does not: the key never widens it.
    let p = problem(
        api.post_job(
            &api.keys.billing,
            &job("other@example.com", "ann@example.org"),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["field"], "from");

    let stats = crate::common::stats(&api.env.queue().await).await;
    assert_eq!(stats.enqueued, 1, "only the allowed job was queued");
    let log = api.process.log_text();
    for secret in [&api.keys.app, &api.keys.reader, &api.keys.billing] {
        assert!(!log.contains(secret.as_str()), "a secret in the log");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_away_is_a_503_and_nothing_is_lost_when_it_returns() {
    let mut api = Api::start("");
    let body = job("noreply@example.com", "ann@example.org");
    assert_eq!(
        api.post_job(&api.keys.app, &body).await.status().as_u16(),
        202
    );
    api.env.redis.kill();
    let p = problem(api.post_job(&api.keys.app, &body).await, 503).await;
    assert!(
        p["detail"].as_str().unwrap().contains("queue unavailable"),
        "{p}"
    );
    api.env.redis.restart();
    crate::common::eventually(Duration::from_secs(20), "Redis is back", || {
        let answer = api.post_job(&api.keys.app, &body);
        async {
            let status = answer.await.status().as_u16();
            assert!(status == 202 || status == 503, "{status}");
            status == 202
        }
    })
    .await;
    api.process.assert_running();
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_are_counted_by_route_template_and_carry_a_request_id() {
    let api = Api::start("");
    let answer = api
        .with(
            Method::GET,
            "/v1/messages/01JD3Q1Z9XJ8Q4V6W2N0K5M7AB",
            &api.keys.app,
        )
        .header("x-request-id", "trace-42")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["x-request-id"], "trace-42");
    problem(answer, 404).await;
    let minted = api.http.get(api.url("/nowhere")).send().await.unwrap();
    assert!(!minted.headers()["x-request-id"].is_empty());
    problem(minted, 404).await;
    let scrape = api
        .http
        .get(api.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        scrape.contains("mailroom_http_requests_total{code=\"404\",route=\"/v1/messages/{id}\"} 1"),
        "{scrape}"
    );
    assert!(scrape.contains("route=\"unmatched\""), "{scrape}");
    assert!(
        !scrape.contains("01JD3Q1Z9XJ8Q4V6W2N0K5M7AB"),
        "raw paths never become labels"
    );
    assert!(
        scrape.contains("mailroom_http_request_duration_seconds_bucket"),
        "{scrape}"
    );
}
