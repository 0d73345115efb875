//! What every call to a Google endpoint shares: the rustls crypto provider ([`install_crypto`]),
//! the HTTP client for the OAuth endpoints ([`build_http_client`]), a client for the `oauth2`
//! crate that keeps the status of the answer ([`StatusRecorder`]), and error text
//! ([`error_chain`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU16, Ordering};

use oauth2::{AsyncHttpClient, HttpClientError, HttpRequest, HttpResponse};

use crate::config::GoogleSection;

/// Installs ring as the process's rustls crypto provider (once; later calls do nothing). Two
/// providers in one tree make rustls panic at run time unless one is chosen.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An HTTP client for Google's endpoints: redirects are not followed, every request is bounded
/// by `[google] timeout`, and TLS is rustls with the ring provider.
///
/// # Errors
/// The TLS backend or the proxy settings of the environment could not be set up.
pub fn build_http_client(google: &GoogleSection) -> Result<reqwest::Client, reqwest::Error> {
    install_crypto();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(google.timeout)
        .connect_timeout(google.timeout)
        .user_agent(concat!("mailroom/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// A `reqwest` client for `oauth2` that remembers the HTTP status of the last answer, so an
/// error can be classified by status as well as by OAuth error code.
pub struct StatusRecorder<'a> {
    http: &'a reqwest::Client,
    status: AtomicU16,
}

impl<'a> StatusRecorder<'a> {
    /// A recorder around `http`.
    #[must_use]
    pub fn new(http: &'a reqwest::Client) -> Self {
        Self {
            http,
            status: AtomicU16::new(0),
        }
    }

    /// The status of the last answer; 0 when none came.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.status.load(Ordering::Relaxed)
    }
}

impl<'c> AsyncHttpClient<'c> for StatusRecorder<'_> {
    type Error = HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let response = self.http.call(request).await?;
            self.status
                .store(response.status().as_u16(), Ordering::Relaxed);
            Ok(response)
        })
    }
}

/// An error and its sources, joined with `: `.
#[must_use]
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
