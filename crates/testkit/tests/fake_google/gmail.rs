//! Gmail's `users.messages.send`: the upload and JSON forms, threads, and what a send is
//! checked for (credentials, scope, mailbox, message).

use std::time::Duration;

use mailroom_testkit::google::{
    FakeGoogle, FakeGoogleOptions, GMAIL_SEND_SCOPE, USERINFO_PROFILE_SCOPE,
};
use serde_json::Value;

use crate::common::{
    SENDER, authenticator, error_reason, fake_with_service_account, gmail_send, hub,
    json_with_status, message, reqwest_send, service_account_authenticator, upload,
};

#[tokio::test]
async fn gmail1_upload_records_the_raw_message_and_threads_replies() {
    let (google, account) = fake_with_service_account(FakeGoogleOptions::default());
    let hub = hub(&google, authenticator(&account.key_json, SENDER).await);

    let first = message(SENDER, "alice@example.org", "first");
    let sent = gmail_send(&hub, &first, None).await.expect("first send");
    let id = sent.id.expect("id");
    assert_eq!(id.len(), 16);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(sent.thread_id.as_deref(), Some(id.as_str()));
    assert_eq!(sent.label_ids, Some(vec!["SENT".to_owned()]));

    let reply = message(SENDER, "alice@example.org", "reply");
    let threaded = gmail_send(&hub, &reply, Some(&id)).await.expect("reply");
    assert_eq!(threaded.thread_id.as_deref(), Some(id.as_str()));
    assert_ne!(threaded.id.as_deref(), Some(id.as_str()));

    let unknown = gmail_send(&hub, &first, Some("ffffffffffffffff"))
        .await
        .unwrap();
    assert_eq!(unknown.thread_id, unknown.id);

    let recorded = google.sent_by(SENDER);
    assert_eq!(recorded.len(), 3);
    assert_eq!(recorded[0].raw, first);
    assert_eq!(recorded[0].id, id);
    assert_eq!(recorded[1].raw, reply);
    assert_eq!(recorded[1].thread_id, id);
    assert_eq!(recorded[0].user, SENDER);
    assert_eq!(google.send_attempts(), 3);
    assert_eq!(google.responses_by_status().get(&200), Some(&3));
    // One token served all three sends.
    assert_eq!(google.token_grants().len(), 1);
}

#[tokio::test]
async fn expired_token_is_refused_with_401() {
    let (google, account) = fake_with_service_account(FakeGoogleOptions {
        token_lifetime: Duration::from_secs(1),
        ..FakeGoogleOptions::default()
    });
    let auth = authenticator(&account.key_json, SENDER).await;
    let token = auth.token(&[GMAIL_SEND_SCOPE]).await.unwrap();
    let token = token.token().unwrap().to_owned();
    let raw = message(SENDER, "bob@example.org", "expiry");

    assert_eq!(
        reqwest_send(&google, &token, "me", &raw).await.status(),
        200
    );
    // The token's whole lifetime passes on the fake's clock.
    google.advance_clock(Duration::from_secs(1));
    let response = reqwest_send(&google, &token, "me", &raw).await;
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["status"], "UNAUTHENTICATED");
    assert_eq!(error_reason(&body), "authError");
    assert_eq!(body["error"]["errors"][0]["message"], "Invalid Credentials");
    assert_eq!(google.sent().len(), 1);
}

#[tokio::test]
async fn send_checks_credentials_scope_mailbox_and_message() {
    let google = FakeGoogle::start();
    let raw = message("jo@example.com", "x@example.org", "checks");

    let response = upload(&google, None, "me", "message/rfc822", &raw);
    let body = json_with_status(response.await.unwrap(), 401).await;
    assert_eq!(error_reason(&body), "required");

    let response = reqwest_send(&google, "ya29.bogus", "me", &raw).await;
    assert_eq!(response.status(), 401);

    let profile_only = google.access_token("jo@example.com", &[USERINFO_PROFILE_SCOPE]);
    let response = reqwest_send(&google, &profile_only, "me", &raw).await;
    let body = json_with_status(response, 403).await;
    assert_eq!(error_reason(&body), "insufficientPermissions");
    assert_eq!(body["error"]["status"], "PERMISSION_DENIED");

    let token = google.access_token("jo@example.com", &[GMAIL_SEND_SCOPE]);
    let response = reqwest_send(&google, &token, "someone-else@example.com", &raw).await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        reqwest_send(&google, &token, "Jo@Example.com", &raw)
            .await
            .status(),
        200
    );

    let response = reqwest_send(&google, &token, "me", b"Subject: nobody\r\n\r\nhi").await;
    let body = json_with_status(response, 400).await;
    assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
    assert_eq!(reqwest_send(&google, &token, "me", b"").await.status(), 400);

    let response = upload(&google, Some(&token), "me", "text/plain", &raw);
    assert_eq!(response.await.unwrap().status(), 400);

    // A service account's own token has no mailbox.
    let (google2, account) = fake_with_service_account(FakeGoogleOptions::default());
    let own = service_account_authenticator(&account.key_json, None).await;
    let own = own.token(&[GMAIL_SEND_SCOPE]).await.unwrap();
    let response = reqwest_send(&google2, own.token().unwrap(), "me", &raw).await;
    let body = json_with_status(response, 400).await;
    assert_eq!(body["error"]["status"], "FAILED_PRECONDITION");

    assert_eq!(google.sent().len(), 1);
    let statuses = google.responses_by_status();
    assert_eq!(statuses.get(&401), Some(&2));
    assert_eq!(statuses.get(&403), Some(&2));
    assert_eq!(statuses.get(&400), Some(&3));
}

#[tokio::test]
async fn json_send_endpoint_takes_base64url_raw() {
    use base64::Engine as _;
    let google = FakeGoogle::start();
    let token = google.access_token("kim@example.com", &[GMAIL_SEND_SCOPE]);
    let raw = message("kim@example.com", "x@example.org", "json?>");
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&raw);
    let response = reqwest::Client::new()
        .post(format!(
            "{}gmail/v1/users/me/messages/send",
            google.base_url()
        ))
        .bearer_auth(&token)
        .json(&serde_json::json!({ "raw": encoded }))
        .send();
    let body = json_with_status(response.await.unwrap(), 200).await;
    assert_eq!(body["labelIds"][0], "SENT");
    assert_eq!(google.sent()[0].raw, raw);
    assert_eq!(google.sent()[0].id, body["id"].as_str().unwrap());
}
