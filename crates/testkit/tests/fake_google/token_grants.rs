//! The token endpoint's grants: a service account's signed JWT (with and without
//! impersonation, delegation) and a stored refresh token.

use mailroom_testkit::google::{
    ClientKind, FakeGoogle, FakeGoogleOptions, GMAIL_SEND_SCOPE, OAuthClient, USERINFO_EMAIL_SCOPE,
};
use oauth2::{RefreshToken, TokenResponse};
use serde_json::Value;
use yup_oauth2::error::AuthErrorCode;

use crate::common::{
    SENDER, SERVICE_ACCOUNT, authenticator, fake_with_service_account, fetch_json, message,
    no_redirects, oauth_client, refusal, reqwest_send, token_refusal, userinfo,
};

#[tokio::test]
async fn service_account_impersonates_a_domain_user() {
    let (google, account) = fake_with_service_account(FakeGoogleOptions::default());
    let auth = authenticator(&account.key_json, SENDER).await;
    let token = auth.token(&[GMAIL_SEND_SCOPE]).await.expect("token");
    let token = token.token().expect("access token").to_owned();

    let info = fetch_json(
        reqwest::Client::new().get(format!("{}?access_token={token}", google.tokeninfo_url())),
    )
    .await;
    assert_eq!(info["azp"], account.client_id.as_str());
    assert_eq!(info["scope"], GMAIL_SEND_SCOPE);

    let grants = google.token_grants();
    assert_eq!(grants.len(), 1);
    assert!(grants[0].ok);
    assert_eq!(grants[0].subject.as_deref(), Some(SENDER));
    assert_eq!(
        grants[0].grant_type,
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );

    // The key file is a complete one.
    let key: Value = serde_json::from_str(&account.key_json).unwrap();
    for field in [
        "type",
        "project_id",
        "private_key_id",
        "private_key",
        "client_email",
        "client_id",
        "auth_uri",
        "token_uri",
        "auth_provider_x509_cert_url",
        "client_x509_cert_url",
        "universe_domain",
    ] {
        assert!(key[field].is_string(), "missing {field}");
    }
    assert_eq!(key["token_uri"], google.token_url().as_str());
    assert!(
        key["private_key"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );
}

#[tokio::test]
async fn wrong_key_is_an_invalid_jwt_signature() {
    let (google, _) = fake_with_service_account(FakeGoogleOptions::default());
    let wrong = google.service_account_with_wrong_key(SERVICE_ACCOUNT);
    let auth = authenticator(&wrong.key_json, SENDER).await;
    let err = token_refusal(&auth).await;
    assert_eq!(err.error, AuthErrorCode::InvalidGrant);
    assert_eq!(
        err.error_description.as_deref(),
        Some("Invalid JWT Signature.")
    );
    assert!(!google.token_grants()[0].ok);
}

#[tokio::test]
async fn unknown_subject_is_an_invalid_grant() {
    let (_google, account) = fake_with_service_account(FakeGoogleOptions::default());
    let auth = authenticator(&account.key_json, "nobody@example.com").await;
    let err = token_refusal(&auth).await;
    assert_eq!(err.error, AuthErrorCode::InvalidGrant);
    assert_eq!(
        err.error_description.as_deref(),
        Some("Invalid email or User ID")
    );
}

#[tokio::test]
async fn revoked_delegation_is_an_unauthorized_client() {
    let (google, account) = fake_with_service_account(FakeGoogleOptions::default());
    google.revoke_delegation(&account.client_id);
    let auth = authenticator(&account.key_json, SENDER).await;
    let err = token_refusal(&auth).await;
    assert_eq!(err.error, AuthErrorCode::UnauthorizedClient);

    // Delegation for another scope only does not cover gmail.send either.
    google.grant_delegation(&account.client_id, &[USERINFO_EMAIL_SCOPE]);
    let err = token_refusal(&auth).await;
    assert_eq!(err.error, AuthErrorCode::UnauthorizedClient);
    let grants = google.token_grants();
    assert_eq!(grants[0].status, Some(401));
    assert_eq!(grants[0].error.as_deref(), Some("unauthorized_client"));
}

#[tokio::test]
async fn refresh_token_grant_works_until_the_user_is_revoked() {
    let google = FakeGoogle::start();
    let client = google.oauth_client(ClientKind::Installed);
    let refresh = google.authorized_user(&client, "carol@gmail.com");
    let oauth = oauth_client(&google, &client);
    let http = no_redirects();

    let token = oauth
        .exchange_refresh_token(&RefreshToken::new(refresh.clone()))
        .request_async(&http)
        .await
        .expect("refresh");
    assert!(token.refresh_token().is_none());
    let scopes: Vec<String> = token
        .scopes()
        .unwrap()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(scopes.contains(&GMAIL_SEND_SCOPE.to_owned()));
    let access = token.access_token().secret().clone();

    let raw = message("carol@gmail.com", "dave@example.org", "refresh");
    assert_eq!(
        reqwest_send(&google, &access, "carol@gmail.com", &raw)
            .await
            .status(),
        200
    );
    let info: Value = userinfo(&google, &access).await.json().await.unwrap();
    assert_eq!(info["email"], "carol@gmail.com");
    assert_eq!(info["email_verified"], true);

    google.revoke_user("carol@gmail.com");
    let (error, description) = refusal(
        oauth
            .exchange_refresh_token(&RefreshToken::new(refresh))
            .request_async(&http)
            .await,
    );
    assert_eq!(error, "invalid_grant");
    assert_eq!(
        description.as_deref(),
        Some("Token has been expired or revoked.")
    );
    assert_eq!(
        reqwest_send(&google, &access, "me", &raw).await.status(),
        401
    );

    // A wrong client secret is an invalid client.
    let wrong = OAuthClient {
        client_secret: "GOCSPX-wrong".to_owned(),
        ..client.clone()
    };
    let (error, _) = refusal(
        oauth_client(&google, &wrong)
            .exchange_refresh_token(&RefreshToken::new("1//0whatever".to_owned()))
            .request_async(&http)
            .await,
    );
    assert_eq!(error, "invalid_client");
}
