//! `/v1/templates…`: admin keys store and delete, read keys read and preview; a job posted
//! with a template is rendered at enqueue, and one missing a variable is refused naming it.

use reqwest::Method;
use serde_json::{Value, json};

use crate::world::{Api, problem};

fn welcome() -> Value {
    json!({
        "fallback_locale": "en",
        "locales": {
            "en": {"subject": "Welcome, {{ name }}", "html": "<p>Hi {{ name }}</p>"},
            "de": {"subject": "Willkommen, {{ name }}", "text": "Hallo {{ name }}"}
        }
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn templates_are_stored_by_admins_read_previewed_and_rendered_into_jobs() {
    let api = Api::start("");
    let put = |key: &str| {
        api.with(Method::PUT, "/v1/templates/welcome", key)
            .json(&welcome())
            .send()
    };
    problem(put(&api.keys.reader).await.unwrap(), 403).await;
    let stored: Value = put(&api.keys.admin).await.unwrap().json().await.unwrap();
    assert_eq!(
        (stored["version"].as_u64(), stored["latest"].as_u64()),
        (Some(1), Some(1))
    );
    let again = put(&api.keys.admin).await.unwrap();
    assert_eq!(again.status().as_u16(), 201);

    let list: Value = api
        .with(Method::GET, "/v1/templates", &api.keys.reader)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list,
        json!({"templates": [{"name": "welcome", "latest": 2}]})
    );
    let v1: Value = api
        .with(
            Method::GET,
            "/v1/templates/welcome?version=1",
            &api.keys.reader,
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v1["template"], welcome());

    let preview: Value = api
        .with(
            Method::POST,
            "/v1/templates/welcome/preview",
            &api.keys.reader,
        )
        .json(&json!({"vars": {"name": "<Zoë>"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(preview["subject"], "Welcome, <Zoë>");
    assert_eq!(preview["html"], "<p>Hi &lt;Zoë&gt;</p>");
    let missing = api
        .with(
            Method::POST,
            "/v1/templates/welcome/preview",
            &api.keys.reader,
        )
        .json(&json!({"locale": "de", "vars": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(missing, 422).await["field"], "vars.name");

    let job = |vars: Value| {
        json!({"version": "v1", "from": "noreply@example.com", "to": ["zoe@example.org"],
               "template": {"name": "welcome", "locale": "de", "vars": vars}})
    };
    let refused = api.post_job(&api.keys.app, &job(json!({}))).await;
    assert_eq!(problem(refused, 422).await["field"], "vars.name");
    let accepted: Value = api
        .post_job(&api.keys.app, &job(json!({"name": "Zoë"})))
        .await
        .json()
        .await
        .unwrap();
    assert!(accepted["id"].is_string(), "{accepted}");

    let gone = api
        .with(Method::DELETE, "/v1/templates/welcome", &api.keys.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status().as_u16(), 204);
    let after = api
        .post_job(&api.keys.app, &job(json!({"name": "Zoë"})))
        .await;
    assert_eq!(problem(after, 422).await["field"], "template.name");
}
