//! The consent endpoint and the authorization-code grant: redirect URIs, state, PKCE, offline
//! access.

use mailroom_testkit::google::{ClientKind, FakeGoogle, GMAIL_SEND_SCOPE};
use oauth2::{
    AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, Scope, TokenResponse,
};
use serde_json::Value;

use crate::common::{REDIRECT, no_redirects, oauth_client, refusal, userinfo};

/// Runs the consent step in the "browser": GET the authorization URL and
/// read the redirect.
async fn consent(url: &url::Url) -> url::Url {
    let response = no_redirects().get(url.as_str()).send().await.unwrap();
    assert_eq!(response.status(), 302, "{}", response.text().await.unwrap());
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    url::Url::parse(&location).unwrap()
}

fn query_param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The body of the consent endpoint's error page, once the status is
/// checked to be 400.
async fn error_page(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 400);
    response.text().await.unwrap()
}

#[tokio::test]
async fn authorization_code_with_pkce() {
    let google = FakeGoogle::start();
    let client = google.oauth_client(ClientKind::Installed);
    google.set_consenting_user("erin@example.com");
    let oauth = oauth_client(&google, &client);
    let http = no_redirects();

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf) = oauth
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new(GMAIL_SEND_SCOPE.to_owned()))
        .add_scope(Scope::new("openid".to_owned()))
        .add_scope(Scope::new("email".to_owned()))
        .add_extra_param("access_type", "offline")
        .add_extra_param("prompt", "consent")
        .add_extra_param("login_hint", "erin@example.com")
        .set_pkce_challenge(challenge)
        .url();
    let redirect = consent(&url).await;
    assert!(redirect.as_str().starts_with(REDIRECT));
    assert_eq!(
        query_param(&redirect, "state").as_deref(),
        Some(csrf.secret().as_str())
    );
    let code = query_param(&redirect, "code").expect("code");

    let requests = google.auth_requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].param("access_type"), Some("offline"));
    assert_eq!(requests[0].param("prompt"), Some("consent"));
    assert_eq!(requests[0].param("code_challenge_method"), Some("S256"));
    assert_eq!(requests[0].scopes(), [GMAIL_SEND_SCOPE, "openid", "email"]);

    let token = oauth
        .exchange_code(AuthorizationCode::new(code.clone()))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    assert!(token.refresh_token().is_some());
    let info: Value = userinfo(&google, token.access_token().secret())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(info["email"], "erin@example.com");

    // The code is single-use.
    let (error, _) = refusal(
        oauth
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(PkceCodeVerifier::new("x".repeat(43)))
            .request_async(&http)
            .await,
    );
    assert_eq!(error, "invalid_grant");

    // A wrong verifier is refused.
    let (challenge, _verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, _) = oauth
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new(GMAIL_SEND_SCOPE.to_owned()))
        .set_pkce_challenge(challenge)
        .url();
    let code = query_param(&consent(&url).await, "code").unwrap();
    let (_, other_verifier) = PkceCodeChallenge::new_random_sha256();
    let (error, description) = refusal(
        oauth
            .exchange_code(AuthorizationCode::new(code))
            .set_pkce_verifier(other_verifier)
            .request_async(&http)
            .await,
    );
    assert_eq!(error, "invalid_grant");
    assert_eq!(description.as_deref(), Some("Invalid code verifier."));
    let grants = google.token_grants();
    assert_eq!(
        grants.iter().map(|g| g.ok).collect::<Vec<_>>(),
        [true, false, false]
    );
}

#[tokio::test]
async fn online_access_gets_no_refresh_token() {
    let google = FakeGoogle::start();
    let client = google.oauth_client(ClientKind::Installed);
    google.authorized_user(&client, "frank@example.com");
    let oauth = oauth_client(&google, &client);
    let (url, _) = oauth
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new(GMAIL_SEND_SCOPE.to_owned()))
        .url();
    let code = query_param(&consent(&url).await, "code").unwrap();
    let token = oauth
        .exchange_code(AuthorizationCode::new(code))
        .request_async(&no_redirects())
        .await
        .unwrap();
    assert!(token.refresh_token().is_none());
    assert_eq!(
        google.token_grants()[0].subject.as_deref(),
        Some("frank@example.com")
    );
}

#[tokio::test]
async fn consent_endpoint_checks_client_and_redirect_uri() {
    let google = FakeGoogle::start();
    let installed = google.oauth_client(ClientKind::Installed);
    let web = google.oauth_client(ClientKind::Web {
        redirect_uris: vec!["https://mailroom.example.com/oauth2/callback".to_owned()],
    });
    google.set_consenting_user("gina@example.com");
    let http = no_redirects();
    let get = |client_id: &str, redirect: &str| {
        let mut url = url::Url::parse(&google.auth_url()).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect)
            .append_pair("response_type", "code")
            .append_pair("scope", GMAIL_SEND_SCOPE)
            .append_pair("state", "s t&ate");
        http.get(url.as_str()).send()
    };

    let response = get("unknown.apps.googleusercontent.com", REDIRECT);
    let page = error_page(response.await.unwrap()).await;
    assert!(page.contains("error=invalid_client"));

    let response = get(&installed.client_id, "https://evil.example.com/cb");
    let page = error_page(response.await.unwrap()).await;
    assert!(page.contains("redirect_uri_mismatch"));

    let response = get(&installed.client_id, "http://localhost:9999/")
        .await
        .unwrap();
    assert_eq!(response.status(), 302);

    let response = get(&web.client_id, REDIRECT).await.unwrap();
    assert_eq!(response.status(), 400);
    let response = get(
        &web.client_id,
        "https://mailroom.example.com/oauth2/callback",
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 302);
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(query_param(&location, "state").as_deref(), Some("s t&ate"));
    assert_eq!(google.auth_requests().len(), 5);

    let client_json: Value = serde_json::from_str(&web.json).unwrap();
    assert_eq!(client_json["web"]["token_uri"], google.token_url().as_str());
    let client_json: Value = serde_json::from_str(&installed.json).unwrap();
    assert_eq!(
        client_json["installed"]["redirect_uris"][0],
        "http://localhost"
    );
    let secret = yup_oauth2::parse_application_secret(&installed.json).unwrap();
    assert_eq!(secret.client_id, installed.client_id);
}
