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

/// `GET /u/{token}`: a confirmation page with a button that posts to the same URL.
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

/// `POST /u/{token}`: suppresses the token's recipient for its list; 200 every time.
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
