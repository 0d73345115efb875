//! The mailroom email-job schema: what services enqueue into Redis and
//! workers render and send through the Gmail API.
//!
//! # Layout
//!
//! Everything is re-exported at the crate root; the modules are private.
//!
//! - `id.rs`: [`JobId`], a ULID.
//! - `address.rs`: [`Address`], a parsed RFC 5322 mailbox.
//! - `job.rs`: [`EmailJob`], the versioned wire enum (`"version": "v1"`),
//!   and its fields [`EmailJobV1`]; `attachment.rs` ([`Attachment`]) and
//!   `thread.rs` ([`ThreadHint`]) and `list.rs` ([`MailingList`]) hold the
//!   nested types.
//! - `builder.rs`: [`EmailJobBuilder`], for building jobs in Rust.
//! - `json.rs`: [`EmailJob::to_json`], [`EmailJob::from_json`] (a job being
//!   created: an absent id is minted) and [`EmailJob::from_record`] (a job
//!   read back from the queue: the record's id counts), whose
//!   [`DecodeError`] names the JSON path of the failing field.
//! - `policy.rs`: [`Policy`] and [`SenderAllowlist`], the limits a job is
//!   checked against; `validate.rs`: [`EmailJob::validate`], the rules; `size.rs`: the
//!   size rule and its cheap bounds.
//! - `text.rs`: checks on header text shared by validation and rendering
//!   (header injection, field names, [`RESERVED_HEADERS`]).
//! - `render.rs`: [`EmailJob::render`] builds the MIME message with
//!   lettre; [`message_id_for`] gives its `Message-ID`; `render/body.rs` encodes a text
//!   body as lettre would, in one pass. `splice.rs` formats
//!   a message with attachments into one buffer of its exact size, encoding
//!   the attachments straight into it.
//! - `schema.rs`: [`json_schema`], the JSON Schema of the wire format.
//! - `template.rs`: [`Template`], [`TemplateRef`] and [`EmailJob::apply_template`]:
//!   minijinja templates rendered into a job at enqueue.
//! - `error.rs`: every error type; `clip.rs`: caller text they quote, cut to
//!   [`MAX_QUOTED_CHARS`].
//!
//! # Wire format
//!
//! ```json
//! {"version": "v1", "from": "a@example.com", "to": ["b@example.com"],
//!  "subject": "hi", "text": "x"}
//! ```
//!
//! Addresses are strings, attachment content is base64, times are RFC 3339.
//! See [`EmailJobV1`] for every field.
//!
//! # The schema file
//!
//! `schema/email-job.schema.json` is the checked-in output of
//! [`json_schema`]. The test `schema_file_is_current` fails when it is
//! stale; regenerate it with
//!
//! ```sh
//! MAILROOM_UPDATE_SCHEMA=1 cargo test -p mailroom-jobs --test schema
//! ```
//!
//! # Example
//!
//! ```
//! use mailroom_jobs::{EmailJob, Policy};
//!
//! let json = br#"{"version":"v1","from":"a@example.com","to":["b@example.com"],"subject":"hi","text":"x"}"#;
//! let job = EmailJob::from_json(json).unwrap();
//! job.validate(&Policy::default()).unwrap();
//! let rendered = job.render(chrono::Utc::now()).unwrap();
//! assert!(rendered.bytes.starts_with(b"From: a@example.com\r\n"));
//! ```

#![warn(missing_docs)]

mod address;
mod attachment;
mod builder;
mod clip;
mod error;
mod id;
mod job;
mod json;
mod list;
mod policy;
mod render;
mod schema;
mod size;
mod splice;
mod template;
mod text;
mod thread;
mod validate;

pub use address::Address;
pub use attachment::Attachment;
pub use builder::EmailJobBuilder;
pub use clip::MAX_QUOTED_CHARS;
pub use error::{
    AddressError, AllowlistError, DecodeError, JobIdError, RenderError, ValidationError,
};
pub use id::JobId;
pub use job::{EmailJob, EmailJobV1};
pub use json::{MAX_JOB_JSON_BYTES, SUPPORTED_VERSIONS};
pub use list::{MAX_LIST_ID_LEN, MailingList, check_list_id};
pub use policy::{DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MAX_RECIPIENTS, Policy, SenderAllowlist};
pub use render::{Rendered, message_id_for};
pub use schema::{SCHEMA_FILE, json_schema};
pub use template::{
    MAX_TEMPLATE_NAME_LEN, RenderedTemplate, Template, TemplateParts, TemplateRef,
    check_template_name,
};
pub use text::{MAX_HEADER_NAME_LEN, RESERVED_HEADERS, RESERVED_PREFIXES};
pub use thread::ThreadHint;
pub use validate::{MAX_CALLER_DATA_BYTES, MAX_IDEMPOTENCY_KEY_CHARS};
