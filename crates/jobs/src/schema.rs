//! The JSON Schema of the wire format.

use crate::EmailJob;

/// Path of the checked-in schema file, relative to this crate's root.
pub const SCHEMA_FILE: &str = "schema/email-job.schema.json";

/// The JSON Schema (draft 2020-12) of an [`EmailJob`] document, as checked
/// in at [`SCHEMA_FILE`].
///
/// ```
/// let schema = mailroom_jobs::json_schema();
/// assert_eq!(schema["title"], "EmailJob");
/// ```
#[must_use]
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(EmailJob))
        .expect("a JSON Schema always converts to a JSON value")
}
