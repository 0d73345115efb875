//! The checked-in OpenAPI document (`docs/openapi.json`) is the one the code generates.
//!
//! Run with `MAILROOM_UPDATE_OPENAPI=1` to rewrite the file instead.

use std::path::PathBuf;

use mailroom_worker::api::doc::{OPENAPI_FILE, document, rendered};

fn path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(OPENAPI_FILE)
}

#[test]
fn the_checked_in_document_is_current() {
    let path = path();
    let expected = rendered();
    if std::env::var_os("MAILROOM_UPDATE_OPENAPI").is_some_and(|v| v == "1") {
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    let actual = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert!(
        actual == expected,
        "{} is stale; regenerate it with\n  make openapi\n(or MAILROOM_UPDATE_OPENAPI=1 cargo test -p mailroom-worker --test openapi)",
        path.display()
    );
}

#[test]
fn the_document_is_openapi_3_1_with_every_endpoint_and_the_job_schema() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    for (path, method) in [
        ("/v1/messages", "post"),
        ("/v1/messages/batch", "post"),
        ("/v1/messages/{id}", "get"),
        ("/v1/messages/{id}", "delete"),
        ("/v1/queue", "get"),
        ("/v1/dead", "get"),
        ("/v1/dead/retry", "post"),
        ("/v1/dead/purge", "post"),
        ("/v1/senders", "get"),
        ("/v1/openapi.json", "get"),
        ("/u/{token}", "get"),
        ("/u/{token}", "post"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "EmailJob",
        "Address",
        "Problem",
        "JobStatus",
        "QueueStats",
        "DeadJob",
    ] {
        assert!(schemas.contains_key(name), "{name}");
    }
    let text = serde_json::to_string(&doc).unwrap();
    assert!(
        !text.contains("#/$defs/"),
        "every reference resolves in the document"
    );
    assert_eq!(
        doc["paths"]["/v1/messages"]["post"]["requestBody"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/EmailJob"
    );
}
