//! `GET /senders`: every sender's credential kind, health, quota gauges, pause and
//! quarantine (as `mailroom auth list` and `GET /v1/senders` show them); `POST
//! /senders/check` ("check now", as `mailroom auth check SENDER`), `POST
//! /senders/revoke/confirm` (the confirmation step of a revoke), `POST /senders/revoke` (as
//! `mailroom auth revoke SENDER`) and `POST /senders/enroll` (starts the web OAuth flow of
//! stored tokens; Google sends the browser back to `/oauth2/callback`). Pause and resume are
//! in `sender_pause`. Actions need `admin`.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::operator::Operator;
use super::page::{Nav, admin_error, render};
use super::posted::Posted;
use crate::admin::senders::{SenderRow, rows};
use crate::admin::{AdminError, credentials};
use crate::api::ApiState;
use crate::cli::table;

/// The page's query: what the last action did.
#[derive(Debug, Default, Deserialize)]
pub struct Notice {
    #[serde(default)]
    notice: String,
}

/// One sender, as shown.
#[derive(Debug, Clone)]
pub struct Shown {
    /// The row of `auth list`.
    pub row: SenderRow,
    /// The last refresh, or `-`.
    pub refreshed: String,
    /// Until when it is paused, or empty.
    pub paused: String,
    /// Whether it has a stored token that can be revoked.
    pub revocable: bool,
}

#[derive(Template)]
#[template(path = "console/senders.html")]
struct SendersPage {
    nav: Option<Nav>,
    senders: Vec<Shown>,
    notice: String,
    enroll: Result<(), String>,
    durations: &'static [(&'static str, &'static str)],
}

/// `GET /senders`.
pub async fn page(
    State(state): State<ApiState>,
    operator: Operator,
    Query(notice): Query<Notice>,
) -> Response {
    let senders = match rows(&state.config, &state.queue).await {
        Ok(rows) => rows,
        Err(e) => return admin_error(&e),
    };
    let senders = senders
        .into_iter()
        .map(|row| Shown {
            refreshed: row.last_refresh.map_or_else(|| "-".to_owned(), table::time),
            paused: row.paused_until.map(table::time).unwrap_or_default(),
            revocable: row.kind == "authorized_user" && row.health != "no stored token",
            row,
        })
        .collect();
    render(
        StatusCode::OK,
        &SendersPage {
            nav: Some(Nav::new(&operator, "senders")),
            senders,
            notice: notice.notice,
            enroll: state
                .console
                .enroll
                .as_ref()
                .map(|_| ())
                .map_err(Clone::clone),
            durations: &super::sender_pause::DURATIONS,
        },
    )
}

/// The fields of a sender's action.
#[derive(Debug, Deserialize)]
pub struct SenderForm {
    /// The CSRF token.
    pub csrf: Option<String>,
    /// The sender acted on.
    #[serde(default)]
    pub sender: String,
    /// How long a pause lasts (`15m`, `1h`, …; pause only).
    #[serde(default)]
    pub duration: String,
}

super::posted::csrf_field!(SenderForm);

/// Back to `/senders`, saying `notice`.
pub fn back(notice: &str) -> Response {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("notice", notice)
        .finish();
    Redirect::to(&format!("/senders?{query}")).into_response()
}

/// `POST /senders/check`.
pub async fn check(
    State(state): State<ApiState>,
    Posted { form, .. }: Posted<SenderForm>,
) -> Response {
    match credentials::check(&state.config, &state.queue, Some(&form.sender)).await {
        Ok(checked) => {
            let said: Vec<String> = checked
                .iter()
                .map(|c| format!("{}: {}", c.sender, c.result))
                .collect();
            back(&said.join("; "))
        }
        Err(AdminError::Invalid(e)) => back(&e),
        Err(e) => admin_error(&e),
    }
}

#[derive(Template)]
#[template(path = "console/revoke_confirm.html")]
struct RevokeConfirm {
    nav: Option<Nav>,
    sender: String,
}

/// `POST /senders/revoke/confirm`: what a revoke does, with a button to go on.
pub async fn confirm_revoke(Posted { operator, form }: Posted<SenderForm>) -> Response {
    if form.sender.trim().is_empty() {
        return back("no sender to revoke");
    }
    render(
        StatusCode::OK,
        &RevokeConfirm {
            nav: Some(Nav::new(&operator, "senders")),
            sender: form.sender.trim().to_owned(),
        },
    )
}

/// `POST /senders/revoke`.
pub async fn revoke(
    State(state): State<ApiState>,
    Posted { operator, form }: Posted<SenderForm>,
) -> Response {
    match credentials::revoke(&state.config, &state.queue, &form.sender).await {
        Ok(said) => {
            tracing::info!(key = %operator.session.key_id, "console revoke: {said}");
            back(&said)
        }
        Err(e) => back(&e.to_string()),
    }
}

/// `POST /senders/enroll`: a redirect to Google's consent screen.
pub async fn enroll(State(state): State<ApiState>, _: Posted<SenderForm>) -> Response {
    let flow = match &state.console.enroll {
        Ok(flow) => flow,
        Err(why) => return back(&format!("enrollment is not set up: {why}")),
    };
    match flow.begin().await {
        Ok(url) => Redirect::to(&url).into_response(),
        Err(page) => page,
    }
}
