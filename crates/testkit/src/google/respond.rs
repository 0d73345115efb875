//! Building the fake's answers: JSON in Google's two error styles, HTML
//! pages, and responses that abort the connection instead of answering.

use std::io;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::faults::{AUTH_ERROR_REASON, Fault, is_usage_limit, status_name};

/// Marks a response whose connection is aborted instead of answered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dropped;

/// `status` with a JSON body, `Content-Type: application/json; charset=UTF-8`.
pub(crate) fn json(status: u16, body: &Value) -> Response {
    let mut response = (status_code(status), body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An OAuth error as the token endpoint answers it:
/// `{"error":code,"error_description":description}`.
pub(crate) fn oauth_error(status: u16, error: &str, description: &str) -> Response {
    json(
        status,
        &json!({ "error": error, "error_description": description }),
    )
}

/// A Google API error:
/// `{"error":{"code","message","errors":[{"message","domain","reason"}],"status"}}`,
/// with a `Retry-After` header when `retry_after` is set. `authError`
/// answers also carry the `location` fields and a `WWW-Authenticate` header.
pub(crate) fn google_error(
    code: u16,
    reason: &str,
    message: &str,
    retry_after: Option<Duration>,
) -> Response {
    let domain = if is_usage_limit(reason) {
        "usageLimits"
    } else {
        "global"
    };
    let mut item = json!({ "message": message, "domain": domain, "reason": reason });
    if reason == AUTH_ERROR_REASON || reason == "required" {
        item["location"] = json!("Authorization");
        item["locationType"] = json!("header");
        if reason == AUTH_ERROR_REASON {
            item["message"] = json!("Invalid Credentials");
        } else {
            item["message"] = json!("Login Required.");
        }
    }
    let body = json!({
        "error": {
            "code": code,
            "message": message,
            "errors": [item],
            "status": status_name(code, reason),
        }
    });
    let mut response = json(code, &body);
    if let Some(after) = retry_after {
        set_retry_after(&mut response, after);
    }
    if code == 401 {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(
                "Bearer realm=\"https://accounts.google.com/\", error=\"invalid_token\"",
            ),
        );
    }
    response
}

/// An HTML page.
pub(crate) fn html(status: u16, body: String) -> Response {
    let mut response = (status_code(status), body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=UTF-8"),
    );
    response
}

/// 502 with an HTML body, as a load balancer answers.
pub(crate) fn bad_gateway() -> Response {
    html(502, "<html><body>502 Bad Gateway</body></html>".to_owned())
}

/// A response whose body fails before its first byte: hyper then closes
/// the connection without writing anything, so the client sees the
/// connection drop rather than an answer.
pub(crate) fn dropped() -> Response {
    let stream = futures::stream::iter([Err::<Bytes, io::Error>(io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "connection dropped by fault injection",
    ))]);
    let mut response = Response::new(Body::from_stream(stream));
    response.extensions_mut().insert(Dropped);
    response
}

/// The response that replaces the normal answer for `fault`: a status in
/// Google API style (`oauth` false) or OAuth style (`oauth` true), the 502
/// page, or a connection dropped before processing. `None` for faults that
/// do not replace the answer (latency, a drop after processing, an answer
/// without an id).
pub(crate) fn fault_response(fault: &Fault, oauth: bool) -> Option<Response> {
    match fault {
        Fault::Status {
            code,
            reason,
            message,
            retry_after,
        } => {
            if oauth {
                let mut response = oauth_error(*code, reason, message);
                if let Some(after) = retry_after {
                    set_retry_after(&mut response, *after);
                }
                Some(response)
            } else {
                Some(google_error(*code, reason, message, *retry_after))
            }
        }
        Fault::BadGateway => Some(bad_gateway()),
        Fault::DropBeforeAccept => Some(dropped()),
        Fault::HtmlPage(code) => Some(html(
            *code,
            format!(
                "<!DOCTYPE html><html><head><title>Error {code}</title></head><body><p><b>{code}.</b> That's an error.</p></body></html>"
            ),
        )),
        Fault::Latency(_) | Fault::DropConnection | Fault::AnswerWithoutId => None,
    }
}

/// `Retry-After: <seconds>`, rounded up, at least 1.
fn set_retry_after(response: &mut Response, after: Duration) {
    let seconds = after.as_secs() + u64::from(after.subsec_nanos() > 0);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}
