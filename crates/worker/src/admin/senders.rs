//! Every sender an operator should know about, as `mailroom auth list` and `GET /v1/senders`
//! show it: the credential kind, the last refresh, the health, the pause and quarantine, and
//! the quota used and left in each window.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mailroom_queue::{Queue, SenderState, SenderUsage, normalize_sender};
use serde::Serialize;

use super::AdminError;
use crate::config::{Config, CredentialKind};
use crate::credentials::{StoreError, TokenStore};

/// Sends used and left in one quota window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Window {
    /// The window's limit (`quota.sender_per_minute` or `quota.sender_per_day`).
    pub limit: u64,
    /// Sends counted in the window now.
    pub used: u64,
    /// Sends left in the window now.
    pub remaining: u64,
}

impl Window {
    fn new(limit: u32, used: u64) -> Self {
        let limit = u64::from(limit);
        Self {
            limit,
            used,
            remaining: limit.saturating_sub(used),
        }
    }
}

/// A sender's quota use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Quota {
    /// The sliding minute.
    pub minute: Window,
    /// The sliding day.
    pub day: Window,
}

/// One sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SenderRow {
    /// The address (lower case).
    pub sender: String,
    /// The credential kind: `service_account` or `authorized_user`.
    pub kind: &'static str,
    /// The last successful token refresh, when known (stored tokens).
    pub last_refresh: Option<DateTime<Utc>>,
    /// `ok`, `failing: …`, `never refreshed`, `no stored token`, `paused until …: reason`
    /// or `quarantined: reason`.
    pub health: String,
    /// Until when Gmail asked the sender to pause, if it did.
    pub paused_until: Option<DateTime<Utc>>,
    /// Why it is paused.
    pub pause_reason: Option<String>,
    /// Why it is quarantined, if it is.
    pub quarantine_reason: Option<String>,
    /// Sends used and left in each window.
    pub quota: Quota,
}

fn health(state: Option<&SenderState>, fallback: String) -> String {
    if let Some(s) = state {
        if let Some(reason) = &s.quarantined {
            return format!("quarantined: {reason}");
        }
        if let Some(until) = s.paused_until_ms.and_then(DateTime::from_timestamp_millis) {
            let reason = s.pause_reason.as_deref().unwrap_or("rate limited");
            return format!(
                "paused until {}: {reason}",
                until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            );
        }
    }
    fallback
}

/// Every sender, sorted by address: for `authorized_user` every stored token and every sender
/// with a state; for `service_account` the exactly allowed senders and every sender with a
/// state.
///
/// # Errors
/// Redis or the token store unreachable; a bad `jobs.allowed_senders`.
pub async fn rows(config: &Config, queue: &Queue) -> Result<Vec<SenderRow>, AdminError> {
    let states: BTreeMap<String, SenderState> = queue
        .sender_states()
        .await?
        .into_iter()
        .map(|s| (normalize_sender(&s.sender), s))
        .collect();
    let mut rows = match config.credentials.kind {
        CredentialKind::AuthorizedUser => {
            stored_rows(TokenStore::without_keys(queue.clone()), &states)
                .await
                .map_err(|e| AdminError::Unavailable(e.to_string()))?
        }
        CredentialKind::ServiceAccount => delegated_rows(config, &states)?,
    };
    rows.sort_by(|a, b| a.sender.cmp(&b.sender));
    let senders: Vec<String> = rows.iter().map(|r| r.sender.clone()).collect();
    let usage = queue.sender_usage(&senders).await?;
    let limits = config.sender_limits();
    for (row, used) in rows.iter_mut().zip(usage) {
        let SenderUsage { minute, day } = used;
        row.quota = Quota {
            minute: Window::new(limits.per_minute, minute),
            day: Window::new(limits.per_day, day),
        };
    }
    Ok(rows)
}

fn row(
    sender: String,
    kind: CredentialKind,
    state: Option<&SenderState>,
    fallback: String,
) -> SenderRow {
    SenderRow {
        health: health(state, fallback),
        paused_until: state
            .and_then(|s| s.paused_until_ms)
            .and_then(DateTime::from_timestamp_millis),
        pause_reason: state.and_then(|s| s.pause_reason.clone()),
        quarantine_reason: state.and_then(|s| s.quarantined.clone()),
        sender,
        kind: kind.as_str(),
        last_refresh: None,
        quota: Quota {
            minute: Window::new(0, 0),
            day: Window::new(0, 0),
        },
    }
}

/// The rows of `authorized_user`: every stored token, and every sender with a state but no
/// token.
async fn stored_rows(
    store: TokenStore,
    states: &BTreeMap<String, SenderState>,
) -> Result<Vec<SenderRow>, StoreError> {
    let kind = CredentialKind::AuthorizedUser;
    let infos = store.list().await?;
    let mut rows = Vec::with_capacity(infos.len());
    for info in &infos {
        let fallback = match (&info.last_error, info.refreshed_at) {
            (Some(e), _) => format!("failing: {e}"),
            (None, Some(_)) => "ok".to_owned(),
            (None, None) => "never refreshed".to_owned(),
        };
        let mut r = row(
            info.sender.clone(),
            kind,
            states.get(&info.sender),
            fallback,
        );
        r.last_refresh = info.refreshed_at;
        rows.push(r);
    }
    for (sender, state) in states {
        if !infos.iter().any(|i| &i.sender == sender) {
            rows.push(row(
                sender.clone(),
                kind,
                Some(state),
                "no stored token".to_owned(),
            ));
        }
    }
    Ok(rows)
}

/// The rows of `service_account`: the exactly allowed senders and every sender with a state.
fn delegated_rows(
    config: &Config,
    states: &BTreeMap<String, SenderState>,
) -> Result<Vec<SenderRow>, AdminError> {
    let mut senders: Vec<String> = exact_senders(config)?;
    senders.extend(states.keys().cloned());
    senders.sort();
    senders.dedup();
    Ok(senders
        .into_iter()
        .map(|sender| {
            let state = states.get(&sender);
            row(
                sender,
                CredentialKind::ServiceAccount,
                state,
                "ok".to_owned(),
            )
        })
        .collect())
}

/// The exact addresses of `[jobs] allowed_senders` (not the `*@domain` patterns).
///
/// # Errors
/// A bad `jobs.allowed_senders`.
pub fn exact_senders(config: &Config) -> Result<Vec<String>, AdminError> {
    Ok(config
        .policy()
        .map_err(|e| AdminError::Invalid(format!("config: {e}")))?
        .allowed_senders
        .iter()
        .flat_map(|list| list.addresses().map(normalize_sender))
        .collect())
}
