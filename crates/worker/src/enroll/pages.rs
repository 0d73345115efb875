//! The HTML pages both enrollment flows show the browser: a confirmation, or a failure with
//! its reason. Every page is `no-store` and sends no referrer.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use super::{EnrollError, Enrolled};

/// The page shown after a successful enrollment.
#[must_use]
pub fn confirmation(enrolled: &Enrolled) -> Response {
    page(
        StatusCode::OK,
        "Sender enrolled",
        &format!(
            "<p>mailroom can now send as <strong>{}</strong>.</p>\
             <p>You can close this window.</p>",
            escape(&enrolled.email)
        ),
    )
}

/// A page explaining a failure.
#[must_use]
pub fn error_page(status: StatusCode, message: &str) -> Response {
    page(
        status,
        "Enrollment failed",
        &format!("<p>{}</p>", escape(message)),
    )
}

/// The page for what [`Enroller::finish`](super::Enroller::finish) returned: the
/// confirmation, or the failure with 503 when trying again later may work, else 400.
#[must_use]
pub fn finished_page(result: &Result<Enrolled, EnrollError>) -> Response {
    match result {
        Ok(enrolled) => confirmation(enrolled),
        Err(e) if e.is_unavailable() => error_page(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
        Err(e) => error_page(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

pub(super) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>mailroom: {title}</title>\
         </head><body style=\"font-family: sans-serif; max-width: 40em; margin: 3em auto\">\
         <h1>{title}</h1>{body}</body></html>\n"
    );
    let mut response = (status, Html(html)).into_response();
    no_store(&mut response);
    response
}

pub(super) fn no_store(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// `text` with HTML's special characters escaped (quotes too, so it is safe in attributes).
fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_quoted_attribute(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_html() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#x27;"
        );
    }

    #[test]
    fn failures_that_may_pass_later_answer_503() {
        let unavailable = Err(EnrollError::Store("redis: connection refused".into()));
        assert_eq!(
            finished_page(&unavailable).status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        let refused = Err(EnrollError::NotAllowed("eve@example.org".into()));
        assert_eq!(finished_page(&refused).status(), StatusCode::BAD_REQUEST);
        let enrolled = Ok(Enrolled {
            email: "a@example.com".into(),
            released: false,
            release_error: None,
        });
        let page = finished_page(&enrolled);
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()[header::CACHE_CONTROL], "no-store");
    }
}
