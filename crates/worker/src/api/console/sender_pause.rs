//! `POST /senders/pause` and `POST /senders/resume`: an operator holds one sender's jobs for
//! a while (every worker's, other senders go on), or ends its pause, Gmail's or an
//! operator's, at once, waking the jobs it held. Both need `admin`; the queue's
//! [`mailroom_queue::Queue::pause_sender_for`] and [`mailroom_queue::Queue::resume_sender`]
//! do the work.

use std::time::Duration;

use axum::extract::State;
use axum::response::Response;

use super::page::admin_error;
use super::posted::Posted;
use super::senders::{SenderForm, back};
use crate::admin::dead::parse_age;
use crate::api::ApiState;
use crate::cli::table;
use crate::gate::OPERATOR_PAUSE;

/// The longest pause an operator may set.
pub const MAX_PAUSE: Duration = Duration::from_secs(7 * 86_400);

/// The pauses the form offers, as `(value, label)`.
pub const DURATIONS: [(&str, &str); 4] = [
    ("15m", "15 minutes"),
    ("1h", "1 hour"),
    ("4h", "4 hours"),
    ("1day", "1 day"),
];

/// The sender a form names, normalised, or why there is none.
fn sender(form: &SenderForm) -> Result<String, String> {
    let sender = mailroom_queue::normalize_sender(&form.sender);
    mailroom_jobs::Address::parse(&sender).map_err(|e| format!("sender: {e}"))?;
    Ok(sender)
}

/// `POST /senders/pause`.
pub async fn pause(
    State(state): State<ApiState>,
    Posted { operator, form }: Posted<SenderForm>,
) -> Response {
    let sender = match sender(&form) {
        Ok(sender) => sender,
        Err(e) => return back(&e),
    };
    let duration = match parse_age(if form.duration.trim().is_empty() {
        "1h"
    } else {
        &form.duration
    }) {
        Ok(d) if !d.is_zero() && d <= MAX_PAUSE => d,
        Ok(_) => return back("duration: between a second and 7 days"),
        Err(e) => return back(&format!("duration: {e}")),
    };
    let reason = format!("{OPERATOR_PAUSE} (key {})", operator.session.key_id);
    match state
        .queue
        .pause_sender_for(&sender, duration, &reason)
        .await
    {
        Ok(until) => {
            let until = chrono::DateTime::from_timestamp_millis(until).unwrap_or_default();
            tracing::info!(key = %operator.session.key_id, sender, until = %until, "console pause");
            back(&format!(
                "{sender} paused until {} (a longer pause already set is kept)",
                table::time(until)
            ))
        }
        Err(e) => admin_error(&e.into()),
    }
}

/// `POST /senders/resume`.
pub async fn resume(
    State(state): State<ApiState>,
    Posted { operator, form }: Posted<SenderForm>,
) -> Response {
    let sender = match sender(&form) {
        Ok(sender) => sender,
        Err(e) => return back(&e),
    };
    match state.queue.resume_sender(&sender).await {
        Ok(r) => {
            tracing::info!(key = %operator.session.key_id, sender, woken = r.woken, "console resume");
            back(&if r.was_paused {
                format!(
                    "{sender} resumed; {} held job{} due now",
                    r.woken,
                    if r.woken == 1 { "" } else { "s" }
                )
            } else {
                format!("{sender} was not paused")
            })
        }
        Err(e) => admin_error(&e.into()),
    }
}
