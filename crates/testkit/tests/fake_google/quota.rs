//! Gmail's usage limits: the per-user minute and day windows, answered as Gmail answers them.

use std::time::Duration;

use mailroom_testkit::google::{FakeGoogle, FakeGoogleOptions, GMAIL_SEND_SCOPE, Quota};
use serde_json::Value;

use crate::common::{error_reason, json_with_status, message, reqwest_send};

/// A fake allowing each user `units` quota units a minute (a send costs
/// 100), and an access token of alice's.
fn alice_limited_to(units: u32) -> (FakeGoogle, String) {
    let google = FakeGoogle::start_with(FakeGoogleOptions {
        quota: Quota {
            units_per_user_per_minute: units,
            ..Quota::default()
        },
        ..FakeGoogleOptions::default()
    });
    let alice = google.access_token("alice@example.com", &[GMAIL_SEND_SCOPE]);
    (google, alice)
}

#[tokio::test]
async fn quota_refuses_the_fourth_send_in_a_minute_per_user() {
    let (google, alice) = alice_limited_to(300);
    let bob = google.access_token("bob@example.com", &[GMAIL_SEND_SCOPE]);
    let raw = message("alice@example.com", "x@example.org", "quota");

    for _ in 0..3 {
        assert_eq!(
            reqwest_send(&google, &alice, "me", &raw).await.status(),
            200
        );
    }
    let response = reqwest_send(&google, &alice, "me", &raw).await;
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((55..=60).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_reason(&body), "userRateLimitExceeded");
    assert_eq!(body["error"]["errors"][0]["domain"], "usageLimits");
    let message_text = body["error"]["message"].as_str().unwrap();
    assert!(
        message_text.starts_with("User-rate limit exceeded.  Retry after 20"),
        "{message_text}"
    );
    assert!(message_text.ends_with('Z'), "{message_text}");

    assert_eq!(reqwest_send(&google, &bob, "me", &raw).await.status(), 200);
    assert_eq!(google.rate_limited_responses("alice@example.com"), 1);
    assert_eq!(google.rate_limited_responses("bob@example.com"), 0);
    assert_eq!(google.sent_by("alice@example.com").len(), 3);

    // The daily limit answers "(Mail sending)".
    google.set_quota(Quota {
        sends_per_user_per_day: 1,
        ..Quota::default()
    });
    let response = reqwest_send(&google, &bob, "me", &raw).await;
    let body = json_with_status(response, 429).await;
    assert_eq!(error_reason(&body), "rateLimitExceeded");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .ends_with("(Mail sending)")
    );

    google.set_quota(Quota::unlimited());
    assert_eq!(
        reqwest_send(&google, &alice, "me", &raw).await.status(),
        200
    );
}

#[tokio::test]
async fn the_minute_window_slides_with_the_fakes_clock() {
    let (google, alice) = alice_limited_to(100);
    let raw = message("alice@example.com", "x@example.org", "window");
    let status = async || reqwest_send(&google, &alice, "me", &raw).await.status();

    assert_eq!(status().await, 200);
    assert_eq!(status().await, 429);
    google.advance_clock(Duration::from_secs(30));
    assert_eq!(
        status().await,
        429,
        "half a minute later the send still counts"
    );
    google.advance_clock(Duration::from_secs(30));
    assert_eq!(status().await, 200, "a minute later it has left the window");
    assert_eq!(google.sent_by("alice@example.com").len(), 2);
}
