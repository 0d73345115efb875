//! `GET /suppressions`: the suppression list of one scope (global, or a mailing list's), each
//! address with its reason and time, filtered by address text; `POST /suppressions/add`
//! (`mailroom suppress add`), `POST /suppressions/confirm` (the confirmation step of a
//! removal) and `POST /suppressions/remove` (`mailroom suppress rm`). Adding and removing need
//! `admin`; `read` keys only see.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use mailroom_queue::{SuppressReason, SuppressScope, Suppression};
use serde::Deserialize;

use super::operator::Operator;
use super::page::{Nav, admin_error, error_page, render};
use super::posted::Posted;
use crate::admin::AdminError;
use crate::api::ApiState;
use crate::cli::table;

/// Most suppressions one page shows.
pub const PAGE: usize = 500;

/// The page's query: the scope, the address filter, what the last action did.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Shown {
    /// A list id; empty for the global list.
    #[serde(default)]
    pub list: String,
    /// Text the addresses shown contain.
    #[serde(default)]
    pub address: String,
    /// What the last action did, shown once.
    #[serde(default)]
    pub notice: String,
}

/// The scope a form or query names: `list` empty is the global one; a list id is checked as
/// a job's `list.id` is.
fn scope(list: &str) -> Result<SuppressScope, AdminError> {
    let list = list.trim();
    if list.is_empty() {
        return Ok(SuppressScope::Global);
    }
    mailroom_jobs::check_list_id(list).map_err(|e| AdminError::Invalid(format!("list: {e}")))?;
    Ok(SuppressScope::List(list.to_owned()))
}

/// The bare, lower-case address of `text` (`Jane <jane@example.com>` or the address alone).
fn address(text: &str) -> Result<String, AdminError> {
    let parsed = mailroom_jobs::Address::parse(text.trim())
        .map_err(|e| AdminError::Invalid(format!("address: {e}")))?;
    Ok(mailroom_queue::normalize_suppressed(parsed.email()))
}

/// One suppression, as listed.
#[derive(Debug, Clone)]
pub struct Row {
    /// The address.
    pub address: String,
    /// Why.
    pub reason: &'static str,
    /// Since when.
    pub since: String,
}

impl Row {
    fn of(s: &Suppression) -> Self {
        Self {
            address: s.address.clone(),
            reason: s.reason.as_str(),
            since: table::time(s.at),
        }
    }
}

#[derive(Template)]
#[template(path = "console/suppressions.html")]
struct ListPage {
    nav: Option<Nav>,
    shown: Shown,
    /// The scope shown, in words.
    scope: String,
    /// Every list id with suppressions, for the scope picker.
    lists: Vec<String>,
    rows: Vec<Row>,
    /// How many match the filter in all (more than `rows` when over [`PAGE`]).
    matching: usize,
    reasons: Vec<&'static str>,
}

/// `GET /suppressions`.
pub async fn page(
    State(state): State<ApiState>,
    operator: Operator,
    Query(shown): Query<Shown>,
) -> Response {
    let listed = async {
        let scope = scope(&shown.list)?;
        let lists = state.queue.suppression_lists().await?;
        let filter = shown.address.trim().to_lowercase();
        let matching: Vec<Suppression> = state
            .queue
            .suppressions(&scope)
            .await?
            .into_iter()
            .filter(|s| s.address.contains(&filter))
            .collect();
        Ok::<_, AdminError>((scope, lists, matching))
    }
    .await;
    match listed {
        Ok((scope, lists, matching)) => render(
            StatusCode::OK,
            &ListPage {
                nav: Some(Nav::new(&operator, "suppressions")),
                scope: scope.to_string(),
                lists,
                rows: matching.iter().take(PAGE).map(Row::of).collect(),
                matching: matching.len(),
                shown,
                reasons: SuppressReason::ALL.iter().map(|r| r.as_str()).collect(),
            },
        ),
        Err(e) => admin_error(&e),
    }
}

/// The fields of an add, a removal and its confirmation.
#[derive(Debug, Deserialize)]
pub struct ChangeForm {
    csrf: Option<String>,
    #[serde(default)]
    address: String,
    #[serde(default)]
    list: String,
    #[serde(default)]
    reason: String,
}

super::posted::csrf_field!(ChangeForm);

/// Back to the list of `list`, saying `notice`.
fn back(list: &str, notice: &str) -> Response {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    if !list.trim().is_empty() {
        query.append_pair("list", list.trim());
    }
    query.append_pair("notice", notice);
    Redirect::to(&format!("/suppressions?{}", query.finish())).into_response()
}

/// The checked scope and address of `form`, or what is wrong.
fn checked(form: &ChangeForm) -> Result<(SuppressScope, String), AdminError> {
    Ok((scope(&form.list)?, address(&form.address)?))
}

/// `POST /suppressions/add`.
pub async fn add(
    State(state): State<ApiState>,
    Posted { operator, form }: Posted<ChangeForm>,
) -> Response {
    let (scope, address) = match checked(&form) {
        Ok(checked) => checked,
        Err(e) => return admin_error(&e),
    };
    let reason = if form.reason.trim().is_empty() {
        SuppressReason::Manual
    } else {
        match form.reason.trim().parse::<SuppressReason>() {
            Ok(r) => r,
            Err(e) => return error_page(StatusCode::BAD_REQUEST, &format!("reason: {e}")),
        }
    };
    match state.queue.suppress(&scope, &address, reason).await {
        Ok(added) => {
            tracing::info!(key = %operator.session.key_id, %scope, %reason, added, "console suppression added");
            let said = if added {
                format!("suppressed {address} ({scope}): {reason}")
            } else {
                format!("{address} was already suppressed ({scope}); unchanged")
            };
            back(&form.list, &said)
        }
        Err(e) => admin_error(&e.into()),
    }
}

#[derive(Template)]
#[template(path = "console/suppression_confirm.html")]
struct Confirm {
    nav: Option<Nav>,
    address: String,
    list: String,
    scope: String,
    reason: String,
}

/// `POST /suppressions/confirm`: what a removal would lift, with a button to go on.
pub async fn confirm(
    State(state): State<ApiState>,
    Posted { operator, form }: Posted<ChangeForm>,
) -> Response {
    let (scope, address) = match checked(&form) {
        Ok(checked) => checked,
        Err(e) => return admin_error(&e),
    };
    let entry = match state.queue.suppressions(&scope).await {
        Ok(all) => all.into_iter().find(|s| s.address == address),
        Err(e) => return admin_error(&e.into()),
    };
    let Some(entry) = entry else {
        return back(
            &form.list,
            &format!("{address} is not suppressed ({scope})"),
        );
    };
    render(
        StatusCode::OK,
        &Confirm {
            nav: Some(Nav::new(&operator, "suppressions")),
            reason: format!("{} since {}", entry.reason, table::time(entry.at)),
            address,
            list: form.list.trim().to_owned(),
            scope: scope.to_string(),
        },
    )
}

/// `POST /suppressions/remove`: lifts the suppression, then back to the list.
pub async fn remove(
    State(state): State<ApiState>,
    Posted { operator, form }: Posted<ChangeForm>,
) -> Response {
    let (scope, address) = match checked(&form) {
        Ok(checked) => checked,
        Err(e) => return admin_error(&e),
    };
    match state.queue.unsuppress(&scope, &address).await {
        Ok(removed) => {
            tracing::info!(key = %operator.session.key_id, %scope, removed, "console suppression removed");
            let said = if removed {
                format!("{address} is no longer suppressed ({scope})")
            } else {
                format!("{address} is not suppressed ({scope})")
            };
            back(&form.list, &said)
        }
        Err(e) => admin_error(&e.into()),
    }
}
