//! The account endpoints: tokeninfo, userinfo and revoke.

use mailroom_testkit::google::{ClientKind, FakeGoogle, OAuthClient};
use serde_json::Value;

use crate::common::{fetch_json, json_with_status, userinfo};

/// A `refresh_token` grant posted as a form, the client's ID and secret in
/// the body.
async fn refresh_request(
    google: &FakeGoogle,
    client: &OAuthClient,
    refresh: &str,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(google.token_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", client.client_id.as_str()),
            ("client_secret", client.client_secret.as_str()),
            ("refresh_token", refresh),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn revoke_and_tokeninfo() {
    let google = FakeGoogle::start();
    let client = google.oauth_client(ClientKind::Installed);
    let refresh = google.authorized_user(&client, "lee@example.com");
    let http = reqwest::Client::new();
    let token: Value = refresh_request(&google, &client, &refresh)
        .await
        .json()
        .await
        .unwrap();
    let access = token["access_token"].as_str().unwrap().to_owned();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 3600);

    let info = fetch_json(
        http.post(google.tokeninfo_url())
            .form(&[("access_token", access.as_str())]),
    )
    .await;
    assert_eq!(info["aud"], client.client_id.as_str());
    assert_eq!(info["email"], "lee@example.com");
    assert_eq!(info["email_verified"], "true");
    assert_eq!(info["access_type"], "offline");

    let revoke = http
        .post(google.revoke_url())
        .form(&[("token", access.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 200);
    // Revoking the access token revoked its refresh token too.
    let response = refresh_request(&google, &client, &refresh).await;
    assert_eq!(response.status(), 400);
    let response = http
        .get(format!("{}?access_token={access}", google.tokeninfo_url()))
        .send();
    let body = json_with_status(response.await.unwrap(), 400).await;
    assert_eq!(body["error"], "invalid_token");

    let response = http
        .post(format!("{}?token=unknown", google.revoke_url()))
        .send();
    let body = json_with_status(response.await.unwrap(), 400).await;
    assert_eq!(body["error_description"], "Token expired or revoked");

    let response = userinfo(&google, &access).await;
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
}
