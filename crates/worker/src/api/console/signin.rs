//! `GET /login` (the form), `POST /login` (an API key with `read` or `admin` in exchange for
//! a session cookie) and `POST /logout`.
//!
//! The sign-in form has no session to tie a CSRF token to; it is refused when the browser
//! says it comes from another origin (`Origin` not this host), and the cookie is
//! `SameSite=Strict`, so another site can neither sign a visitor in nor use their session.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::page::{Nav, error_page, render};
use super::posted::SessionPost;
use super::session::{Session, clear_cookie, set_cookie};
use crate::api::ApiState;
use crate::api::keys::Scope;

#[derive(Template)]
#[template(path = "console/login.html")]
struct Login<'a> {
    nav: Option<Nav>,
    error: Option<&'a str>,
}

/// `GET /login`.
pub async fn form() -> Response {
    render(
        StatusCode::OK,
        &Login {
            nav: None,
            error: None,
        },
    )
}

/// The sign-in form's fields.
#[derive(Deserialize)]
pub struct Credentials {
    key: String,
}

/// Whether `headers` say the request comes from another origin than the host it was sent to.
fn cross_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    origin == "null" || origin_host != host
}

/// `POST /login`.
pub async fn sign_in(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Form(form): Form<Credentials>,
) -> Response {
    if cross_origin(&headers) {
        return error_page(
            StatusCode::FORBIDDEN,
            "Sign in from the console's own page.",
        );
    }
    let refused = |text: &'static str| {
        render(
            StatusCode::UNAUTHORIZED,
            &Login {
                nav: None,
                error: Some(text),
            },
        )
    };
    let Some(key) = state.keys.find(form.key.trim()) else {
        return refused("Unknown API key.");
    };
    if !key.grants(Scope::Read) {
        return refused("This API key has neither the read nor the admin scope.");
    }
    tracing::info!(key = %key.id, "console sign-in");
    let ttl = state.config.api.session_ttl;
    let sealed = Session::new(&key.id, ttl).seal(&state.console.key);
    let cookie = set_cookie(&sealed, ttl, state.config.api.console_secure_cookies);
    with_cookie(Redirect::to("/").into_response(), &cookie)
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// The sign-out form's fields.
#[derive(Deserialize)]
pub struct SignOut {
    csrf: Option<String>,
}

super::posted::csrf_field!(SignOut);

/// `POST /logout`.
pub async fn sign_out(State(state): State<ApiState>, _: SessionPost<SignOut>) -> Response {
    let cookie = clear_cookie(state.config.api.console_secure_cookies);
    with_cookie(Redirect::to("/login").into_response(), &cookie)
}
