//! Fault rules as the real clients see them: statuses, `Retry-After`, dropped connections,
//! latency, faults on the token endpoint, and the send log that records them.

use std::io::Cursor;
use std::time::{Duration, Instant, SystemTime};

use google_gmail1::api::{Message, Scope as GmailScope};
use mailroom_testkit::google::{
    Endpoint, FakeGoogle, FakeGoogleOptions, Fault, FaultRule, GMAIL_SEND_SCOPE,
    USERINFO_EMAIL_SCOPE,
};
use serde_json::Value;
use yup_oauth2::error::AuthErrorCode;

use crate::common::{
    SENDER, authenticator, error_reason, fake_with_service_account, gmail_send, hub,
    json_with_status, message, reqwest_send, token_refusal, upload, userinfo,
};

#[tokio::test]
async fn unavailable_then_success() {
    let (google, account) = fake_with_service_account(FakeGoogleOptions::default());
    let hub = hub(&google, authenticator(&account.key_json, SENDER).await);
    google.inject(FaultRule::send(Fault::unavailable()).once());
    let raw = message(SENDER, "henry@example.org", "retry");

    let err = gmail_send(&hub, &raw, None).await.unwrap_err();
    let google_gmail1::Error::BadRequest(body) = err else {
        panic!("not an API error: {err:?}");
    };
    assert_eq!(body["error"]["code"], 503);
    assert_eq!(body["error"]["status"], "UNAVAILABLE");
    assert!(google.sent().is_empty());

    gmail_send(&hub, &raw, None).await.expect("second attempt");
    assert_eq!(google.sent().len(), 1);
    assert_eq!(google.send_attempts(), 2);
    let statuses = google.responses_by_status();
    assert_eq!(statuses.get(&503), Some(&1));
    assert_eq!(statuses.get(&200), Some(&1));
}

/// Records what google-gmail1 hands its delegate on a failed call: the
/// only place the response headers (`Retry-After`) are visible.
#[derive(Default)]
struct CaptureFailure {
    status: Option<u16>,
    retry_after: Option<String>,
}

impl google_gmail1::Delegate for CaptureFailure {
    fn http_failure(
        &mut self,
        response: &google_gmail1::common::Response,
        _err: Option<&Value>,
    ) -> google_gmail1::common::Retry {
        self.status = Some(response.status().as_u16());
        self.retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        google_gmail1::common::Retry::Abort
    }
}

#[tokio::test]
async fn how_errors_surface_in_gmail1() {
    let (google, account) = fake_with_service_account(FakeGoogleOptions::default());
    let hub = hub(&google, authenticator(&account.key_json, SENDER).await);
    let raw = message(SENDER, "olga@example.org", "errors");

    // JSON error bodies: Error::BadRequest; headers only via the delegate.
    google.inject(FaultRule::send(Fault::rate_limited(Duration::from_secs(3))).once());
    let mut capture = CaptureFailure::default();
    let err = hub
        .users()
        .messages_send(Message::default(), "me")
        .add_scope(GmailScope::Send)
        .delegate(&mut capture)
        .upload(Cursor::new(raw.clone()), "message/rfc822".parse().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, google_gmail1::Error::BadRequest(ref body) if body["error"]["code"] == 429)
    );
    assert_eq!(capture.status, Some(429));
    assert_eq!(capture.retry_after.as_deref(), Some("3"));

    // A non-JSON body (502 page): Error::Failure with the response.
    google.inject(FaultRule::send(Fault::BadGateway).once());
    let err = gmail_send(&hub, &raw, None).await.unwrap_err();
    let google_gmail1::Error::Failure(response) = err else {
        panic!("not a failure: {err:?}");
    };
    assert_eq!(response.status(), 502);

    // Token errors: Error::MissingToken wrapping the yup-oauth2 error.
    google.revoke_delegation(&account.client_id);
    let other = authenticator(&account.key_json, SENDER).await;
    let hub = self::hub(&google, other);
    let err = gmail_send(&hub, &raw, None).await.unwrap_err();
    let google_gmail1::Error::MissingToken(source) = err else {
        panic!("not a token error: {err:?}");
    };
    let Some(yup_oauth2::Error::AuthError(auth)) = source.downcast_ref::<yup_oauth2::Error>()
    else {
        panic!("not a yup-oauth2 auth error: {source:?}");
    };
    assert_eq!(auth.error, AuthErrorCode::UnauthorizedClient);
    assert!(google.sent().is_empty());
}

#[tokio::test]
async fn dropped_connection_after_accept_is_a_client_error_but_the_mail_went_out() {
    let (google, account) = fake_with_service_account(FakeGoogleOptions::default());
    let hub = hub(&google, authenticator(&account.key_json, SENDER).await);
    let raw = message(SENDER, "ivy@example.org", "ambiguous");

    google.inject(FaultRule::send(Fault::DropConnection).once());
    let err = gmail_send(&hub, &raw, None).await.unwrap_err();
    assert!(
        matches!(err, google_gmail1::Error::HttpError(_)),
        "expected a connection error, got {err:?}"
    );
    assert_eq!(google.sent().len(), 1);
    assert_eq!(google.sent()[0].raw, raw);

    google.inject(FaultRule::send(Fault::DropBeforeAccept).once());
    let err = gmail_send(&hub, &raw, None).await.unwrap_err();
    assert!(matches!(err, google_gmail1::Error::HttpError(_)), "{err:?}");
    assert_eq!(google.sent().len(), 1);

    // reqwest sees the drop too.
    let token = google.access_token(SENDER, &[GMAIL_SEND_SCOPE]);
    google.inject(FaultRule::send(Fault::DropConnection).once());
    let err = upload(&google, Some(&token), "me", "message/rfc822", &raw)
        .await
        .unwrap_err();
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    assert_eq!(google.sent().len(), 2);
    assert_eq!(google.send_attempts(), 3);
    assert!(google.responses_by_status().is_empty());
}

#[tokio::test]
async fn rate_limit_faults_carry_retry_after() {
    let google = FakeGoogle::start();
    let alice = google.access_token("alice@example.com", &[GMAIL_SEND_SCOPE]);
    let bob = google.access_token("bob@example.com", &[GMAIL_SEND_SCOPE]);
    google.inject(
        FaultRule::send(Fault::rate_limited(Duration::from_secs(7))).for_user("alice@example.com"),
    );
    let raw = message("alice@example.com", "x@example.org", "limited");

    let response = reqwest_send(&google, &alice, "me", &raw).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "7");
    let body: Value = response.json().await.unwrap();
    assert_eq!(error_reason(&body), "rateLimitExceeded");
    assert_eq!(body["error"]["errors"][0]["domain"], "usageLimits");
    assert_eq!(body["error"]["status"], "RESOURCE_EXHAUSTED");

    assert_eq!(reqwest_send(&google, &bob, "me", &raw).await.status(), 200);
    assert_eq!(google.rate_limited_responses("alice@example.com"), 1);
    assert_eq!(google.rate_limited_responses("bob@example.com"), 0);

    google.clear_faults();
    google.inject(FaultRule::send(Fault::unauthorized()).once());
    let response = reqwest_send(&google, &alice, "me", &raw).await;
    let body = json_with_status(response, 401).await;
    assert_eq!(error_reason(&body), "authError");
    assert_eq!(body["error"]["errors"][0]["location"], "Authorization");

    google.inject(FaultRule::send(Fault::BadGateway).once());
    let response = reqwest_send(&google, &alice, "me", &raw).await;
    assert_eq!(response.status(), 502);
    assert!(response.text().await.unwrap().contains("502 Bad Gateway"));
    assert_eq!(
        reqwest_send(&google, &alice, "me", &raw).await.status(),
        200
    );
}

#[tokio::test]
async fn the_send_log_records_every_attempt_with_its_answer() {
    let (google, account) = fake_with_service_account(FakeGoogleOptions::default());
    let hub = hub(&google, authenticator(&account.key_json, SENDER).await);
    let raw = message(SENDER, "pat@example.org", "logged");
    let before = SystemTime::now();

    // Rate limited, then accepted on a lost connection, then accepted again.
    google.inject(FaultRule::send(Fault::rate_limited(Duration::from_millis(2500))).once());
    google.inject(FaultRule::send(Fault::DropConnection).once());
    assert!(gmail_send(&hub, &raw, None).await.is_err());
    assert!(gmail_send(&hub, &raw, None).await.is_err());
    gmail_send(&hub, &raw, None).await.expect("third attempt");
    // No valid token and no message: refused, and logged all the same.
    let response = reqwest_send(&google, "ya29.unknown", "me", b"not a message").await;
    assert_eq!(response.status(), 401);

    let log = google.send_log();
    assert_eq!(
        log.iter().map(|a| a.status).collect::<Vec<_>>(),
        [Some(429), None, Some(200), Some(401)]
    );
    assert_eq!(
        log.iter().map(|a| a.retry_after).collect::<Vec<_>>(),
        [Some(Duration::from_secs(3)), None, None, None],
        "Retry-After as answered: whole seconds, rounded up"
    );
    assert_eq!(
        log.iter()
            .map(|a| a.message_id.as_deref())
            .collect::<Vec<_>>(),
        [
            Some("logged@example.com"),
            Some("logged@example.com"),
            Some("logged@example.com"),
            None
        ]
    );
    assert_eq!(
        log.iter().map(|a| a.user.as_deref()).collect::<Vec<_>>(),
        [Some(SENDER), Some(SENDER), Some(SENDER), None]
    );
    assert!(log[0].at >= before);
    assert!(log.windows(2).all(|w| w[0].at <= w[1].at), "oldest first");
    assert_eq!(
        google.sent().len(),
        2,
        "the dropped answer hid an accepted send"
    );
    assert_eq!(google.send_attempts(), 4);
}

#[tokio::test]
async fn token_endpoint_faults() {
    let (google, account) = fake_with_service_account(FakeGoogleOptions::default());
    google.inject(
        FaultRule::token(Fault::status(503, "temporarily_unavailable", "try again"))
            .for_user(SENDER)
            .once(),
    );
    let auth = authenticator(&account.key_json, SENDER).await;
    let err = token_refusal(&auth).await;
    assert_eq!(err.error.as_str(), "temporarily_unavailable", "{err:?}");
    auth.token(&[GMAIL_SEND_SCOPE]).await.expect("second try");
    let grants = google.token_grants();
    assert_eq!(grants.len(), 2);
    assert_eq!(grants[0].status, Some(503));
    assert!(grants[1].ok);

    // A token issued on a dropped connection never reaches the client.
    google.inject(FaultRule::token(Fault::DropConnection).once());
    let auth = authenticator(&account.key_json, SENDER).await;
    let err = auth.token(&[GMAIL_SEND_SCOPE]).await.unwrap_err();
    assert!(
        matches!(err, yup_oauth2::Error::HttpClientError(_)),
        "{err:?}"
    );
    let last = google.token_grants().pop().unwrap();
    assert!(last.ok);
    assert_eq!(last.status, None);
}

/// Faults for one user leave the others alone, and `Endpoint::Any` covers
/// every endpoint.
#[tokio::test]
async fn any_endpoint_faults_and_latency() {
    let google = FakeGoogle::start();
    let token = google.access_token("max@example.com", &[GMAIL_SEND_SCOPE, USERINFO_EMAIL_SCOPE]);
    google.inject(FaultRule::any(Fault::Latency(Duration::from_millis(150))).times(1));
    google.inject(FaultRule::new(Endpoint::Any, Fault::backend_error()).once());
    let started = Instant::now();
    let response = userinfo(&google, &token).await;
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(response.status(), 500);
    let response = userinfo(&google, &token).await;
    assert_eq!(response.status(), 200);
}
