//! What every console page shares: the navigation (who is signed in, read-only or not, the
//! CSRF token of the sign-out form), rendering a template into an answer, and the error page.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::operator::Operator;

/// The navigation bar of a signed-in page.
#[derive(Debug, Clone)]
pub struct Nav {
    /// The id of the signed-in key.
    pub key_id: String,
    /// Whether it may change things.
    pub admin: bool,
    /// The CSRF token for the page's forms.
    pub csrf: String,
    /// The page shown: `overview`, `jobs`, `dead`, `senders`, `templates`, `suppressions`
    /// or `config`.
    pub active: &'static str,
}

impl Nav {
    /// The navigation of `operator` on page `active`.
    #[must_use]
    pub fn new(operator: &Operator, active: &'static str) -> Self {
        Self {
            key_id: operator.session.key_id.clone(),
            admin: operator.admin,
            csrf: operator.csrf.clone(),
            active,
        }
    }

    /// The class of the link to `page`.
    #[must_use]
    pub fn class(&self, page: &str) -> &'static str {
        if page == self.active { "active" } else { "" }
    }
}

/// A message page, e.g. an error.
#[derive(Template)]
#[template(path = "console/message.html")]
struct Message<'a> {
    nav: Option<Nav>,
    title: &'a str,
    text: &'a str,
}

/// `template` rendered as an HTML answer with `status`.
pub fn render<T: Template>(status: StatusCode, template: &T) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a console page did not render");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<!doctype html><title>error</title><p>This page did not render.</p>"),
            )
                .into_response()
        }
    }
}

/// A page that says `text`, with `status`.
pub fn error_page(status: StatusCode, text: &str) -> Response {
    let title = status.canonical_reason().unwrap_or("Error");
    render(
        status,
        &Message {
            nav: None,
            title,
            text,
        },
    )
}

/// The page of a failed operator query: 400 for bad input, 503 when Redis is away.
pub fn admin_error(e: &crate::admin::AdminError) -> Response {
    let status = match e {
        crate::admin::AdminError::Invalid(_) => StatusCode::BAD_REQUEST,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    error_page(status, &e.to_string())
}
