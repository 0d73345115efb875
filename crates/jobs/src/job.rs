//! [`EmailJob`], the versioned wire type, and its first version [`EmailJobV1`].

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Address, Attachment, JobId, MailingList, TemplateRef, ThreadHint};

/// An email job as enqueued by services and consumed by workers.
///
/// Internally tagged by `version`, so the JSON is the version's fields plus
/// `"version": "v1"`. A document with any other version fails to decode with
/// an error naming it. Decode with [`EmailJob::from_json`] for errors that
/// carry the JSON path of the failing field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "version")]
#[schemars(
    description = "An email job for the mailroom outbound-mail worker. The `version` field selects the format; only \"v1\" exists."
)]
#[non_exhaustive]
pub enum EmailJob {
    /// Version 1 of the job format.
    #[serde(rename = "v1")]
    V1(EmailJobV1),
}

/// Version 1 of the email-job format.
///
/// Only `from` and `subject` are required in JSON; every other field has a
/// default (empty lists and maps, no optional values) and is left out when
/// serializing if it holds that default. `id` is optional in JSON but not in
/// this type: [`EmailJob::from_json`] (a job being created) mints one when it
/// is absent, and [`EmailJob::from_record`] (a job read back from the queue)
/// takes the id the record is stored under. Deserializing with serde alone
/// requires it, so no decode mints an id by accident. Unknown fields are
/// refused.
///
/// Decoding only guarantees the shape and that every address parses; call
/// [`EmailJob::validate`] for the remaining rules (recipients, header
/// injection, size, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = id_is_optional)]
pub struct EmailJobV1 {
    /// Unique id of the job; also the local part of the rendered Message-ID.
    /// Optional: a producer that leaves it out gets the id the job is stored
    /// under in the queue (the id the enqueue returns); a payload whose id
    /// differs from that one is dead-lettered.
    // A fresh id when absent, so that a job without one (as the HTTP API and other
    // producers send them) decodes in one pass; a stored payload is then checked against
    // the id it was stored under.
    #[serde(default = "JobId::new")]
    pub id: JobId,
    /// Caller-chosen key identifying the logical send, so that a retried
    /// enqueue is recognised as a duplicate (1 to 200 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// The sender (`From` header).
    pub from: Address,
    /// Primary recipients (`To` header).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub to: Vec<Address>,
    /// Carbon-copy recipients (`Cc` header).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cc: Vec<Address>,
    /// Blind carbon-copy recipients (`Bcc` header; kept in the rendered
    /// message because the Gmail API reads recipients from it).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bcc: Vec<Address>,
    /// Addresses replies should go to (`Reply-To` header).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reply_to: Vec<Address>,
    /// The subject line; may contain any Unicode text except CR, LF and NUL. Required,
    /// unless the job names a `template` (which then gives it).
    #[serde(default)]
    pub subject: String,
    /// Plain-text body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// HTML body; with `text` as well, the message is multipart/alternative.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    /// Files attached to the message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// Extra header fields, name to value (e.g. `List-Unsubscribe`). Names
    /// must be valid field names that differ from each other ignoring case
    /// and must not be a header the job sets itself (`From`, `To`, `Cc`,
    /// `Bcc`, `Reply-To`, `Subject`, `Date`, `Message-ID`, `MIME-Version`,
    /// `Content-*`, `Sender`, `Return-Path`, `In-Reply-To`, `References`) or
    /// one only a mail system writes (`Resent-*`, `ARC-*`, `DKIM-Signature`,
    /// `Received`, `Received-SPF`, `Authentication-Results`,
    /// `Disposition-Notification-To`, `Return-Receipt-To`, `Errors-To`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Do not send before this instant (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_at: Option<DateTime<Utc>>,
    /// Drop the job instead of sending it after this instant (RFC 3339);
    /// must not be earlier than `send_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Free-form key/value data for the caller's bookkeeping; not rendered.
    /// With `tags`, at most 64 KiB of text in all.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Labels for metrics and logs; not rendered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Places the message in an existing conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread: Option<ThreadHint>,
    /// The mailing list this message is sent on: adds `List-Id` and one-click unsubscribe
    /// headers, and recipients suppressed for the list are dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<MailingList>,
    /// A message the recipient asked for (a password reset, a receipt, a security alert):
    /// sent even to suppressed addresses. Never set it on marketing or newsletter mail.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub transactional: bool,
    /// A stored template to render the subject, text and html from, instead of setting
    /// them: rendered when the job is enqueued, which records the version used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateRef>,
}

/// Takes `id` out of the schema's required fields: the type always holds an
/// id, but a producer may leave it to the queue (see [`EmailJobV1::id`]).
fn id_is_optional(schema: &mut schemars::Schema) {
    if let Some(serde_json::Value::Array(required)) = schema.get_mut("required") {
        required.retain(|field| field != "id");
    }
    // The decoder's default is a fresh id, not a value a schema can state.
    if let Some(serde_json::Value::Object(id)) =
        schema.get_mut("properties").and_then(|p| p.get_mut("id"))
    {
        id.remove("default");
    }
}

impl EmailJobV1 {
    /// Every envelope recipient: `to`, then `cc`, then `bcc`.
    pub fn recipients(&self) -> impl Iterator<Item = &Address> {
        self.to.iter().chain(&self.cc).chain(&self.bcc)
    }
}

impl From<EmailJobV1> for EmailJob {
    fn from(job: EmailJobV1) -> Self {
        Self::V1(job)
    }
}

impl EmailJob {
    /// The job's fields (there is only one version so far).
    #[must_use]
    pub fn v1(&self) -> &EmailJobV1 {
        match self {
            Self::V1(job) => job,
        }
    }

    /// Mutable access to the job's fields.
    pub fn v1_mut(&mut self) -> &mut EmailJobV1 {
        match self {
            Self::V1(job) => job,
        }
    }

    /// The job's fields, by value.
    #[must_use]
    pub fn into_v1(self) -> EmailJobV1 {
        match self {
            Self::V1(job) => job,
        }
    }

    /// The wire version tag, e.g. `"v1"`.
    #[must_use]
    pub fn version(&self) -> &'static str {
        match self {
            Self::V1(_) => "v1",
        }
    }

    /// The job id.
    #[must_use]
    pub fn id(&self) -> JobId {
        self.v1().id
    }

    /// The caller's idempotency key, if any.
    #[must_use]
    pub fn idempotency_key(&self) -> Option<&str> {
        self.v1().idempotency_key.as_deref()
    }

    /// The sender.
    ///
    /// Being an inherent method, this shadows [`From::from`] in the path
    /// form `EmailJob::from(x)`; convert with `EmailJob::V1(job)` or
    /// `job.into()` instead.
    #[must_use]
    pub fn from(&self) -> &Address {
        &self.v1().from
    }

    /// Earliest send time, if any.
    #[must_use]
    pub fn send_at(&self) -> Option<DateTime<Utc>> {
        self.v1().send_at
    }

    /// Expiry time, if any.
    #[must_use]
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.v1().expires_at
    }

    /// Whether the job may be sent at `now` (no `send_at`, or it has passed).
    #[must_use]
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        self.send_at().is_none_or(|at| at <= now)
    }

    /// Whether the job has expired at `now` (it has an `expires_at` earlier
    /// than `now`).
    #[must_use]
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at().is_some_and(|at| at < now)
    }
}
