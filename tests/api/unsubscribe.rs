//! One-click unsubscribe end to end: a list job sent by the worker carries `List-Id`,
//! `List-Unsubscribe` (the sealed link and the job's mailto) and `List-Unsubscribe-Post`,
//! which parse back; `GET` of the link shows a button and changes nothing; forged and
//! expired tokens change nothing; a `POST` suppresses the recipient for the list, again and
//! again with 200; and the next job to that recipient on that list is not sent and says why.

use std::time::Duration;

use mail_parser::MessageParser;
use mailroom_queue::{JobState, SuppressReason};
use serde_json::{Value, json};

use crate::common::{eventually, states, write_secret};
use crate::world::Api;

const LIST: &str = "news.example.com";
const BASE: &str = "https://mail.example.test";

fn list_job(to: &str) -> Value {
    json!({"version": "v1", "from": "noreply@example.com", "to": [to], "subject": "News",
           "text": "This month", "list": {"id": LIST, "unsubscribe": "mailto:unsub@example.com"}})
}

async fn sent_or_suppressed(api: &Api, id: &str, want: JobState) {
    let queue = api.env.queue().await;
    let id: mailroom_jobs::JobId = id.parse().unwrap();
    eventually(Duration::from_secs(30), "the job settled", || {
        let queue = queue.clone();
        async move { states(&queue, &[id]).await == [Some(want)] }
    })
    .await;
}

async fn post_job(api: &Api, job: &Value) -> String {
    let answer: Value = api.post_job(&api.keys.app, job).await.json().await.unwrap();
    answer["id"].as_str().expect("an id").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn one_click_unsubscribe_suppresses_the_recipient_for_the_list() {
    let keys_dir = tempfile::tempdir().unwrap();
    let key_line = format!(
        "u1:{}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, [7u8; 32])
    );
    let keys = write_secret(
        keys_dir.path(),
        "unsubscribe-keys",
        format!("{key_line}\n").as_bytes(),
    );
    let api = Api::start(&format!(
        "[unsubscribe]\nbase_url = \"{BASE}\"\nkeys_file = \"{}\"\n",
        keys.display()
    ));
    let worker = api.env.worker("w1", &[]);

    // More than one recipient on a list is refused, naming the field.
    let mut two = list_job("reader@example.org");
    two["to"] = json!(["reader@example.org", "other@example.org"]);
    let refused = api.post_job(&api.keys.app, &two).await;
    assert_eq!(crate::world::problem(refused, 422).await["field"], "list");

    let id = post_job(&api, &list_job("Reader <Reader@example.org>")).await;
    sent_or_suppressed(&api, &id, JobState::Sent).await;
    let bytes = std::fs::read(api.env.outbox.join(format!("{id}.eml"))).unwrap();
    let msg = MessageParser::default().parse(&bytes).unwrap();
    let header = |name: &str| {
        msg.header_raw(name)
            .unwrap_or_else(|| panic!("no {name}"))
            .trim()
            .to_owned()
    };
    assert_eq!(header("List-Id"), format!("<{LIST}>"));
    assert_eq!(
        header("List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click"
    );
    let unsubscribe = header("List-Unsubscribe").replace(['\r', '\n'], "");
    let links: Vec<&str> = unsubscribe
        .split(',')
        .map(|l| l.trim().trim_matches(['<', '>']))
        .collect();
    assert_eq!(links.len(), 2, "{unsubscribe}");
    assert_eq!(links[1], "mailto:unsub@example.com");
    let path = links[0]
        .strip_prefix(BASE)
        .expect("the link is under base_url")
        .to_owned();
    assert!(path.starts_with("/u/"), "{path}");
    assert!(
        !path.to_lowercase().contains("reader"),
        "the address is not readable: {path}"
    );

    let check = || {
        api.env
            .run(&["suppress", "check", "reader@example.org", "--list", LIST])
            .ok()
    };
    // A link scanner's GET changes nothing; a person sees a button.
    let page = api.http.get(api.url(&path)).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("<form method=\"post\"") && page.contains(LIST),
        "{page}"
    );
    assert!(check().contains("not suppressed"));

    // Forged, altered and expired tokens change nothing.
    let mut altered = path.clone();
    let last = altered.pop().unwrap();
    altered.push(if last == 'A' { 'B' } else { 'A' });
    let unsubscriber = mailroom_worker::unsubscribe::Unsubscriber::new(
        mailroom_worker::credentials::TokenKeys::parse(&key_line, "test", false).unwrap(),
        BASE,
        Duration::from_secs(3 * 86_400),
    );
    let expired = unsubscriber.link(
        "reader@example.org",
        LIST,
        "noreply@example.com",
        chrono::Utc::now() - chrono::Duration::days(10),
    );
    let expired = expired.strip_prefix(BASE).unwrap().to_owned();
    for bad in [altered.as_str(), "/u/forged~AAAA~AAAA", expired.as_str()] {
        let answer = api.http.post(api.url(bad)).send().await.unwrap();
        assert_eq!(answer.status().as_u16(), 400, "{bad}");
    }
    assert!(check().contains("not suppressed"));

    // The real one, as a mail client posts it, twice.
    for _ in 0..2 {
        let answer = api
            .http
            .post(api.url(&path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click")
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status().as_u16(), 200);
    }
    let checked = check();
    assert!(
        checked.contains("is suppressed (list news.example.com): unsubscribed"),
        "{checked}"
    );

    // The next job to that address on that list is not sent, and says why.
    let next = post_job(&api, &list_job("reader@example.org")).await;
    sent_or_suppressed(&api, &next, JobState::Suppressed).await;
    let status = api
        .env
        .queue()
        .await
        .status(next.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.suppressed[0].address, "reader@example.org");
    assert_eq!(status.suppressed[0].reason, SuppressReason::Unsubscribed);
    assert!(!api.env.outbox.join(format!("{next}.eml")).exists());

    let scrape = api
        .http
        .get(api.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for (outcome, n) in [
        ("suppressed", 1.0),
        ("already", 1.0),
        ("invalid", 2.0),
        ("expired", 1.0),
    ] {
        let name = format!("mailroom_unsubscribes_total{{outcome=\"{outcome}\"}}");
        assert_eq!(
            crate::common::http::sample(&scrape, &name),
            Some(n),
            "{scrape}"
        );
    }
    worker.stop();
}
