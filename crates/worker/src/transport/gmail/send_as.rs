//! Whether an address is a verified send-as alias of a sender
//! (`users.settings.sendAs.list`, scope `gmail.settings.basic`), for `mailroom auth check
//! --pool` with `gmail.check_send_as`: Gmail rewrites a From that is not one, so a pool
//! member without the pool's address as a verified alias would send under its own address.

use google_gmail1::api::Scope;

use super::classify::read_error;
use super::{Capture, GmailTransport, credential_error};
use crate::transport::SendError;

/// What a sender's send-as settings say about an alias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alias {
    /// The sender's own address or a verified (`accepted`) send-as alias: Gmail keeps it.
    Verified,
    /// A send-as alias whose verification is not done (Gmail's status, e.g. `pending`).
    Unverified,
    /// Not among the sender's send-as addresses.
    Missing,
}

impl GmailTransport {
    /// Whether `alias` is a verified send-as address of `sender`. The token source must ask
    /// for `gmail.settings.basic`.
    ///
    /// # Errors
    /// No token, or Gmail refused the list (403 `insufficientPermissions` without the scope).
    pub async fn send_as(&self, sender: &str, alias: &str) -> Result<Alias, SendError> {
        let token = self
            .tokens
            .token(sender)
            .await
            .map_err(|e| credential_error(&e))?;
        let mut capture = Capture::with_token(&token);
        let call = self
            .hub
            .users()
            .settings_send_as_list("me")
            .add_scope(Scope::SettingBasic)
            .delegate(&mut capture)
            .doit();
        let (_, list) = self
            .answered(call)
            .await
            .map_err(|f| read_error(f, capture.status))?;
        let entry = list.send_as.unwrap_or_default().into_iter().find(|s| {
            s.send_as_email
                .as_deref()
                .is_some_and(|e| e.trim().eq_ignore_ascii_case(alias.trim()))
        });
        Ok(match entry {
            None => Alias::Missing,
            Some(s)
                if s.is_primary == Some(true)
                    || s.verification_status.as_deref() == Some("accepted") =>
            {
                Alias::Verified
            }
            Some(_) => Alias::Unverified,
        })
    }
}
