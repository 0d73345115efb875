//! Bounces and mailbox history: a message to an undeliverable recipient comes back into the
//! sender's inbox with a new history id; `users.getProfile` and `users.history.list` find it
//! under `gmail.metadata`, which still refuses its body (`format=raw`); `gmail.readonly`
//! reads it; a forgotten history answers 404.

use base64::Engine as _;
use mailroom_testkit::google::{
    FakeGoogle, GMAIL_METADATA_SCOPE, GMAIL_READONLY_SCOPE, GMAIL_SEND_SCOPE, Undeliverable,
};

use crate::common::{
    SENDER, error_reason, gmail_get as get, json_with_status, message, reqwest_send,
};

#[tokio::test]
async fn a_bounce_arrives_in_the_inbox_with_a_new_history_id() {
    let google = FakeGoogle::start();
    google.add_domain_user(SENDER);
    google.undeliverable("gone@example.org", Undeliverable::Hard);
    let metadata = google.access_token(SENDER, &[GMAIL_METADATA_SCOPE]);
    let profile = json_with_status(get(&google, &metadata, "profile").await, 200).await;
    let start: u64 = profile["historyId"].as_str().unwrap().parse().unwrap();

    let send = google.access_token(SENDER, &[GMAIL_SEND_SCOPE]);
    let raw = message(SENDER, "gone@example.org", "hello");
    json_with_status(reqwest_send(&google, &send, "me", &raw).await, 200).await;

    let history = json_with_status(
        get(
            &google,
            &metadata,
            &format!("history?startHistoryId={start}&labelId=INBOX&historyTypes=messageAdded"),
        )
        .await,
        200,
    )
    .await;
    let records = history["history"].as_array().unwrap();
    assert_eq!(
        records.len(),
        1,
        "the bounce only, not the sent message: {history}"
    );
    let added = &records[0]["messagesAdded"][0]["message"];
    assert_eq!(added["labelIds"][0], "INBOX");
    let id = added["id"].as_str().unwrap();
    let now: u64 = history["historyId"].as_str().unwrap().parse().unwrap();
    assert!(now > start);

    let refused = get(&google, &metadata, &format!("messages/{id}?format=raw")).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(error_reason(&refused.json().await.unwrap()), "forbidden");

    let readonly = google.access_token(SENDER, &[GMAIL_READONLY_SCOPE]);
    let full = json_with_status(
        get(&google, &readonly, &format!("messages/{id}?format=raw")).await,
        200,
    )
    .await;
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(full["raw"].as_str().unwrap())
        .unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains("From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>"));
    assert!(text.contains("X-Failed-Recipients: gone@example.org"));
    assert!(text.contains("Content-Type: message/delivery-status"));
    assert!(text.contains("Status: 5.1.1"));

    google.forget_history(SENDER);
    let gone = get(
        &google,
        &readonly,
        &format!("history?startHistoryId={start}"),
    )
    .await;
    assert_eq!(gone.status(), 404);
    let send_only = get(&google, &send, "profile").await;
    assert_eq!(
        send_only.status(),
        403,
        "gmail.send cannot read the profile"
    );
}
