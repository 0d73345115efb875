//! Checking a sender pool (`mailroom auth check --pool ADDRESS`): for each member, that a
//! token can be had, and, with `gmail.check_send_as`, that the pool's address is a verified
//! send-as alias of the member (`users.settings.sendAs.list`, which needs the extra scope
//! `gmail.settings.basic`, asked for by this check only). Gmail rewrites a From that is not
//! one, so a member without the alias would send under its own address.

use std::sync::Arc;

use mailroom_queue::Queue;

use super::AdminError;
use super::credentials::{Checked, source_and_senders};
use crate::config::{Config, CredentialKind};
use crate::credentials::{
    AuthorizedUserSource, GMAIL_SETTINGS_BASIC_SCOPE, RefreshHook, ServiceAccountSource,
    TokenSource,
};
use crate::pools::Pools;
use crate::transport::GmailTransport;
use crate::transport::gmail::Alias;

/// Checks every member of the pool whose address is `address`, lifting the quarantine of
/// each whose credentials (and alias, when checked) work.
///
/// # Errors
/// No such pool, credentials not configured, or Redis unreachable.
pub async fn check_pool(
    config: &Config,
    queue: &Queue,
    address: &str,
) -> Result<Vec<Checked>, AdminError> {
    let pools = Pools::from_config(&config.pools);
    let pool = pools.get(address).cloned().ok_or_else(|| {
        AdminError::Invalid(format!("no [[pools]] entry has the address {address}"))
    })?;
    let (source, _) =
        source_and_senders(config, queue, pool.members.first().map(String::as_str)).await?;
    let aliases = alias_check(config, queue)?;
    let mut rows = Vec::with_capacity(pool.members.len());
    for member in &pool.members {
        let result = match (source.token(member).await, &aliases) {
            (Err(e), _) => Err(e.to_string()),
            (Ok(_), None) => Ok(()),
            (Ok(_), Some(gmail)) => match gmail.send_as(member, &pool.address).await {
                Ok(Alias::Verified) => Ok(()),
                Ok(Alias::Unverified) => Err(format!(
                    "{} is a send-as alias of {member} but not verified: Gmail would rewrite \
                     the From to {member}",
                    pool.address
                )),
                Ok(Alias::Missing) => Err(format!(
                    "{} is not a send-as alias of {member}: Gmail would rewrite the From to \
                     {member}",
                    pool.address
                )),
                Err(e) => Err(format!(
                    "{e} (gmail.check_send_as needs the scope {GMAIL_SETTINGS_BASIC_SCOPE})"
                )),
            },
        };
        rows.push(match result {
            Ok(()) => match queue.release_sender(member).await {
                Ok(true) => ok(member, "ok (quarantine lifted)"),
                Ok(false) => ok(member, "ok"),
                Err(e) => ok(
                    member,
                    &format!("ok, but lifting the quarantine failed: {e}"),
                ),
            },
            Err(e) => Checked {
                sender: member.clone(),
                ok: false,
                result: e,
            },
        });
    }
    Ok(rows)
}

fn ok(member: &str, result: &str) -> Checked {
    Checked {
        sender: member.to_owned(),
        ok: true,
        result: result.to_owned(),
    }
}

/// With `gmail.check_send_as`, a Gmail client whose tokens carry `gmail.settings.basic`:
/// a service account asks for it (its domain-wide delegation must cover it); stored tokens
/// have it when `auth login` asked for it.
fn alias_check(config: &Config, queue: &Queue) -> Result<Option<GmailTransport>, AdminError> {
    if !config.gmail.check_send_as {
        return Ok(None);
    }
    let hook: RefreshHook = Arc::new(|_ok| {});
    let invalid = |e: &dyn std::fmt::Display| AdminError::Invalid(e.to_string());
    let source: Arc<dyn TokenSource> = match config.credentials.kind {
        CredentialKind::ServiceAccount => Arc::new(
            ServiceAccountSource::from_config(config, hook)
                .map_err(|e| invalid(&e))?
                .with_extra_scope(GMAIL_SETTINGS_BASIC_SCOPE),
        ),
        CredentialKind::AuthorizedUser => Arc::new(
            AuthorizedUserSource::from_config(config, queue.clone(), hook)
                .map_err(|e| invalid(&e))?,
        ),
    };
    GmailTransport::new(&config.google.api_base, source, config.google.timeout)
        .map(Some)
        .map_err(|e| AdminError::Invalid(format!("cannot load CA certificates: {e}")))
}
