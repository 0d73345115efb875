//! Errors as `application/problem+json` (RFC 9457): [`Problem`], and [`normalize`], the
//! layer that turns every other error answer (an extractor's rejection, a body over the
//! limit, a timeout, an unknown path) into one, so a client parses one error format.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The media type of every error answer.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer. `detail` is the message the command line prints for the same failure;
/// `field` names the part of the request at fault, `index` the job of a batch.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; `about:blank` when the status says it all.
    #[serde(rename = "type")]
    pub kind: String,
    /// The status's reason phrase, e.g. `Unprocessable Entity`.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong, in the command line's words.
    pub detail: String,
    /// The field at fault, e.g. `to[1]` or `headers[X-Foo]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The position of the job at fault in a batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
}

impl Problem {
    /// A problem with `status` and `detail`.
    #[must_use]
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            kind: "about:blank".to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
            index: None,
        }
    }

    /// Names the field at fault.
    #[must_use]
    pub fn field(mut self, field: impl Into<String>) -> Self {
        let field = field.into();
        self.field = (!field.is_empty() && field != ".").then_some(field);
        self
    }

    /// Names the job at fault in a batch.
    #[must_use]
    pub fn index(mut self, index: usize) -> Self {
        self.index = Some(index);
        self
    }

    /// 400: the request cannot be read.
    #[must_use]
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 422: the request reads, but breaks a rule.
    #[must_use]
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
    }

    /// 404.
    #[must_use]
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, detail)
    }

    /// 503: Redis is unavailable; nothing was done.
    #[must_use]
    pub fn unavailable(detail: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, detail.to_string())
    }

    /// 413: the body is larger than `limit` bytes (`key` names the setting).
    #[must_use]
    pub fn too_large(key: &str, limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {limit} bytes ({key})"),
        )
    }
}

impl From<mailroom_queue::QueueError> for Problem {
    fn from(e: mailroom_queue::QueueError) -> Self {
        Self::unavailable(format!("queue unavailable: {e}"))
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

/// Largest error body read back to be quoted in a problem's `detail`.
const MAX_QUOTED_BODY: usize = 1024;

/// Rewrites an error answer (status 400 and up) that is not already a problem into one,
/// keeping its status and quoting its text as `detail`.
pub async fn normalize(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    // The console's pages answer errors in HTML, for a person.
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if status.as_u16() < 400 || is_problem || is_html {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_QUOTED_BODY)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let detail = match (text.is_empty(), status) {
        (false, _) => text,
        (true, StatusCode::NOT_FOUND) => "no such endpoint; see GET /v1/openapi.json".to_owned(),
        (true, StatusCode::METHOD_NOT_ALLOWED) => {
            "method not allowed on this endpoint; see GET /v1/openapi.json".to_owned()
        }
        (true, StatusCode::PAYLOAD_TOO_LARGE) => "the body is too large".to_owned(),
        (true, StatusCode::REQUEST_TIMEOUT) => "the request took too long".to_owned(),
        (true, _) => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    let mut problem = Problem::new(status, detail).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().append(name, value.clone());
        }
    }
    problem
}
