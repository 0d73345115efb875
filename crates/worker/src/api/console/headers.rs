//! The security headers of every console answer: a Content-Security-Policy that allows
//! nothing but this origin's own script and style (no inline script), no framing, no
//! content sniffing, no referrer to other sites, and no caching of pages that show data.
//!
//! Forms may post to this origin only, except that "enroll a Gmail account" posts here and is
//! redirected to Google's consent screen: browsers apply `form-action` to that redirect, so
//! the origin of `google.auth_url` is allowed too.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The console's Content-Security-Policy, forms allowed to go to `consent_origin` too (the
/// origin of Google's consent screen) when there is one.
#[must_use]
pub fn csp(consent_origin: Option<&str>) -> String {
    let extra = consent_origin.map(|o| format!(" {o}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         frame-ancestors 'none'; form-action 'self'{extra}; base-uri 'none'"
    )
}

/// The origin (`scheme://host[:port]`) of `url`, if it is an http(s) URL.
#[must_use]
pub fn origin_of(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.origin().ascii_serialization())
}

/// Adds the headers, with `csp` as the policy, to `request`'s answer.
pub async fn secure(State(csp): State<HeaderValue>, request: Request, next: Next) -> Response {
    let is_asset = request.uri().path().starts_with("/static/");
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !is_asset {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
