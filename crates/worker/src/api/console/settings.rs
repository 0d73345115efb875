//! `GET /config`: the effective configuration, secrets redacted, exactly as `mailroom config
//! check` prints it.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::operator::Operator;
use super::page::{Nav, error_page, render};
use crate::api::ApiState;

#[derive(Template)]
#[template(path = "console/config.html")]
struct ConfigPage {
    nav: Option<Nav>,
    text: String,
}

/// `GET /config`.
pub async fn page(State(state): State<ApiState>, operator: Operator) -> Response {
    match crate::cli::config_cmd::effective(&state.config) {
        Ok(text) => render(
            StatusCode::OK,
            &ConfigPage {
                nav: Some(Nav::new(&operator, "config")),
                text,
            },
        ),
        Err(e) => error_page(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:?}")),
    }
}
