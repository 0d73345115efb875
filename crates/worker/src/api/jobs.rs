//! `GET /v1/messages/{id}` (where a job is, as `mailroom status --json` prints it) and
//! `DELETE /v1/messages/{id}` (cancel a job that has not started sending).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use mailroom_enqueue::Cancelled as Outcome;
use serde::Serialize;

use super::ApiState;
use super::auth::authorize;
use super::keys::Scope;
use super::problem::Problem;
use super::schema::JobStatusDoc;
use crate::admin::dead::job_id;

fn parse(id: &str) -> Result<mailroom_jobs::JobId, Problem> {
    job_id(id).map_err(|e| Problem::bad_request(e.to_string()).field("id"))
}

/// A job's status.
#[utoipa::path(
    get, path = "/v1/messages/{id}", operation_id = "getMessage", tag = "messages",
    params(("id" = String, Path, description = "The job id `POST /v1/messages` answered.")),
    responses(
        (status = 200, description = "Where the job is.", body = JobStatusDoc),
        (status = 400, description = "Not a job id.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `read`.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job (or trimmed after its retention).", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Redis is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn status(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<mailroom_queue::JobStatus>, Problem> {
    authorize(&state.keys, &headers, Scope::Read)?;
    let id = parse(&id)?;
    match state.queue.status(id).await? {
        Some(status) => Ok(Json(status)),
        None => Err(Problem::not_found(format!("job {id} not found"))),
    }
}

/// What a cancel did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = Cancelled)]
pub struct CancelledDoc {
    /// The job.
    pub id: String,
    /// Always `cancelled`.
    pub state: String,
}

/// Cancel a job that has not started sending.
#[utoipa::path(
    delete, path = "/v1/messages/{id}", operation_id = "cancelMessage", tag = "messages",
    params(("id" = String, Path, description = "The job id.")),
    responses(
        (status = 200, description = "Cancelled: it will not be sent.", body = CancelledDoc),
        (status = 400, description = "Not a job id.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `send`.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such job.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Too late: the job is sending or finished.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Redis is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["send"]))
)]
pub async fn cancel(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<CancelledDoc>, Problem> {
    authorize(&state.keys, &headers, Scope::Send)?;
    let id = parse(&id)?;
    match state
        .client
        .cancel(id)
        .await
        .map_err(Problem::unavailable)?
    {
        Outcome::Cancelled => Ok(Json(CancelledDoc {
            id: id.to_string(),
            state: "cancelled".to_owned(),
        })),
        Outcome::NotFound => Err(Problem::not_found(format!("job {id} not found"))),
        Outcome::TooLate(state) => Err(Problem::new(
            StatusCode::CONFLICT,
            format!("job {id} is {state}: too late to cancel"),
        )),
    }
}
