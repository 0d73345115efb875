//! `GET /v1/queue`: the queue's counts, as `mailroom queue stats --json` prints them.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;

use super::ApiState;
use super::auth::authorize;
use super::keys::Scope;
use super::problem::Problem;
use super::schema::QueueStatsDoc;

/// The queue's counts.
#[utoipa::path(
    get, path = "/v1/queue", operation_id = "getQueue", tag = "queue",
    responses(
        (status = 200, description = "Counts by state, the oldest ready job, workers.", body = QueueStatsDoc),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `read`.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Redis is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn stats(
    State(state): State<ApiState>,
    headers: HeaderMap,
) -> Result<Json<mailroom_queue::QueueStats>, Problem> {
    authorize(&state.keys, &headers, Scope::Read)?;
    Ok(Json(state.queue.stats().await?))
}
