//! [`MailingList`]: the list a subscription message belongs to, which gives it `List-Id` and
//! one-click unsubscribe headers (RFC 2369, RFC 2919, RFC 8058), and scopes the suppression
//! list.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ValidationError;

/// Longest accepted list id, in bytes.
pub const MAX_LIST_ID_LEN: usize = 200;

/// The mailing list a message is sent on.
///
/// With a list, the worker adds `List-Id: <ID>`, and, when it is configured for unsubscribe
/// links (`[unsubscribe]`), `List-Unsubscribe` (an HTTPS link with a signed token for the
/// recipient, and `unsubscribe` when set) and `List-Unsubscribe-Post:
/// List-Unsubscribe=One-Click`. A recipient suppressed for this list (or globally) is dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MailingList {
    /// The list's id, e.g. `news.example.com`: 1 to 200 characters of ASCII letters, digits,
    /// `.`, `-` and `_` (the `List-Id` header's value, and the suppression list's scope).
    pub id: String,
    /// A `mailto:` URI that unsubscribes too, listed after the HTTPS link, e.g.
    /// `mailto:unsubscribe@example.com?subject=unsubscribe`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsubscribe: Option<String>,
}

impl MailingList {
    /// A list with this id and no `mailto:` link.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            unsubscribe: None,
        }
    }

    /// Checks the id (`list.id`) and the `mailto:` URI (`list.unsubscribe`).
    pub(crate) fn check(&self) -> Result<(), ValidationError> {
        check_list_id(&self.id).map_err(|m| ValidationError::new("list.id", m))?;
        if let Some(uri) = &self.unsubscribe {
            let ok = uri.len() <= 900
                && uri.starts_with("mailto:")
                && uri.len() > "mailto:".len()
                && uri
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b','));
            if !ok {
                return Err(ValidationError::new(
                    "list.unsubscribe",
                    "must be a mailto: URI of printable ASCII without spaces, commas or <> \
                     (at most 900 bytes)",
                ));
            }
        }
        Ok(())
    }
}

/// Why `id` is not a usable list id; used for jobs and for the suppression commands.
///
/// # Errors
/// The reason, in words.
pub fn check_list_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_LIST_ID_LEN {
        return Err(format!("must have 1 to {MAX_LIST_ID_LEN} characters"));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')))
    {
        return Err(format!(
            "{c:?} is not allowed: use ASCII letters, digits, '.', '-' and '_'"
        ));
    }
    Ok(())
}
