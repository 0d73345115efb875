//! Reading a sender's mailbox for the bounce reader (`gmail.read_bounces`), through
//! google-gmail1 with the sender's token: `users.getProfile` (the current history id),
//! `users.history.list` (messages added to INBOX since a history id, every page),
//! `users.messages.get` with `format=metadata` (a few header fields, to tell a bounce from other
//! mail) and `format=raw` (a bounce's whole message: its status is in the body). Each call
//! costs Gmail quota units (history.list 2, getProfile 1, get 5).

use google_gmail1::api::{Message, Scope};

use super::classify::{Failed, read_error};
use super::{Capture, GmailTransport, credential_error};
use crate::credentials::AccessToken;
use crate::transport::SendError;

/// Most history records one `history.list` page holds.
const HISTORY_PAGE: u32 = 500;

/// What `history.list` found since a history id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxHistory {
    /// The ids of the messages added to INBOX, oldest first, each once.
    pub added: Vec<String>,
    /// The mailbox's history id at the time of the listing: where the next listing starts.
    pub history_id: u64,
}

impl GmailTransport {
    async fn sender_token(&self, sender: &str) -> Result<AccessToken, SendError> {
        self.tokens
            .token(sender)
            .await
            .map_err(|e| credential_error(&e))
    }

    /// The mailbox's current history id (`users.getProfile`).
    ///
    /// # Errors
    /// No token, or Gmail refused or failed.
    pub async fn current_history_id(&self, sender: &str) -> Result<u64, SendError> {
        let token = self.sender_token(sender).await?;
        let mut capture = Capture::with_token(&token);
        let call = self
            .hub
            .users()
            .get_profile("me")
            .add_scope(Scope::Readonly)
            .delegate(&mut capture)
            .doit();
        let answer = self.answered(call).await;
        let (_, profile) = answer.map_err(|f| read_error(f, capture.status))?;
        profile.history_id.ok_or_else(|| {
            SendError::transient("Gmail's profile answer carries no historyId".to_owned())
        })
    }

    /// The messages added to `sender`'s INBOX after history id `start`, every page;
    /// `Ok(None)` when Gmail no longer keeps the history at `start` (404: it keeps about a
    /// week), so the reader must start again from the current history id.
    ///
    /// # Errors
    /// No token, or Gmail refused or failed.
    pub async fn inbox_since(
        &self,
        sender: &str,
        start: u64,
    ) -> Result<Option<MailboxHistory>, SendError> {
        let token = self.sender_token(sender).await?;
        let mut found = MailboxHistory {
            added: Vec::new(),
            history_id: start,
        };
        let mut page_token: Option<String> = None;
        loop {
            let mut capture = Capture::with_token(&token);
            let mut call = self
                .hub
                .users()
                .history_list("me")
                .start_history_id(start)
                .label_id("INBOX")
                .add_history_types("messageAdded")
                .max_results(HISTORY_PAGE)
                .add_scope(Scope::Readonly);
            if let Some(page) = &page_token {
                call = call.page_token(page);
            }
            let answer = self.answered(call.delegate(&mut capture).doit()).await;
            let page = match answer {
                Ok((_, page)) => page,
                Err(f) if f.status.or(capture.status) == Some(404) => return Ok(None),
                Err(f) => return Err(read_error(f, capture.status)),
            };
            let added = page.history.unwrap_or_default().into_iter().flat_map(|h| {
                h.messages_added
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|a| a.message.and_then(|m| m.id))
            });
            for id in added {
                if !found.added.contains(&id) {
                    found.added.push(id);
                }
            }
            found.history_id = found.history_id.max(page.history_id.unwrap_or(start));
            match page.next_page_token {
                Some(next) if !next.is_empty() => page_token = Some(next),
                _ => return Ok(Some(found)),
            }
        }
    }

    /// Message `id` of `sender`'s mailbox with the header fields `headers` only
    /// (`format=metadata`); `Ok(None)` when it is gone (deleted since it arrived).
    ///
    /// # Errors
    /// No token, or Gmail refused or failed.
    pub async fn message_headers(
        &self,
        sender: &str,
        id: &str,
        headers: &[&str],
    ) -> Result<Option<Message>, SendError> {
        let token = self.sender_token(sender).await?;
        let mut capture = Capture::with_token(&token);
        let mut call = self
            .hub
            .users()
            .messages_get("me", id)
            .format("metadata")
            .add_scope(Scope::Readonly);
        for name in headers {
            call = call.add_metadata_headers(name);
        }
        let answer = self.answered(call.delegate(&mut capture).doit()).await;
        found(answer, capture.status)
    }

    /// Message `id` of `sender`'s mailbox, whole (`format=raw`); `Ok(None)` when it is gone.
    ///
    /// # Errors
    /// No token, or Gmail refused or failed (403 under `gmail.metadata`, which never allows
    /// a body).
    pub async fn raw_message(&self, sender: &str, id: &str) -> Result<Option<Vec<u8>>, SendError> {
        let token = self.sender_token(sender).await?;
        let mut capture = Capture::with_token(&token);
        let call = self
            .hub
            .users()
            .messages_get("me", id)
            .format("raw")
            .add_scope(Scope::Readonly)
            .delegate(&mut capture)
            .doit();
        let answer = self.answered(call).await;
        Ok(found(answer, capture.status)?.and_then(|m| m.raw))
    }

    /// Checks that `sender`'s token may read whole messages, as the bounce reader does (the
    /// `gmail.readonly` scope): a `messages.list` with a search (`q`), which Gmail refuses
    /// without a reading scope and under `gmail.metadata`.
    ///
    /// # Errors
    /// No token, or Gmail refused the list.
    pub async fn check_bounce_access(&self, sender: &str) -> Result<(), SendError> {
        let token = self.sender_token(sender).await?;
        let mut capture = Capture::with_token(&token);
        let call = self
            .hub
            .users()
            .messages_list("me")
            .q("from:mailer-daemon")
            .max_results(1)
            .add_scope(Scope::Readonly)
            .delegate(&mut capture)
            .doit();
        let answer = self.answered(call).await;
        answer.map(drop).map_err(|f| read_error(f, capture.status))
    }
}

/// A `messages.get` answer: `None` for a 404 (the message is gone).
fn found(
    answer: Result<(google_gmail1::common::Response, Message), Failed>,
    status: Option<u16>,
) -> Result<Option<Message>, SendError> {
    match answer {
        Ok((_, message)) => Ok(Some(message)),
        Err(f) if f.status.or(status) == Some(404) => Ok(None),
        Err(f) => Err(read_error(f, status)),
    }
}
