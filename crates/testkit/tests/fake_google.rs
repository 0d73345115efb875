//! Tests of the fake Google against the real clients: yup-oauth2, the
//! `oauth2` crate, google-gmail1 and reqwest.

use std::io::{Cursor, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime};

use google_gmail1::Gmail;
use google_gmail1::api::{Message, Scope as GmailScope};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mailroom_testkit::google::{
    ClientKind, Endpoint, FakeGoogle, FakeGoogleOptions, Fault, FaultRule, GMAIL_SEND_SCOPE,
    OAuthClient, Quota, ServiceAccount, USERINFO_EMAIL_SCOPE, USERINFO_PROFILE_SCOPE,
};
use oauth2::basic::{BasicClient, BasicRequestTokenError};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use serde_json::Value;
use yup_oauth2::authenticator::Authenticator;
use yup_oauth2::error::{AuthError, AuthErrorCode};
use yup_oauth2::{CustomHyperClientBuilder, ServiceAccountAuthenticator};

type Connector = HttpsConnector<HttpConnector>;

const SERVICE_ACCOUNT: &str = "mailer@mailroom-test.iam.gserviceaccount.com";
const SENDER: &str = "noreply@example.com";
const REDIRECT: &str = "http://127.0.0.1:8765/callback";

/// The connector production code uses (https, or http for local
/// endpoints), with no trusted roots since only http is used here.
fn connector() -> Connector {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .build()
}

/// A fake with a service account allowed to send as [`SENDER`].
fn fake_with_service_account(opts: FakeGoogleOptions) -> (FakeGoogle, ServiceAccount) {
    let google = FakeGoogle::start_with(opts);
    let account = google.service_account(SERVICE_ACCOUNT);
    google.add_domain_user(SENDER);
    google.grant_delegation(&account.client_id, &[GMAIL_SEND_SCOPE]);
    (google, account)
}

/// A service-account authenticator impersonating `subject`.
async fn authenticator(key_json: &str, subject: &str) -> Authenticator<Connector> {
    service_account_authenticator(key_json, Some(subject)).await
}

/// A service-account authenticator, acting as the account itself when
/// `subject` is `None`.
async fn service_account_authenticator(
    key_json: &str,
    subject: Option<&str>,
) -> Authenticator<Connector> {
    let key = yup_oauth2::parse_service_account_key(key_json).expect("key file parses");
    let client = Client::builder(TokioExecutor::new()).build(connector());
    let mut builder =
        ServiceAccountAuthenticator::with_client(key, CustomHyperClientBuilder::from(client));
    if let Some(subject) = subject {
        builder = builder.subject(subject);
    }
    builder.build().await.expect("authenticator")
}

/// The yup-oauth2 error of a `gmail.send` token request that must fail.
async fn token_refusal(auth: &Authenticator<Connector>) -> AuthError {
    let err = auth.token(&[GMAIL_SEND_SCOPE]).await.unwrap_err();
    let yup_oauth2::Error::AuthError(err) = err else {
        panic!("not an auth error: {err:?}");
    };
    err
}

fn hub(google: &FakeGoogle, auth: Authenticator<Connector>) -> Gmail<Connector> {
    let client = Client::builder(TokioExecutor::new()).build(connector());
    let mut hub = Gmail::new(client, auth);
    hub.root_url(google.base_url());
    hub.base_url(google.base_url());
    hub
}

async fn gmail_send(
    hub: &Gmail<Connector>,
    raw: &[u8],
    thread_id: Option<&str>,
) -> google_gmail1::Result<Message> {
    let metadata = Message {
        thread_id: thread_id.map(str::to_owned),
        ..Message::default()
    };
    hub.users()
        .messages_send(metadata, "me")
        .add_scope(GmailScope::Send)
        .upload(
            Cursor::new(raw.to_vec()),
            "message/rfc822".parse().expect("mime"),
        )
        .await
        .map(|(_, message)| message)
}

fn message(from: &str, to: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@example.com>\r\n\r\nHello.\r\n"
    )
    .into_bytes()
}

/// A media upload of `raw` as `message/rfc822` with reqwest.
async fn reqwest_send(
    google: &FakeGoogle,
    token: &str,
    user_id: &str,
    raw: &[u8],
) -> reqwest::Response {
    upload(google, Some(token), user_id, "message/rfc822", raw)
        .await
        .expect("request")
}

/// A media upload with reqwest: this Content-Type, and `token` as the
/// bearer token unless `None`.
async fn upload(
    google: &FakeGoogle,
    token: Option<&str>,
    user_id: &str,
    content_type: &str,
    raw: &[u8],
) -> reqwest::Result<reqwest::Response> {
    let mut request = reqwest::Client::new()
        .post(format!(
            "{}upload/gmail/v1/users/{user_id}/messages/send?uploadType=media",
            google.base_url()
        ))
        .header("content-type", content_type)
        .body(raw.to_vec());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await
}

/// Sends `request` and reads the answer as JSON.
async fn fetch_json(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// The answer's JSON body, once its status is checked.
async fn json_with_status(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    response.json().await.unwrap()
}

/// `GET` userinfo with `token` as the bearer token.
async fn userinfo(google: &FakeGoogle, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(google.userinfo_url())
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn error_reason(body: &Value) -> &str {
    body["error"]["errors"][0]["reason"].as_str().unwrap_or("")
}

fn oauth_client(google: &FakeGoogle, client: &OAuthClient) -> OAuthBasic {
    BasicClient::new(ClientId::new(client.client_id.clone()))
        .set_client_secret(ClientSecret::new(client.client_secret.clone()))
        .set_auth_uri(AuthUrl::new(google.auth_url()).unwrap())
        .set_token_uri(TokenUrl::new(google.token_url()).unwrap())
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap())
}

type OAuthBasic = oauth2::basic::BasicClient<
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

/// The HTTP client the `oauth2` crate needs: no redirects followed.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

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

/// The OAuth `error` and `error_description` of a token request the
/// `oauth2` crate saw refused.
fn refusal<T, E: std::error::Error + 'static>(
    result: Result<T, BasicRequestTokenError<E>>,
) -> (String, Option<String>) {
    match result {
        Ok(_) => panic!("the token request succeeded"),
        Err(RequestTokenError::ServerResponse(err)) => (
            err.error().as_ref().to_owned(),
            err.error_description().cloned(),
        ),
        Err(err) => panic!("not a server response: {err:?}"),
    }
}

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

/// The body of the consent endpoint's error page, once the status is
/// checked to be 400.
async fn error_page(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 400);
    response.text().await.unwrap()
}

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
    tokio::time::sleep(Duration::from_millis(1100)).await;
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

#[tokio::test]
async fn quota_refuses_the_fourth_send_in_a_minute_per_user() {
    let google = FakeGoogle::start_with(FakeGoogleOptions {
        quota: Quota {
            units_per_user_per_minute: 300,
            ..Quota::default()
        },
        ..FakeGoogleOptions::default()
    });
    let alice = google.access_token("alice@example.com", &[GMAIL_SEND_SCOPE]);
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

/// The fake can be shared between threads and tasks (e.g. in a `static`).
#[test]
fn fake_google_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FakeGoogle>();
}

/// The fake serves plain `#[test]`s too, and dropping it closes the port.
#[test]
fn usable_from_sync_tests_and_stops_when_dropped() {
    let google = FakeGoogle::start();
    let port = google.port();
    let started = Instant::now();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .write_all(b"GET /no/such/path HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert!(answer.contains("\"status\":\"NOT_FOUND\""), "{answer}");
    assert_eq!(google.base_url(), format!("http://127.0.0.1:{port}/"));

    drop(google);
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    assert!(started.elapsed() < Duration::from_secs(2));
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
