//! The error types of this crate.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::clip::{clip_quoted, cut, quote};

/// A string is not a valid [`JobId`](crate::JobId).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid job id {}: {reason}", quote(input))]
pub struct JobIdError {
    input: String,
    reason: String,
}

impl JobIdError {
    pub(crate) fn new(input: &str, reason: impl Into<String>) -> Self {
        Self {
            input: input.to_owned(),
            reason: reason.into(),
        }
    }

    /// The text that failed to parse.
    #[must_use]
    pub fn input(&self) -> &str {
        &self.input
    }
}

/// A string is not a valid [`Address`](crate::Address).
///
/// Displays as `invalid address "bob@": <reason>`, quoting at most
/// [`MAX_QUOTED_CHARS`](crate::MAX_QUOTED_CHARS) characters of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid address {}: {reason}", quote(input))]
pub struct AddressError {
    input: String,
    reason: String,
}

impl AddressError {
    pub(crate) fn new(input: &str, reason: impl Into<String>) -> Self {
        Self {
            input: input.to_owned(),
            reason: reason.into(),
        }
    }

    /// The text that failed to parse.
    #[must_use]
    pub fn input(&self) -> &str {
        &self.input
    }

    /// Why it failed.
    #[must_use]
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// A pattern given to [`SenderAllowlist::new`](crate::SenderAllowlist::new)
/// is neither an address nor `*@domain`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid sender pattern {}: {reason}", quote(pattern))]
pub struct AllowlistError {
    pattern: String,
    reason: String,
}

impl AllowlistError {
    pub(crate) fn new(pattern: &str, reason: impl Into<String>) -> Self {
        Self {
            pattern: pattern.to_owned(),
            reason: reason.into(),
        }
    }

    /// The pattern that was refused.
    #[must_use]
    pub fn pattern(&self) -> &str {
        &self.pattern
    }
}

/// A job breaks a rule checked by [`EmailJob::validate`](crate::EmailJob::validate).
///
/// `field` names the offending part of the job in the same path syntax as
/// decoding errors (`to`, `headers[X-Foo]`, `attachments[0].filename`, or
/// `message` for the rendered size). Displays as `field: message`, with at most
/// [`MAX_QUOTED_CHARS`](crate::MAX_QUOTED_CHARS) characters of the field's path and of
/// anything the message quotes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {}", cut(field), clip_quoted(message))]
pub struct ValidationError {
    /// Path of the offending field, e.g. `headers[X-Foo]`.
    pub field: String,
    /// What is wrong with it, e.g. `value contains CR or LF`.
    pub message: String,
}

impl ValidationError {
    /// A new error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// JSON could not be decoded into an [`EmailJob`](crate::EmailJob).
///
/// Displays as `path: message`, where `path` is the JSON path of the
/// failing value (e.g. `to[1]: invalid address "bob@": ...`); errors about
/// the document as a whole (syntax errors, unknown fields of the job) have
/// no path prefix. The path and anything the message quotes are cut to
/// [`MAX_QUOTED_CHARS`](crate::MAX_QUOTED_CHARS) characters each, since the message can
/// quote the caller's input and reaches logs and the job's `last_error`.
#[derive(Debug)]
pub struct DecodeError {
    path: String,
    source: serde_json::Error,
}

impl DecodeError {
    pub(crate) fn new(path: impl Into<String>, source: serde_json::Error) -> Self {
        Self {
            path: path.into(),
            source,
        }
    }

    /// JSON path of the failing value (`.` for the document itself).
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether the input was not JSON at all (as opposed to JSON of the
    /// wrong shape).
    #[must_use]
    pub fn is_syntax(&self) -> bool {
        matches!(
            self.source.classify(),
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof
        )
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = clip_quoted(&self.source.to_string());
        if self.path.is_empty() || self.path == "." {
            write!(f, "{message}")
        } else {
            write!(f, "{}: {message}", cut(&self.path))
        }
    }
}

/// No source: the parser's own message would quote the input whole.
impl std::error::Error for DecodeError {}

/// A job could not be rendered into a MIME message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// An extra header has an invalid or reserved name.
    #[error("header {name:?}: {reason}")]
    InvalidHeader {
        /// The header name as given in the job.
        name: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// An attachment's content type is not a MIME type.
    #[error("attachments[{index}].content_type: {content_type:?} is not a MIME type: {reason}")]
    InvalidContentType {
        /// Index of the attachment in the job.
        index: usize,
        /// The content type as given.
        content_type: String,
        /// The parser's complaint.
        reason: String,
    },
    /// The `Date` header can only carry dates from 1970 to 9999.
    #[error("date {0} is outside the range 1970..=9999 that the Date header supports")]
    DateOutOfRange(DateTime<Utc>),
    /// lettre refused to build the message.
    #[error("cannot build the message: {0}")]
    Build(String),
}
