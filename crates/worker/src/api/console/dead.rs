//! `GET /dead`: the dead letters, with the filters of `mailroom dead list` and `GET
//! /v1/dead` (sender, reason, age) and each one's payload; `POST /dead/confirm`: what a
//! retry or purge of the selected jobs, or of every job matching the filters, would take,
//! with a button to go on; `POST /dead/apply`: does it (admin only), then back to the list
//! with what was done.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::operator::Operator;
use super::page::{Nav, admin_error, error_page, render};
use super::posted::Posted;
use crate::admin::AdminError;
use crate::admin::dead::{self, Action, DeadQuery, parse_age};
use crate::api::ApiState;
use crate::cli::table;

/// Most dead letters one page shows.
pub const PAGE: usize = 100;

/// The filters, as the form and the query string give them.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Filters {
    /// An address, or `*@domain`.
    #[serde(default)]
    pub sender: String,
    /// Text the reason contains.
    #[serde(default)]
    pub reason: String,
    /// e.g. `1h`.
    #[serde(default)]
    pub older_than: String,
    /// e.g. `10m`.
    #[serde(default)]
    pub newer_than: String,
    /// What the last action did, shown once.
    #[serde(default)]
    pub notice: String,
}

impl Filters {
    fn query(&self) -> Result<DeadQuery, AdminError> {
        let age = |field: &str, text: &str| {
            let text = text.trim();
            (!text.is_empty())
                .then(|| parse_age(text).map_err(|e| AdminError::Invalid(format!("{field}: {e}"))))
                .transpose()
        };
        let text = |t: &str| Some(t.trim().to_owned()).filter(|t| !t.is_empty());
        Ok(DeadQuery {
            sender: text(&self.sender),
            reason: text(&self.reason),
            older_than: age("older than", &self.older_than)?,
            newer_than: age("newer than", &self.newer_than)?,
        })
    }

    /// The filters as a query string (no notice).
    fn query_string(&self, notice: Option<&str>) -> String {
        let mut pairs = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("sender", &self.sender),
            ("reason", &self.reason),
            ("older_than", &self.older_than),
            ("newer_than", &self.newer_than),
        ] {
            if !v.trim().is_empty() {
                pairs.append_pair(k, v.trim());
            }
        }
        if let Some(notice) = notice {
            pairs.append_pair("notice", notice);
        }
        pairs.finish()
    }
}

/// One dead letter, as listed.
#[derive(Debug, Clone)]
pub struct Row {
    /// The job id.
    pub id: String,
    /// The payload's `from`, or `-`.
    pub sender: String,
    /// Why it died.
    pub reason: String,
    /// When it died.
    pub died: String,
    /// The payload as stored.
    pub payload: String,
}

impl Row {
    fn of(job: mailroom_queue::DeadJob) -> Self {
        let payload = job.payload.unwrap_or_default();
        let sender = serde_json::from_str::<serde_json::Value>(&payload)
            .ok()
            .and_then(|v| v.get("from")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| "-".to_owned());
        let s = job.status;
        Self {
            id: s.id.to_string(),
            sender,
            reason: s.last_error.unwrap_or_default(),
            died: table::time(s.finished_at.unwrap_or(s.updated_at)),
            payload,
        }
    }
}

#[derive(Template)]
#[template(path = "console/dead.html")]
struct DeadPage {
    nav: Option<Nav>,
    filters: Filters,
    rows: Vec<Row>,
    shown_max: usize,
}

/// `GET /dead`.
pub async fn page(
    State(state): State<ApiState>,
    operator: Operator,
    Query(filters): Query<Filters>,
) -> Response {
    let listed = async {
        let query = filters.query()?;
        dead::list(&state.queue, &query, 0, PAGE).await
    }
    .await;
    match listed {
        Ok(jobs) => render(
            StatusCode::OK,
            &DeadPage {
                nav: Some(Nav::new(&operator, "dead")),
                rows: jobs.into_iter().map(Row::of).collect(),
                filters,
                shown_max: PAGE,
            },
        ),
        Err(e) => admin_error(&e),
    }
}

/// A retry or purge as the forms post it. The ids come as repeated `ids` fields, which a
/// derived form cannot gather, so the fields are taken as pairs and sorted out by hand.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(from = "Vec<(String, String)>")]
pub struct Request {
    csrf: Option<String>,
    action: Option<Action>,
    /// Every job matching the filters, rather than the ids.
    matching: bool,
    ids: Vec<String>,
    filters: Filters,
}

impl From<Vec<(String, String)>> for Request {
    fn from(fields: Vec<(String, String)>) -> Self {
        let mut r = Self::default();
        for (k, v) in fields {
            match k.as_str() {
                "csrf" => r.csrf = Some(v),
                "action" => {
                    r.action = match v.as_str() {
                        "retry" => Some(Action::Retry),
                        "purge" => Some(Action::Purge),
                        _ => None,
                    }
                }
                "scope" => r.matching = v == "matching",
                "ids" => r.ids.push(v),
                "sender" => r.filters.sender = v,
                "reason" => r.filters.reason = v,
                "older_than" => r.filters.older_than = v,
                "newer_than" => r.filters.newer_than = v,
                _ => {}
            }
        }
        r
    }
}

super::posted::csrf_field!(Request);

impl Request {
    /// The ids it names now.
    async fn resolve(&self, state: &ApiState) -> Result<Vec<mailroom_jobs::JobId>, AdminError> {
        if self.matching {
            dead::resolve(&state.queue, &[], &self.filters.query()?).await
        } else if self.ids.is_empty() {
            Err(AdminError::Invalid(
                "no job selected: tick some, or choose every matching job".to_owned(),
            ))
        } else {
            dead::resolve(&state.queue, &self.ids, &DeadQuery::default()).await
        }
    }

    /// The action asked for.
    fn action(&self) -> Result<Action, Box<Response>> {
        self.action.ok_or_else(|| {
            Box::new(error_page(
                StatusCode::BAD_REQUEST,
                "no action (retry or purge)",
            ))
        })
    }
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Retry => "retry",
        Action::Purge => "purge",
    }
}

#[derive(Template)]
#[template(path = "console/dead_confirm.html")]
struct Confirm {
    nav: Option<Nav>,
    action: &'static str,
    matching: bool,
    ids: Vec<String>,
    filters: Filters,
    count: usize,
}

/// `POST /dead/confirm`: the confirmation step.
pub async fn confirm(
    State(state): State<ApiState>,
    Posted {
        operator,
        form: request,
    }: Posted<Request>,
) -> Response {
    let action = match request.action() {
        Ok(action) => action,
        Err(refused) => return *refused,
    };
    match request.resolve(&state).await {
        Ok(ids) => render(
            StatusCode::OK,
            &Confirm {
                nav: Some(Nav::new(&operator, "dead")),
                action: verb(action),
                matching: request.matching,
                count: ids.len(),
                ids: ids.iter().map(ToString::to_string).collect(),
                filters: request.filters,
            },
        ),
        Err(e) => admin_error(&e),
    }
}

/// `POST /dead/apply`: the retry or purge, then back to the list.
pub async fn apply(
    State(state): State<ApiState>,
    Posted {
        operator,
        form: request,
    }: Posted<Request>,
) -> Response {
    let action = match request.action() {
        Ok(action) => action,
        Err(refused) => return *refused,
    };
    let done = async {
        let ids = request.resolve(&state).await?;
        let done = dead::bulk(&state.queue, action, &ids, |_| {}).await?;
        Ok::<_, AdminError>(match action {
            Action::Retry => format!("retried {done}{}", dead::retried_note(done, ids.len())),
            Action::Purge => format!("purged {done}"),
        })
    }
    .await;
    match done {
        Ok(message) => {
            tracing::info!(key = %operator.session.key_id, action = verb(action), %message, "console dead-letter action");
            let back = format!("/dead?{}", request.filters.query_string(Some(&message)));
            Redirect::to(&back).into_response()
        }
        Err(e) => admin_error(&e),
    }
}
