//! `POST /v1/messages` and `POST /v1/messages/batch`: jobs in, ids out. A job is decoded and
//! validated as `mailroom send --json` does it (the same messages), checked against the
//! key's sender allowlist, then enqueued through the enqueue crate's client; a job the queue
//! did not take is an error answer, never a silent drop.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use mailroom_enqueue::{EmailJob, EnqueueError};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::ApiState;
use super::auth::authorize;
use super::keys::{ApiKey, Scope};
use super::problem::Problem;

/// Most jobs in one batch.
pub const MAX_BATCH: usize = 1000;

/// Header that sets a job's idempotency key.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// A job taken by the queue.
#[derive(Debug, Clone, Copy, Serialize, utoipa::ToSchema)]
pub struct Accepted {
    /// The job's id (`GET /v1/messages/{id}`).
    #[schema(value_type = String, example = "01JD3Q1Z9XJ8Q4V6W2N0K5M7AB")]
    pub id: mailroom_jobs::JobId,
    /// True when an earlier job with the same idempotency key was found: nothing new was
    /// queued, and `id` is the earlier job's.
    pub duplicate: bool,
}

/// The jobs of a batch, taken all at once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BatchAccepted {
    /// One entry per job, in the order sent.
    pub jobs: Vec<Accepted>,
}

/// A batch of jobs.
#[derive(Debug, Deserialize)]
struct Batch<'a> {
    #[serde(borrow)]
    jobs: Vec<&'a RawValue>,
}

/// Reads a job as `mailroom send --json` does.
fn decode(bytes: &[u8]) -> Result<EmailJob, (StatusCode, mailroom_jobs::DecodeError)> {
    EmailJob::from_json(bytes).map_err(|e| {
        let status = if e.is_syntax() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        (status, e)
    })
}

/// Sets the job's idempotency key from the header's `value`, unless the job has a different
/// one of its own.
fn idempotency(job: &mut EmailJob, value: Option<String>) -> Result<(), Problem> {
    let Some(value) = value else { return Ok(()) };
    match job.idempotency_key() {
        Some(own) if own != value => Err(Problem::unprocessable(
            "invalid job: idempotency_key: differs from the Idempotency-Key header",
        )
        .field("idempotency_key")),
        _ => {
            job.v1_mut().idempotency_key = Some(value);
            Ok(())
        }
    }
}

fn header_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    headers
        .get(IDEMPOTENCY_KEY)
        .map(|v| {
            v.to_str().map(|s| s.trim().to_owned()).map_err(|_| {
                Problem::bad_request("the Idempotency-Key header is not visible ASCII")
            })
        })
        .transpose()
}

/// 403 unless `key` may send as the job's sender.
fn sender_allowed(key: &ApiKey, job: &EmailJob) -> Result<(), Problem> {
    if key.may_send_as(job.from()) {
        return Ok(());
    }
    Err(Problem::new(
        StatusCode::FORBIDDEN,
        format!(
            "invalid job: from: the API key {:?} may not send as {}",
            key.id,
            job.from().email()
        ),
    )
    .field("from"))
}

fn enqueue_failed(e: EnqueueError) -> Problem {
    match e {
        EnqueueError::Invalid(error) => {
            Problem::unprocessable(format!("invalid job: {error}")).field(error.field)
        }
        EnqueueError::InvalidInBatch { index, error } => {
            Problem::unprocessable(format!("invalid job at index {index}: {error}"))
                .field(error.field)
                .index(index)
        }
        EnqueueError::Unavailable(e) => Problem::from(e),
        other => Problem::unavailable(other),
    }
}

/// Enqueue one job.
#[utoipa::path(
    post, path = "/v1/messages", operation_id = "sendMessage", tag = "messages",
    request_body(content = inline(Object), description = "One job in the wire format (`\"version\": \"v1\"`); see the `EmailJob` schema.", content_type = "application/json"),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes a repeated request a duplicate of the first instead of a second message.")),
    responses(
        (status = 202, description = "Queued (or a duplicate of an earlier job).", body = Accepted),
        (status = 400, description = "The body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `send`, or may not send as this sender.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over `api.max_body_bytes`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The job breaks a rule; `field` names it.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Redis is unavailable; nothing was queued.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["send"]))
)]
pub async fn send(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<Accepted>), Problem> {
    let key = authorize(&state.keys, &headers, Scope::Send)?;
    let mut job = decode(&body)
        .map_err(|(status, e)| Problem::new(status, format!("invalid job: {e}")).field(e.path()))?;
    idempotency(&mut job, header_key(&headers)?)?;
    sender_allowed(key, &job)?;
    let enqueued = state.client.send(job).await.map_err(enqueue_failed)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Accepted {
            id: enqueued.id,
            duplicate: enqueued.duplicate,
        }),
    ))
}

/// Enqueue up to 1,000 jobs, validated all or none, queued in order.
#[utoipa::path(
    post, path = "/v1/messages/batch", operation_id = "sendBatch", tag = "messages",
    request_body(content = inline(Object), description = "`{\"jobs\": [job, …]}`, at most 1,000 jobs in the wire format.", content_type = "application/json"),
    params(("Idempotency-Key" = Option<String>, Header, description = "Sets job i's idempotency key to `KEY:i` (for jobs without one of their own).")),
    responses(
        (status = 202, description = "Every job queued (or a duplicate), in order.", body = BatchAccepted),
        (status = 400, description = "The body is not JSON.", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid API key.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks `send`, or may not send as a job's sender (`index` names it).", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is over `api.max_batch_bytes`.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A job breaks a rule (`index` and `field` name it), or there are more than 1,000; nothing was queued.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Redis is unavailable. The batch is queued in atomic runs of 100 jobs, so its first runs may have been queued: send it again with the same `Idempotency-Key` and only the rest is queued.", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = ["send"]))
)]
pub async fn send_batch(
    State(state): State<ApiState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<BatchAccepted>), Problem> {
    let key = authorize(&state.keys, &headers, Scope::Send)?;
    let batch: Batch<'_> = serde_json::from_slice(&body).map_err(|e| {
        let status = if e.is_syntax() || e.is_eof() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        Problem::new(
            status,
            format!("invalid batch: {e} (expected {{\"jobs\": [job, …]}})"),
        )
        .field("jobs")
    })?;
    if batch.jobs.is_empty() || batch.jobs.len() > MAX_BATCH {
        return Err(Problem::unprocessable(format!(
            "invalid batch: jobs: {} jobs; a batch holds 1 to {MAX_BATCH}",
            batch.jobs.len()
        ))
        .field("jobs"));
    }
    let base_key = header_key(&headers)?;
    let mut jobs = Vec::with_capacity(batch.jobs.len());
    for (index, raw) in batch.jobs.iter().enumerate() {
        let in_batch = |p: Problem| p.index(index);
        let mut job = decode(raw.get().as_bytes()).map_err(|(status, e)| {
            in_batch(
                Problem::new(status, format!("invalid job at index {index}: {e}")).field(e.path()),
            )
        })?;
        if job.idempotency_key().is_none() {
            idempotency(&mut job, base_key.as_ref().map(|k| format!("{k}:{index}")))?;
        }
        sender_allowed(key, &job).map_err(|p| {
            let detail =
                p.detail
                    .replacen("invalid job:", &format!("invalid job at index {index}:"), 1);
            in_batch(Problem { detail, ..p })
        })?;
        jobs.push(job);
    }
    let enqueued = state.client.send_many(jobs).await.map_err(enqueue_failed)?;
    let jobs = enqueued
        .into_iter()
        .map(|e| Accepted {
            id: e.id,
            duplicate: e.duplicate,
        })
        .collect();
    Ok((StatusCode::ACCEPTED, Json(BatchAccepted { jobs })))
}
