//! [`ThreadHint`]: how a message joins an existing conversation.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Places the message in an existing conversation.
///
/// `in_reply_to` and `references` become the `In-Reply-To` and `References`
/// headers (each a `<msg-id>` including the angle brackets); `thread_id` is
/// handed to the Gmail API, which also requires matching headers and
/// subject to thread the message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThreadHint {
    /// Gmail `threadId` of the conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    /// Message-ID of the message replied to, e.g. `<abc@example.com>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    /// Message-IDs of the conversation so far, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}

impl ThreadHint {
    /// A reply to `message_id`: sets `In-Reply-To` and `References` to it.
    pub fn reply_to(message_id: impl Into<String>) -> Self {
        let id = message_id.into();
        Self {
            thread_id: None,
            in_reply_to: Some(id.clone()),
            references: vec![id],
        }
    }

    /// Sets the Gmail thread id.
    #[must_use]
    pub fn with_thread_id(mut self, thread_id: impl Into<String>) -> Self {
        self.thread_id = Some(thread_id.into());
        self
    }

    /// Whether the hint carries nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.thread_id.is_none() && self.in_reply_to.is_none() && self.references.is_empty()
    }
}
