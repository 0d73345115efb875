//! The OpenAPI 3.1 document, generated from the handlers' annotations (utoipa) and the job
//! schema of `mailroom-jobs`, served at `GET /v1/openapi.json` and checked in at
//! [`OPENAPI_FILE`] (a test fails when that file is stale).

use axum::Json;
use serde_json::{Value, json};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use super::{dead, jobs, messages, queue, senders, templates, unsubscribe};

/// Where the document is checked in, relative to the workspace root.
pub const OPENAPI_FILE: &str = "docs/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "mailroom HTTP API",
        description = "Enqueue mail and look after the queue. Authenticate with `Authorization: Bearer SECRET` (a key of `api.keys_file`); errors are `application/problem+json` (RFC 9457).",
        license(name = "MIT OR Apache-2.0"),
    ),
    paths(
        messages::send, messages::send_batch, jobs::status, jobs::cancel, queue::stats,
        dead::list, dead::retry, dead::purge, senders::list, templates::list, templates::get,
        templates::put, templates::delete, templates::preview, unsubscribe::confirm,
        unsubscribe::unsubscribe, openapi,
    ),
    modifiers(&Security),
    tags(
        (name = "messages", description = "Enqueue, look up and cancel jobs."),
        (name = "queue", description = "The queue's counts."),
        (name = "dead", description = "Dead letters: list, retry, purge."),
        (name = "senders", description = "Senders: credentials, health, quota."),
        (name = "templates", description = "Stored templates jobs are rendered from."),
        (name = "unsubscribe", description = "One-click unsubscribe links (RFC 8058): no API key, the token is the authority."),
        (name = "meta", description = "This document."),
    )
)]
struct Api;

struct Security;

impl utoipa::Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A secret printed by `mailroom api new-key`."))
                    .build(),
            ),
        );
    }
}

/// The document as JSON: utoipa's, with the job schema of `mailroom-jobs` in its components
/// (its `$defs` moved beside it) and the request bodies of the two `POST /v1/messages…`
/// pointing at it; the body of `POST /u/{token}` optional.
#[must_use]
pub fn document() -> Value {
    let mut doc = serde_json::to_value(Api::openapi()).expect("the document serializes");
    let mut job = mailroom_jobs::json_schema();
    let defs = job
        .as_object_mut()
        .and_then(|o| {
            o.remove("$schema");
            o.remove("$defs")
        })
        .unwrap_or_else(|| json!({}));
    rewrite_refs(&mut job);
    let schemas = doc["components"]["schemas"]
        .as_object_mut()
        .expect("the document has schemas");
    for (name, mut schema) in defs.as_object().cloned().unwrap_or_default() {
        rewrite_refs(&mut schema);
        assert!(
            schemas.insert(name.clone(), schema).is_none(),
            "schema {name} twice"
        );
    }
    schemas.insert("EmailJob".to_owned(), job);
    let one = json!({"$ref": "#/components/schemas/EmailJob"});
    let batch = json!({
        "type": "object",
        "required": ["jobs"],
        "additionalProperties": false,
        "properties": {"jobs": {
            "type": "array", "minItems": 1, "maxItems": messages::MAX_BATCH, "items": one,
        }},
    });
    for (path, schema) in [("/v1/messages", one.clone()), ("/v1/messages/batch", batch)] {
        doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"] = schema;
    }
    // A one-click unsubscribe may come with no body at all (the token is what counts).
    doc["paths"]["/u/{token}"]["post"]["requestBody"]["required"] = Value::Bool(false);
    doc
}

/// The document as checked in: pretty JSON with a final newline.
#[must_use]
pub fn rendered() -> String {
    let mut text = serde_json::to_string_pretty(&document()).expect("the document serializes");
    text.push('\n');
    text
}

/// `#/$defs/X` (the job schema's own references) becomes `#/components/schemas/X`.
fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "$ref" {
                    if let Some(name) = v.as_str().and_then(|r| r.strip_prefix("#/$defs/")) {
                        *v = Value::String(format!("#/components/schemas/{name}"));
                    }
                } else {
                    rewrite_refs(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

/// This document.
#[utoipa::path(
    get, path = "/v1/openapi.json", operation_id = "getOpenApi", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API.", body = Object)),
)]
pub async fn openapi() -> Json<Value> {
    Json(document())
}
