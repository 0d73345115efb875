//! The checked-in JSON Schema matches the types.
//!
//! Run with `MAILROOM_UPDATE_SCHEMA=1` to rewrite the file instead.

mod common;

use std::path::PathBuf;

use mailroom_jobs::{SCHEMA_FILE, json_schema};
use serde_json::Value;

fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(SCHEMA_FILE)
}

fn rendered_schema() -> String {
    let mut text = serde_json::to_string_pretty(&json_schema()).unwrap();
    text.push('\n');
    text
}

#[test]
fn schema_file_is_current() {
    let path = schema_path();
    let expected = rendered_schema();
    if std::env::var_os("MAILROOM_UPDATE_SCHEMA").is_some_and(|v| v == "1") {
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    let actual = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert!(
        actual == expected,
        "{} is stale; regenerate it with\n  MAILROOM_UPDATE_SCHEMA=1 cargo test -p mailroom-jobs --test schema",
        path.display()
    );
}

#[test]
fn schema_is_stable() {
    assert_eq!(rendered_schema(), rendered_schema());
}

#[test]
fn schema_describes_the_wire_format() {
    let schema = json_schema();
    let v1 = &schema["oneOf"][0];
    assert_eq!(schema["oneOf"].as_array().unwrap().len(), 1);
    assert_eq!(v1["properties"]["version"]["const"], "v1");
    assert_eq!(v1["additionalProperties"], false);
    let required: Vec<_> = v1["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    // `subject` may be left out when a `template` gives it.
    assert_eq!(required, ["version", "from"]);
    assert!(v1["properties"]["id"].get("default").is_none());

    let defs = &schema["$defs"];
    assert_eq!(defs["Address"]["type"], "string");
    assert_eq!(defs["JobId"]["type"], "string");
    let content = &defs["Attachment"]["properties"]["content"];
    assert_eq!(content["type"], "string");
    assert_eq!(content["contentEncoding"], "base64");
    for field in ["send_at", "expires_at"] {
        assert_eq!(v1["properties"][field]["format"], "date-time", "{field}");
    }
    assert_eq!(
        v1["properties"]["headers"]["additionalProperties"]["type"],
        "string"
    );
}

#[test]
fn full_job_has_only_schema_properties() {
    // Every key the encoder writes is declared by the schema.
    let schema = json_schema();
    let declared = schema["oneOf"][0]["properties"].as_object().unwrap();
    let job: Value = serde_json::from_slice(&common::full_job().to_json()).unwrap();
    for key in job.as_object().unwrap().keys() {
        assert!(declared.contains_key(key), "{key} missing from the schema");
    }
}
