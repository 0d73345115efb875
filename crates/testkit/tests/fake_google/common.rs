//! What the suites share: the real clients (yup-oauth2, google-gmail1, the `oauth2` crate and
//! reqwest) pointed at a fake, and readers for Google's answers.

use std::io::Cursor;

use google_gmail1::Gmail;
use google_gmail1::api::{Message, Scope as GmailScope};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mailroom_testkit::google::{
    FakeGoogle, FakeGoogleOptions, GMAIL_SEND_SCOPE, OAuthClient, ServiceAccount,
};
use oauth2::basic::{BasicClient, BasicRequestTokenError};
use oauth2::{AuthUrl, ClientId, ClientSecret, RedirectUrl, RequestTokenError, TokenUrl};
use serde_json::Value;
use yup_oauth2::authenticator::Authenticator;
use yup_oauth2::error::AuthError;
use yup_oauth2::{CustomHyperClientBuilder, ServiceAccountAuthenticator};

/// The connector type every client here is built on.
pub type Connector = HttpsConnector<HttpConnector>;

/// The service account [`fake_with_service_account`] registers.
pub const SERVICE_ACCOUNT: &str = "mailer@mailroom-test.iam.gserviceaccount.com";
/// The domain user that service account may send as.
pub const SENDER: &str = "noreply@example.com";
/// The loopback redirect URI of the OAuth clients.
pub const REDIRECT: &str = "http://127.0.0.1:8765/callback";

/// The connector production code uses (https, or http for local
/// endpoints), with no trusted roots since only http is used here.
pub fn connector() -> Connector {
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
pub fn fake_with_service_account(opts: FakeGoogleOptions) -> (FakeGoogle, ServiceAccount) {
    let google = FakeGoogle::start_with(opts);
    let account = google.service_account(SERVICE_ACCOUNT);
    google.add_domain_user(SENDER);
    google.grant_delegation(&account.client_id, &[GMAIL_SEND_SCOPE]);
    (google, account)
}

/// A service-account authenticator impersonating `subject`.
pub async fn authenticator(key_json: &str, subject: &str) -> Authenticator<Connector> {
    service_account_authenticator(key_json, Some(subject)).await
}

/// A service-account authenticator, acting as the account itself when
/// `subject` is `None`.
pub async fn service_account_authenticator(
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
pub async fn token_refusal(auth: &Authenticator<Connector>) -> AuthError {
    let err = auth.token(&[GMAIL_SEND_SCOPE]).await.unwrap_err();
    let yup_oauth2::Error::AuthError(err) = err else {
        panic!("not an auth error: {err:?}");
    };
    err
}

/// A google-gmail1 hub on the fake's URLs.
pub fn hub(google: &FakeGoogle, auth: Authenticator<Connector>) -> Gmail<Connector> {
    let client = Client::builder(TokioExecutor::new()).build(connector());
    let mut hub = Gmail::new(client, auth);
    hub.root_url(google.base_url());
    hub.base_url(google.base_url());
    hub
}

/// A google-gmail1 media upload of `raw` as `me`, in the thread given.
pub async fn gmail_send(
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

/// A minimal message whose `Message-ID` is `<subject@example.com>`.
pub fn message(from: &str, to: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{subject}@example.com>\r\n\r\nHello.\r\n"
    )
    .into_bytes()
}

/// A media upload of `raw` as `message/rfc822` with reqwest.
pub async fn reqwest_send(
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
pub async fn upload(
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
pub async fn fetch_json(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// The answer's JSON body, once its status is checked.
pub async fn json_with_status(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status(), status);
    response.json().await.unwrap()
}

/// `GET` userinfo with `token` as the bearer token.
pub async fn userinfo(google: &FakeGoogle, token: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(google.userinfo_url())
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// `error.errors[0].reason` of a Google API error, or `""`.
pub fn error_reason(body: &Value) -> &str {
    body["error"]["errors"][0]["reason"].as_str().unwrap_or("")
}

/// An `oauth2` crate client for `client` on the fake's endpoints, redirecting to [`REDIRECT`].
pub fn oauth_client(google: &FakeGoogle, client: &OAuthClient) -> OAuthBasic {
    BasicClient::new(ClientId::new(client.client_id.clone()))
        .set_client_secret(ClientSecret::new(client.client_secret.clone()))
        .set_auth_uri(AuthUrl::new(google.auth_url()).unwrap())
        .set_token_uri(TokenUrl::new(google.token_url()).unwrap())
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap())
}

/// The `oauth2` client type with auth, token and redirect URLs set.
pub type OAuthBasic = oauth2::basic::BasicClient<
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

/// The HTTP client the `oauth2` crate needs: no redirects followed.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The OAuth `error` and `error_description` of a token request the
/// `oauth2` crate saw refused.
pub fn refusal<T, E: std::error::Error + 'static>(
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

/// `GET {base}gmail/v1/users/me/{path_and_query}` with `token`.
pub async fn gmail_get(
    google: &mailroom_testkit::google::FakeGoogle,
    token: &str,
    path_and_query: &str,
) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!(
            "{}gmail/v1/users/me/{path_and_query}",
            google.base_url()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}
