//! Checking and revoking senders' credentials, as `mailroom auth check` and `mailroom auth
//! revoke` do them and the console's "check now" and "revoke" buttons. With
//! `gmail.check_before_resend`, a check also lists the sender's SENT (the `gmail.metadata`
//! scope); with `gmail.read_bounces`, it searches the mailbox (the `gmail.readonly` scope).

use std::sync::Arc;

use mailroom_queue::{Queue, normalize_sender};

use super::AdminError;
use super::senders::exact_senders;
use crate::config::{Config, CredentialKind};
use crate::credentials::{
    AuthorizedUserSource, GMAIL_METADATA_SCOPE, GMAIL_READONLY_SCOPE, RefreshHook,
    ServiceAccountSource, StoreError, TokenKeys, TokenSource, TokenStore,
};
use crate::enroll::{self, Revoked};
use crate::google_http::build_http_client;
use crate::transport::GmailTransport;

/// What checking one sender found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The sender (lower case).
    pub sender: String,
    /// Whether a token could be had.
    pub ok: bool,
    /// `ok`, `ok (quarantine lifted)`, or why no token could be had.
    pub result: String,
}

fn store_failure(e: &StoreError) -> AdminError {
    AdminError::Unavailable(e.to_string())
}

/// The token keys of `[credentials]`.
///
/// # Errors
/// [`AdminError::Invalid`] when they cannot be loaded.
pub fn token_keys(config: &Config) -> Result<Arc<TokenKeys>, AdminError> {
    TokenKeys::from_config(&config.credentials)
        .map(Arc::new)
        .map_err(|e| AdminError::Invalid(e.to_string()))
}

/// The token source of `config` and the senders to check: `sender`, or every enrolled one
/// (stored tokens) or every exact allowed sender (service account).
pub(super) async fn source_and_senders(
    config: &Config,
    queue: &Queue,
    sender: Option<&str>,
) -> Result<(Arc<dyn TokenSource>, Vec<String>), AdminError> {
    let hook: RefreshHook = Arc::new(|_ok| {});
    let invalid = |e: &dyn std::fmt::Display| AdminError::Invalid(e.to_string());
    match config.credentials.kind {
        CredentialKind::AuthorizedUser => {
            let source = AuthorizedUserSource::from_config(config, queue.clone(), hook)
                .map_err(|e| invalid(&e))?;
            let senders = match sender {
                Some(s) => vec![normalize_sender(s)],
                None => source
                    .store()
                    .list()
                    .await
                    .map_err(|e| store_failure(&e))?
                    .into_iter()
                    .map(|i| i.sender)
                    .collect(),
            };
            Ok((Arc::new(source), senders))
        }
        CredentialKind::ServiceAccount => {
            let source =
                ServiceAccountSource::from_config(config, hook).map_err(|e| invalid(&e))?;
            let senders = match sender {
                Some(s) => vec![normalize_sender(s)],
                None => exact_senders(config)?,
            };
            Ok((Arc::new(source), senders))
        }
    }
}

/// Gets a token for `sender` (or every sender, see `auth check`), lifting the quarantine of
/// each that works.
///
/// # Errors
/// Credentials not configured, no sender to check, or Redis unreachable.
pub async fn check(
    config: &Config,
    queue: &Queue,
    sender: Option<&str>,
) -> Result<Vec<Checked>, AdminError> {
    let (source, senders) = source_and_senders(config, queue, sender).await?;
    if senders.is_empty() {
        return Err(AdminError::Invalid(match config.credentials.kind {
            CredentialKind::AuthorizedUser => {
                "no stored tokens to check; run `mailroom auth login`".to_owned()
            }
            CredentialKind::ServiceAccount => {
                "no sender to check: [jobs] allowed_senders names no exact address; give SENDER"
                    .to_owned()
            }
        }));
    }
    let sent_access = sent_access_check(config, &source)?;
    let mut rows = Vec::with_capacity(senders.len());
    for sender in senders {
        let token = match (source.token(&sender).await, &sent_access) {
            (Ok(_), Some(gmail)) if config.gmail.read_bounces => {
                gmail.check_bounce_access(&sender).await.map_err(|e| {
                    format!("{e} (gmail.read_bounces needs the scope {GMAIL_READONLY_SCOPE})")
                })
            }
            (Ok(_), Some(gmail)) => gmail.check_sent_access(&sender).await.map_err(|e| {
                format!("{e} (gmail.check_before_resend needs the scope {GMAIL_METADATA_SCOPE})")
            }),
            (Ok(_), None) => Ok(()),
            (Err(e), _) => Err(e.to_string()),
        };
        let (ok, result) = match token {
            Ok(()) => match queue.release_sender(&sender).await {
                Ok(true) => (true, "ok (quarantine lifted)".to_owned()),
                Ok(false) => (true, "ok".to_owned()),
                Err(e) => (true, format!("ok, but lifting the quarantine failed: {e}")),
            },
            Err(e) => (false, e),
        };
        rows.push(Checked { sender, ok, result });
    }
    Ok(rows)
}

/// With `gmail.check_before_resend` or `gmail.read_bounces`, a Gmail client to check that
/// each sender's token may list its SENT messages (the `gmail.metadata` scope), or read whole
/// messages (`gmail.readonly`, which a search proves).
fn sent_access_check(
    config: &Config,
    source: &Arc<dyn TokenSource>,
) -> Result<Option<GmailTransport>, AdminError> {
    if config.gmail.read_scope().is_none() {
        return Ok(None);
    }
    GmailTransport::new(
        &config.google.api_base,
        Arc::clone(source),
        config.google.timeout,
    )
    .map(Some)
    .map_err(|e| AdminError::Invalid(format!("cannot load CA certificates: {e}")))
}

/// Revokes `sender`'s stored token at Google, then deletes it; returns what happened, as
/// `mailroom auth revoke` prints it.
///
/// # Errors
/// No stored token ([`AdminError::Invalid`]), an unreadable one, Google refusing or
/// unreachable (the token stays stored), or Redis unreachable.
pub async fn revoke(config: &Config, queue: &Queue, sender: &str) -> Result<String, AdminError> {
    let sender = normalize_sender(sender);
    let store = TokenStore::new(queue.clone(), token_keys(config)?);
    let stored = match store.get(&sender).await {
        Ok(Some(stored)) => stored,
        Ok(None) => return Err(AdminError::Invalid(format!("no stored token for {sender}"))),
        Err(e @ (StoreError::Key { .. } | StoreError::Corrupt { .. })) => {
            return Err(AdminError::Unavailable(format!(
                "{e}; `mailroom auth revoke --local {sender}` deletes it without revoking"
            )));
        }
        Err(e) => return Err(store_failure(&e)),
    };
    let http =
        build_http_client(&config.google).map_err(|e| AdminError::Unavailable(e.to_string()))?;
    let said = enroll::revoke_token(&http, &config.google.revoke_url, &stored.refresh_token)
        .await
        .map_err(|e| {
            AdminError::Unavailable(format!(
                "revoking the token of {sender} at Google failed: {e}; it is still stored (run \
                 again, or use --local to only delete it)"
            ))
        })?;
    store.remove(&sender).await.map_err(|e| store_failure(&e))?;
    Ok(match said {
        Revoked::Revoked => format!("revoked the token of {sender} and deleted it"),
        Revoked::AlreadyInvalid => {
            format!("the token of {sender} was already invalid at Google; deleted it")
        }
    })
}
