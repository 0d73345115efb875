//! `GET /jobs?id=…`: one job, looked up by id: its state, attempts, errors, Gmail ids and
//! thread, as `mailroom status` prints them, and the headers of the message it renders to.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::operator::Operator;
use super::page::{Nav, admin_error, render};
use crate::admin::AdminError;
use crate::admin::dead::job_id;
use crate::api::ApiState;

/// The lookup form's field.
#[derive(Debug, Deserialize)]
pub struct Lookup {
    id: Option<String>,
}

#[derive(Template)]
#[template(path = "console/job.html")]
struct JobPage {
    nav: Option<Nav>,
    id: String,
    /// `(field, value)` rows of `mailroom status`.
    rows: Vec<(String, String)>,
    headers: Option<String>,
    payload: Option<String>,
    missing: bool,
}

/// The header block of `payload` rendered as the worker would send it, or why not.
fn rendered_headers(payload: &str) -> String {
    let rendered = mailroom_jobs::EmailJob::from_json(payload.as_bytes())
        .map_err(|e| e.to_string())
        .and_then(|job| job.render(chrono::Utc::now()).map_err(|e| e.to_string()));
    match rendered {
        Ok(rendered) => {
            let text = String::from_utf8_lossy(&rendered.bytes);
            let end = text
                .find("\r\n\r\n")
                .or_else(|| text.find("\n\n"))
                .unwrap_or(text.len());
            text[..end].replace("\r\n", "\n")
        }
        Err(e) => format!("(the payload does not render: {e})"),
    }
}

/// `GET /jobs`.
pub async fn page(
    State(state): State<ApiState>,
    operator: Operator,
    Query(lookup): Query<Lookup>,
) -> Response {
    let id = lookup.id.unwrap_or_default().trim().to_owned();
    let mut page = JobPage {
        nav: Some(Nav::new(&operator, "jobs")),
        id: id.clone(),
        rows: Vec::new(),
        headers: None,
        payload: None,
        missing: false,
    };
    if id.is_empty() {
        return render(StatusCode::OK, &page);
    }
    let found = async {
        let id = job_id(&id)?;
        let status = state.queue.status(id).await.map_err(AdminError::from)?;
        let payload = match &status {
            Some(_) => state.queue.payload(id).await.map_err(AdminError::from)?,
            None => None,
        };
        Ok::<_, AdminError>((status, payload))
    }
    .await;
    match found {
        Ok((Some(status), payload)) => {
            page.rows = crate::cli::status::describe(&status)
                .lines()
                .filter_map(|l| {
                    let (k, v) = l.split_once("  ")?;
                    Some((k.trim().to_owned(), v.trim().to_owned()))
                })
                .collect();
            page.headers = payload.as_deref().map(rendered_headers);
            page.payload = payload;
            render(StatusCode::OK, &page)
        }
        Ok((None, _)) => {
            page.missing = true;
            render(StatusCode::NOT_FOUND, &page)
        }
        Err(e) => admin_error(&e),
    }
}
