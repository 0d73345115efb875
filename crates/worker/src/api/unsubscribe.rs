//! `/u/{token}`: the one-click unsubscribe link of list mail (RFC 8058). No API key: the
//! sealed token is the authority. `POST` (what a mail client sends for
//! `List-Unsubscribe=One-Click`, and the confirmation page's button) puts the token's
//! recipient on the suppression list of its list and answers 200, again and again for the
//! same token; `GET` (a person who opened the link) only shows a page with that button, so a
//! link scanner that follows links unsubscribes nobody. A forged, altered or expired token
//! changes nothing and answers 400.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Html;
use chrono::Utc;
use mailroom_queue::{SuppressReason, SuppressScope};

use super::ApiState;
use super::problem::Problem;
use crate::metrics::UnsubscribeOutcome;
use crate::unsubscribe::TokenError;

/// Escapes text for HTML.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"robots\" content=\"noindex\">\
         <title>{title}</title></head><body style=\"font-family:sans-serif;max-width:32em;margin:3em auto\">\
         <h1>{title}</h1>{body}</body></html>"
    ))
}

fn refused(state: &ApiState, e: TokenError) -> (StatusCode, Html<String>) {
    let outcome = match e {
        TokenError::Invalid => UnsubscribeOutcome::Invalid,
        TokenError::Expired => UnsubscribeOutcome::Expired,
    };
    state.metrics.unsubscribe(outcome);
    let why = match e {
        TokenError::Invalid => "This unsubscribe link is not valid.",
        TokenError::Expired => {
            "This unsubscribe link has expired. Use the link of a more recent message."
        }
    };
    (
        StatusCode::BAD_REQUEST,
        page("Unsubscribe", &format!("<p>{why}</p>")),
    )
}

/// What a mail client posts for one-click unsubscribe (RFC 8058); the body is not needed.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct OneClick {
    /// `One-Click`.
    #[serde(rename = "List-Unsubscribe", default)]
    #[schema(rename = "List-Unsubscribe")]
    pub list_unsubscribe: String,
}

/// The confirmation page of an unsubscribe link.
#[utoipa::path(
    get, path = "/u/{token}", operation_id = "unsubscribePage", tag = "unsubscribe",
    params(("token" = String, Path, description = "The sealed token of a `List-Unsubscribe` link.")),
    responses(
        (status = 200, description = "A page asking to confirm, with a button that posts to the same URL.", body = String, content_type = "text/html"),
        (status = 400, description = "A forged, altered or expired token (an HTML page), or a path that does not read.", content(
            (String = "text/html"),
            (Problem = "application/problem+json"),
        )),
        (status = 404, description = "Unsubscribe links are not enabled (`[unsubscribe]`), as an HTML page; or no such path.", content(
            (String = "text/html"),
            (Problem = "application/problem+json"),
        )),
    ),
    security(()),
)]
pub async fn confirm(
    State(state): State<ApiState>,
    Path(token): Path<String>,
) -> (StatusCode, Html<String>) {
    let Some(u) = state.unsubscribe.as_deref() else {
        return (
            StatusCode::NOT_FOUND,
            page(
                "Unsubscribe",
                "<p>Unsubscribe links are not enabled here.</p>",
            ),
        );
    };
    match u.open(&token, Utc::now()) {
        Ok(claim) => (
            StatusCode::OK,
            page(
                "Unsubscribe",
                &format!(
                    "<p>Stop receiving the mailing list <b>{}</b> at this address?</p>\
                     <form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
                     <button type=\"submit\">Unsubscribe</button></form>",
                    escape(&claim.list)
                ),
            ),
        ),
        Err(e) => refused(&state, e),
    }
}

/// One-click unsubscribe (RFC 8058): suppresses the token's recipient for its list; 200 every
/// time for a valid token.
#[utoipa::path(
    post, path = "/u/{token}", operation_id = "unsubscribe", tag = "unsubscribe",
    params(("token" = String, Path, description = "The sealed token of a `List-Unsubscribe` link.")),
    request_body(content = OneClick, content_type = "application/x-www-form-urlencoded", description = "`List-Unsubscribe=One-Click`, as mail clients send it; optional and not read."),
    responses(
        (status = 200, description = "The address is on the list's suppression list (again, for a replay).", body = String, content_type = "text/html"),
        (status = 400, description = "A forged, altered or expired token: nothing changed (an HTML page); or a path that does not read.", content(
            (String = "text/html"),
            (Problem = "application/problem+json"),
        )),
        (status = 404, description = "Unsubscribe links are not enabled (`[unsubscribe]`), as an HTML page; or no such path.", content(
            (String = "text/html"),
            (Problem = "application/problem+json"),
        )),
        (status = 503, description = "Redis is unavailable.", body = Problem, content_type = "application/problem+json"),
    ),
    security(()),
)]
pub async fn unsubscribe(
    State(state): State<ApiState>,
    Path(token): Path<String>,
) -> Result<(StatusCode, Html<String>), super::problem::Problem> {
    let Some(u) = state.unsubscribe.as_deref() else {
        return Ok((
            StatusCode::NOT_FOUND,
            page(
                "Unsubscribe",
                "<p>Unsubscribe links are not enabled here.</p>",
            ),
        ));
    };
    let claim = match u.open(&token, Utc::now()) {
        Ok(claim) => claim,
        Err(e) => return Ok(refused(&state, e)),
    };
    let scope = SuppressScope::List(claim.list.clone());
    let added = state
        .queue
        .suppress(&scope, &claim.recipient, SuppressReason::Unsubscribed)
        .await?;
    state.metrics.unsubscribe(if added {
        UnsubscribeOutcome::Suppressed
    } else {
        UnsubscribeOutcome::Already
    });
    if let (true, Ok(address)) = (added, claim.recipient.parse::<mailroom_jobs::Address>()) {
        let recipient = crate::logline::masked(std::iter::once(&address));
        tracing::info!(list = %claim.list, recipient, "unsubscribed");
    }
    Ok((
        StatusCode::OK,
        page(
            "Unsubscribed",
            &format!(
                "<p>You will no longer receive the mailing list <b>{}</b>.</p>",
                escape(&claim.list)
            ),
        ),
    ))
}
