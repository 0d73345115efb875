//! `GET /v1/senders`: every sender with its credential kind, health, pause, quarantine and
//! quota use, as `mailroom auth list --json` prints them.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;

use super::ApiState;
use super::auth::authorize;
use super::keys::Scope;
use super::problem::Problem;
use crate::admin::AdminError;
use crate::admin::senders::{self, SenderRow};

/// Maps an operator query's failure to its answer: 400 for bad input, else 503.
pub(super) fn admin_failed(e: AdminError) -> Problem {
    match e {
        AdminError::Invalid(message) => Problem::bad_request(message),
        other => Problem::unavailable(other),
    }
}

/// Every sender.
#[utoipa::path(
    get, path = "/v1/senders", operation_id = "listSenders", tag = "senders",
    responses(
        (status = 200, description = "Senders, sorted by address.", body = Vec<SenderRow>),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `read`.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Redis is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn list(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<Json<Vec<SenderRow>>, Problem> {
    authorize(&state.keys, &headers, Scope::Read)?;
    Ok(Json(
        senders::rows(&state.config, &state.queue)
            .await
            .map_err(admin_failed)?,
    ))
}
