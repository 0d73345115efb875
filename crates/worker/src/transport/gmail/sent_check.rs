//! The check before a resend (`gmail.check_before_resend`): is a message with this
//! `Message-ID` already among the sender's SENT messages? `gmail.metadata` refuses the `q`
//! search parameter, so the check lists the most recent SENT messages
//! (`users.messages.list?labelIds=SENT&maxResults=N`) and reads each one's `Message-ID`
//! (`users.messages.get?format=METADATA&metadataHeaders=Message-ID`), newest first, until it
//! is found or a message is older than the job. Each call costs 5 quota units.

use chrono::{DateTime, Utc};
use google_gmail1::api::{Message, Scope};

use super::classify::{Failed, read_error};
use super::{Capture, GmailTransport, credential_error, failed};
use crate::credentials::AccessToken;
use crate::transport::{Delivered, Outgoing, SendError};

impl GmailTransport {
    /// The message `msg` names by its `Message-ID`, when its sender sent it at or after
    /// `since`.
    pub(super) async fn find_in_sent(
        &self,
        msg: &Outgoing,
        since: DateTime<Utc>,
    ) -> Result<Option<Delivered>, SendError> {
        let sender = msg.sender();
        let token = self
            .tokens
            .token(sender)
            .await
            .map_err(|e| credential_error(&e))?;
        let since_ms = since.timestamp_millis();
        for id in self.recent_sent(&token, self.check_recent).await? {
            let found = self.metadata(&token, &id).await?;
            if has_message_id(&found, &msg.message_id) {
                return Ok(Some(Delivered {
                    transport_id: id,
                    thread_id: found.thread_id,
                }));
            }
            if found.internal_date.is_some_and(|at| at < since_ms) {
                break;
            }
        }
        Ok(None)
    }

    /// Checks that `sender`'s token may look into its SENT messages, as the check before a
    /// resend does (the `gmail.metadata` scope): lists its most recent one.
    ///
    /// # Errors
    /// No token, or Gmail refused the list (403 `insufficientPermissions` without the scope).
    pub async fn check_sent_access(&self, sender: &str) -> Result<(), SendError> {
        let token = self
            .tokens
            .token(sender)
            .await
            .map_err(|e| credential_error(&e))?;
        self.recent_sent(&token, 1).await.map(drop)
    }

    /// The ids of the sender's `max` most recent SENT messages, newest first.
    async fn recent_sent(&self, token: &AccessToken, max: u32) -> Result<Vec<String>, SendError> {
        let mut capture = Capture::with_token(token);
        let call = self
            .hub
            .users()
            .messages_list("me")
            .add_label_ids("SENT")
            .max_results(max)
            .add_scope(Scope::Metadata)
            .delegate(&mut capture)
            .doit();
        let (_, list) = self
            .answered(call)
            .await
            .map_err(|f| read_error(f, capture.status))?;
        Ok(list
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| m.id)
            .collect())
    }

    /// One message's `Message-ID` header, thread and date.
    async fn metadata(&self, token: &AccessToken, id: &str) -> Result<Message, SendError> {
        let mut capture = Capture::with_token(token);
        let call = self
            .hub
            .users()
            .messages_get("me", id)
            .format("metadata")
            .add_metadata_headers("Message-ID")
            .add_scope(Scope::Metadata)
            .delegate(&mut capture)
            .doit();
        let (_, message) = self
            .answered(call)
            .await
            .map_err(|f| read_error(f, capture.status))?;
        Ok(message)
    }

    /// A call's answer within the transport's timeout.
    pub(super) async fn answered<T>(
        &self,
        call: impl Future<Output = google_gmail1::Result<T>>,
    ) -> Result<T, Failed> {
        match tokio::time::timeout(self.timeout, call).await {
            Err(_) => Err(Failed {
                message: format!("no answer within {:?}", self.timeout),
                timed_out: true,
                ..Failed::default()
            }),
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(failed(e, None, None)),
        }
    }
}

/// Whether `message`'s `Message-ID` header is `wanted` (angle brackets included).
fn has_message_id(message: &Message, wanted: &str) -> bool {
    header(message, "message-id").map(str::trim) == Some(wanted)
}

/// The value of header field `name` (any case) of a message read with `format=metadata`.
#[must_use]
pub fn header<'m>(message: &'m Message, name: &str) -> Option<&'m str> {
    message
        .payload
        .as_ref()
        .and_then(|p| p.headers.as_ref())?
        .iter()
        .find(|h| {
            h.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(name))
        })
        .and_then(|h| h.value.as_deref())
}
