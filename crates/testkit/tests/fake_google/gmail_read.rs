//! Gmail's `users.messages.list` and `users.messages.get` over the messages a user sent:
//! SENT newest first, `format=METADATA` headers, and what `gmail.metadata` refuses.

use mailroom_testkit::google::{FakeGoogle, GMAIL_METADATA_SCOPE, GMAIL_SEND_SCOPE};
use serde_json::Value;

use crate::common::{
    SENDER, error_reason, gmail_get as get, json_with_status, message, reqwest_send,
};

#[tokio::test]
async fn sent_messages_are_listed_newest_first_with_their_message_id() {
    let google = FakeGoogle::start();
    google.add_domain_user(SENDER);
    google.add_domain_user("other@example.com");
    let send = google.access_token(SENDER, &[GMAIL_SEND_SCOPE]);
    let mut ids = Vec::new();
    for n in 0..3 {
        let raw = message(SENDER, "ann@example.org", &format!("n{n}"));
        let sent = json_with_status(reqwest_send(&google, &send, "me", &raw).await, 200).await;
        ids.push(sent["id"].as_str().unwrap().to_owned());
    }
    let other = google.access_token("other@example.com", &[GMAIL_SEND_SCOPE]);
    let raw = message("other@example.com", "ann@example.org", "not yours");
    json_with_status(reqwest_send(&google, &other, "me", &raw).await, 200).await;

    let read = google.access_token(SENDER, &[GMAIL_SEND_SCOPE, GMAIL_METADATA_SCOPE]);
    let list = json_with_status(
        get(&google, &read, "messages?labelIds=SENT&maxResults=2").await,
        200,
    )
    .await;
    let listed: Vec<&str> = list["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [ids[2].as_str(), ids[1].as_str()], "newest first");
    assert_eq!(list["resultSizeEstimate"], 3, "only this user's messages");
    assert_eq!(list["nextPageToken"], "2");

    let one = json_with_status(
        get(
            &google,
            &read,
            &format!(
                "messages/{}?format=metadata&metadataHeaders=Message-ID",
                ids[0]
            ),
        )
        .await,
        200,
    )
    .await;
    let headers = one["payload"]["headers"].as_array().unwrap();
    assert_eq!(headers.len(), 1);
    assert_eq!(headers[0]["name"], "Message-ID");
    assert_eq!(headers[0]["value"], Value::from("<n0@example.com>"));
    assert!(
        one["internalDate"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    assert_eq!(google.read_calls().lists, 1);
    assert_eq!(google.read_calls().gets, 1);
}

#[tokio::test]
async fn the_metadata_scope_refuses_q_and_full_bodies_and_send_alone_reads_nothing() {
    let google = FakeGoogle::start();
    google.add_domain_user(SENDER);
    let read = google.access_token(SENDER, &[GMAIL_SEND_SCOPE, GMAIL_METADATA_SCOPE]);
    let refused =
        json_with_status(get(&google, &read, "messages?q=rfc822msgid%3Ax").await, 403).await;
    assert_eq!(error_reason(&refused), "forbidden");
    assert_eq!(
        refused["error"]["message"],
        "Metadata scope does not support 'q' parameter"
    );
    assert_eq!(refused["error"]["status"], "PERMISSION_DENIED");
    let send = google.access_token(SENDER, &[GMAIL_SEND_SCOPE]);
    let raw = message(SENDER, "ann@example.org", "x");
    let sent = json_with_status(reqwest_send(&google, &send, "me", &raw).await, 200).await;
    let full = json_with_status(
        get(
            &google,
            &read,
            &format!("messages/{}?format=full", sent["id"].as_str().unwrap()),
        )
        .await,
        403,
    )
    .await;
    assert_eq!(
        full["error"]["message"],
        "Metadata scope doesn't allow format FULL"
    );
    let none = json_with_status(get(&google, &send, "messages?labelIds=SENT").await, 403).await;
    assert_eq!(error_reason(&none), "insufficientPermissions");
    let missing = json_with_status(
        get(&google, &read, "messages/ffffffffffffffff?format=metadata").await,
        404,
    )
    .await;
    assert_eq!(error_reason(&missing), "notFound");
}
