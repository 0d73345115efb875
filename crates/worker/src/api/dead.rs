//! `GET /v1/dead` (the dead letters, with `mailroom dead list`'s filters), and
//! `POST /v1/dead/retry` and `POST /v1/dead/purge` (ids, or every dead letter matching
//! filters, as `mailroom dead retry|purge` take them).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::auth::authorize;
use super::keys::Scope;
use super::problem::Problem;
use super::schema::DeadJobDoc;
use super::senders::admin_failed;
use crate::admin::dead::{self, Action, DeadQuery, parse_age};

/// Most dead letters one `GET /v1/dead` returns.
const MAX_LIMIT: usize = 1000;

/// The filters of `GET /v1/dead`, and of a retry or purge without ids.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Filters {
    /// Only jobs from this sender (the payload's `from`): an address, or `*@domain`.
    pub sender: Option<String>,
    /// Only jobs whose reason contains this text (ASCII case ignored).
    pub reason: Option<String>,
    /// Only jobs that died at least this long ago, e.g. `1h` or `3days`.
    pub older_than: Option<String>,
    /// Only jobs that died at most this long ago, e.g. `10m`.
    pub newer_than: Option<String>,
}

impl Filters {
    fn query(&self) -> Result<DeadQuery, Problem> {
        let age = |field: &str, text: &Option<String>| {
            text.as_deref()
                .map(parse_age)
                .transpose()
                .map_err(|e| Problem::bad_request(format!("{field}: {e}")).field(field))
        };
        Ok(DeadQuery {
            sender: self.sender.clone().filter(|s| !s.trim().is_empty()),
            reason: self.reason.clone().filter(|s| !s.is_empty()),
            older_than: age("older_than", &self.older_than)?,
            newer_than: age("newer_than", &self.newer_than)?,
        })
    }
}

/// The page of `GET /v1/dead`.
#[derive(Debug, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// How many to return (1 to 1000). Default 20.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// How many of the newest matching jobs to skip. Default 0.
    #[param(minimum = 0)]
    offset: Option<usize>,
}

/// Dead letters, newest first.
#[utoipa::path(
    get, path = "/v1/dead", operation_id = "listDead", tag = "dead",
    params(Filters, Page),
    responses(
        (status = 200, description = "The matching dead letters, newest first.", body = Vec<DeadJobDoc>),
        (status = 400, description = "A bad parameter; `field` names it.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `read`.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Redis is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["read"]))
)]
pub async fn list(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Query(filters): Query<Filters>,
    Query(page): Query<Page>,
) -> Result<Json<Vec<mailroom_queue::DeadJob>>, Problem> {
    authorize(&state.keys, &headers, Scope::Read)?;
    let limit = page.limit.unwrap_or(20);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(
            Problem::bad_request(format!("limit: must be 1 to {MAX_LIMIT}")).field("limit"),
        );
    }
    let query = filters.query()?;
    let jobs = dead::list(&state.queue, &query, page.offset.unwrap_or(0), limit)
        .await
        .map_err(admin_failed)?;
    Ok(Json(jobs))
}

/// Which dead letters a retry or purge takes: `ids`, or `all` and/or filters.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    /// Job ids; given alone.
    #[serde(default)]
    pub ids: Vec<String>,
    /// Every dead letter (narrowed by the filters, if any are given).
    #[serde(default)]
    pub all: bool,
    /// Only jobs from this sender: an address, or `*@domain`.
    pub sender: Option<String>,
    /// Only jobs whose reason contains this text.
    pub reason: Option<String>,
    /// Only jobs that died at least this long ago, e.g. `1h`.
    pub older_than: Option<String>,
    /// Only jobs that died at most this long ago, e.g. `10m`.
    pub newer_than: Option<String>,
}

/// What a retry or purge did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Done {
    /// How many dead letters the selection named.
    pub selected: usize,
    /// How many were retried or purged.
    pub done: u64,
    /// What `mailroom dead retry|purge` prints for the same.
    pub message: String,
}

async fn act(
    state: &ApiState,
    headers: &HeaderMap,
    body: &Bytes,
    action: Action,
) -> Result<Done, Problem> {
    authorize(&state.keys, headers, Scope::Admin)?;
    let which: Selection = serde_json::from_slice(body).map_err(|e| {
        Problem::unprocessable(format!("invalid selection: {e}")).field("selection")
    })?;
    let filters = Filters {
        sender: which.sender.clone(),
        reason: which.reason.clone(),
        older_than: which.older_than.clone(),
        newer_than: which.newer_than.clone(),
    };
    let query = filters.query()?;
    if which.ids.is_empty() == (!which.all && query.is_empty()) {
        return Err(Problem::unprocessable(
            "give either ids, or all and/or filters (sender, reason, older_than, newer_than)",
        )
        .field("ids"));
    }
    let ids = dead::resolve(&state.queue, &which.ids, &query)
        .await
        .map_err(|e| admin_failed(e).field("ids"))?;
    let done = dead::bulk(&state.queue, action, &ids, |_| {})
        .await
        .map_err(admin_failed)?;
    let message = match action {
        Action::Retry => format!("retried {done}{}", dead::retried_note(done, ids.len())),
        Action::Purge => format!("purged {done}"),
    };
    Ok(Done {
        selected: ids.len(),
        done,
        message,
    })
}

/// Put dead letters back in the queue with their attempts reset.
#[utoipa::path(
    post, path = "/v1/dead/retry", operation_id = "retryDead", tag = "dead",
    request_body(content = Selection, content_type = "application/json"),
    responses(
        (status = 200, description = "How many were retried.", body = Done),
        (status = 400, description = "A bad id or filter; `field` names it.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `admin`.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over `api.max_body_bytes`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neither ids nor a filter, or both.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Redis is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["admin"]))
)]
pub async fn retry(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Done>, Problem> {
    act(&state, &headers, &body, Action::Retry).await.map(Json)
}

/// Delete dead letters for good.
#[utoipa::path(
    post, path = "/v1/dead/purge", operation_id = "purgeDead", tag = "dead",
    request_body(content = Selection, content_type = "application/json"),
    responses(
        (status = 200, description = "How many were purged.", body = Done),
        (status = 400, description = "A bad id or filter; `field` names it.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `admin`.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over `api.max_body_bytes`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neither ids nor a filter, or both.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Redis is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["admin"]))
)]
pub async fn purge(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Done>, Problem> {
    act(&state, &headers, &body, Action::Purge).await.map(Json)
}
