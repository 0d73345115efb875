//! JSON encoding and decoding of jobs.

mod common;

use common::{addr, all_bytes, full_job};
use mailroom_jobs::{Attachment, EmailJob, EmailJobV1, JobId};
use serde_json::{Value, json};

fn decode(value: Value) -> Result<EmailJob, mailroom_jobs::DecodeError> {
    EmailJob::from_json(&serde_json::to_vec(&value).unwrap())
}

fn minimal() -> Value {
    json!({"version":"v1","from":"a@example.com","to":["b@example.com"],"subject":"hi","text":"x"})
}

#[test]
fn full_job_round_trips() {
    let job = full_job();
    let bytes = job.to_json();
    let back = EmailJob::from_json(&bytes).unwrap();
    assert_eq!(back, job);
    // The serde impls agree with to_json/from_json.
    assert_eq!(serde_json::from_slice::<EmailJob>(&bytes).unwrap(), job);
    assert_eq!(job.to_json_string().as_bytes(), bytes.as_slice());
}

#[test]
fn full_job_wire_shape() {
    let value: Value = serde_json::from_slice(&full_job().to_json()).unwrap();
    assert_eq!(value["version"], "v1");
    assert_eq!(value["id"], "01HZX3Q4J5N6P7R8S9T0V1W2X3");
    assert_eq!(value["from"], "Zoë Déjà-vu <zoe@example.com>");
    assert_eq!(value["cc"][0], "\"Doe, Dan\" <dan@example.net>");
    assert_eq!(value["send_at"], "2024-03-05T15:00:00Z");
    assert_eq!(value["expires_at"], "2024-03-06T15:00:00.250Z");
    assert_eq!(value["headers"]["X-Campaign"], "spring");
    assert_eq!(value["attachments"][1]["content_id"], "logo");
    assert_eq!(value["attachments"][1]["content"], "iVBORw==");
    assert_eq!(value["thread"]["references"][0], "<root@example.com>");
    assert_eq!(value["thread"]["thread_id"], "18c2f0a1b2c3d4e5");
}

#[test]
fn a_created_job_without_an_id_gets_a_fresh_one() {
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let first = decode(minimal()).unwrap();
    let second = decode(minimal()).unwrap();
    assert_ne!(first.id(), second.id());
    assert!(first.id().timestamp_ms() >= before);

    let job = first.v1();
    assert_eq!(job.from, addr("a@example.com"));
    assert_eq!(job.to, [addr("b@example.com")]);
    assert_eq!(job.subject, "hi");
    assert_eq!(job.text.as_deref(), Some("x"));
    assert!(job.cc.is_empty() && job.bcc.is_empty() && job.attachments.is_empty());
    assert!(job.headers.is_empty() && job.metadata.is_empty() && job.thread.is_none());
}

#[test]
fn a_stored_job_without_an_id_takes_the_record_id_every_time() {
    let record: JobId = "01M8TXHYT8RBC3YWADV5FXJSBG".parse().unwrap();
    let bytes = serde_json::to_vec(&minimal()).unwrap();
    let first = EmailJob::from_record(&bytes, record).unwrap();
    let again = EmailJob::from_record(&bytes, record).unwrap();
    assert_eq!(first.id(), record);
    assert_eq!(again.id(), record);
    assert_eq!(first, again, "two decodes of one record are the same job");
}

#[test]
fn a_stored_job_whose_id_disagrees_with_its_record_is_refused_naming_both() {
    let record: JobId = "01M8TXHYT8RBC3YWADV5FXJSBG".parse().unwrap();
    let mut value = minimal();
    value["id"] = json!("01M8TXHYW9M1KS190MT7QH12N8");
    let err = EmailJob::from_record(&serde_json::to_vec(&value).unwrap(), record).unwrap_err();
    assert_eq!(err.path(), "id");
    let text = err.to_string();
    assert!(text.contains("01M8TXHYW9M1KS190MT7QH12N8"), "{text}");
    assert!(text.contains("01M8TXHYT8RBC3YWADV5FXJSBG"), "{text}");

    // The same id in the payload is fine.
    value["id"] = json!(record.to_string());
    let job = EmailJob::from_record(&serde_json::to_vec(&value).unwrap(), record).unwrap();
    assert_eq!(job.id(), record);
}

/// A document without an id is a new job wherever it is decoded (one pass, a fresh id),
/// except a stored payload, which takes the id its record is under, never a minted one.
#[test]
fn only_a_new_job_mints_an_id() {
    let a = serde_json::from_value::<EmailJob>(minimal()).unwrap().id();
    let b = serde_json::from_value::<EmailJob>(minimal()).unwrap().id();
    assert_ne!(a, b);
    let record: JobId = "01M8TXHYT8RBC3YWADV5FXJSBG".parse().unwrap();
    let stored = EmailJob::from_record(&serde_json::to_vec(&minimal()).unwrap(), record).unwrap();
    assert_eq!(stored.id(), record);
}

#[test]
fn defaults_are_skipped_when_serializing() {
    let job = decode(minimal()).unwrap();
    let value: Value = serde_json::from_slice(&job.to_json()).unwrap();
    let mut keys: Vec<_> = value.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["from", "id", "subject", "text", "to", "version"]);
}

#[test]
fn unknown_version_fails_naming_it() {
    let mut value = minimal();
    value["version"] = json!("v9");
    let err = decode(value.clone()).unwrap_err();
    assert_eq!(err.path(), "version");
    assert!(err.to_string().contains("\"v9\""), "{err}");
    // The plain serde impl names it too.
    let err = serde_json::from_value::<EmailJob>(value).unwrap_err();
    assert!(err.to_string().contains("v9"), "{err}");
}

#[test]
fn missing_version_fails() {
    let mut value = minimal();
    value.as_object_mut().unwrap().remove("version");
    let err = decode(value).unwrap_err();
    assert!(err.to_string().contains("missing field `version`"), "{err}");
}

#[test]
fn unknown_field_fails_naming_it() {
    let mut value = minimal();
    value["colour"] = json!("blue");
    let err = decode(value.clone()).unwrap_err();
    assert_eq!(err.path(), "colour");
    assert!(err.to_string().contains("unknown field `colour`"), "{err}");
    assert!(serde_json::from_value::<EmailJob>(value).is_err());

    let mut nested = minimal();
    nested["thread"] = json!({"thread_id": "t", "parent": "x"});
    let err = decode(nested).unwrap_err();
    assert_eq!(err.path(), "thread.parent");
    assert!(err.to_string().contains("unknown field `parent`"), "{err}");
}

#[test]
fn bad_address_fails_with_its_path() {
    let mut value = minimal();
    value["cc"] = json!(["bob@"]);
    let err = decode(value).unwrap_err();
    assert_eq!(err.path(), "cc[0]");
    assert!(
        err.to_string()
            .starts_with("cc[0]: invalid address \"bob@\""),
        "{err}"
    );

    let mut value = minimal();
    value["to"] = json!(["b@example.com", "bob@"]);
    let err = decode(value).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("to[1]: invalid address \"bob@\": "),
        "{err}"
    );
}

#[test]
fn other_paths_are_reported() {
    let mut value = minimal();
    value["attachments"] = json!([{"filename":"a","content_type":"text/plain","content":"%%"}]);
    assert_eq!(decode(value).unwrap_err().path(), "attachments[0].content");

    let mut value = minimal();
    value["send_at"] = json!("tomorrow");
    assert_eq!(decode(value).unwrap_err().path(), "send_at");

    let mut value = minimal();
    value["id"] = json!("nope");
    assert_eq!(decode(value).unwrap_err().path(), "id");
}

#[test]
fn malformed_documents_fail() {
    let err = EmailJob::from_json(b"{not json").unwrap_err();
    assert!(err.is_syntax());
    let err = EmailJob::from_json(b"[1, 2]").unwrap_err();
    assert!(err.to_string().contains("expected a JSON object"), "{err}");
    let err = EmailJob::from_json(br#"{"version": 1}"#).unwrap_err();
    assert_eq!(err.path(), "version");
}

#[test]
fn attachment_content_round_trips_every_byte() {
    let bytes = all_bytes();
    let job = EmailJobV1::builder(addr("a@example.com"))
        .to(addr("b@example.com"))
        .subject("bytes")
        .attachment(Attachment::new(
            "all.bin",
            "application/octet-stream",
            bytes.clone(),
        ))
        .build();
    let json = job.to_json();
    let value: Value = serde_json::from_slice(&json).unwrap();
    use base64::Engine as _;
    let expected = base64::engine::general_purpose::STANDARD.encode(&bytes);
    assert_eq!(value["attachments"][0]["content"], expected);
    let back = EmailJob::from_json(&json).unwrap();
    assert_eq!(back.v1().attachments[0].content, bytes);
}

#[test]
fn offsets_in_dates_are_normalised_to_utc() {
    let mut value = minimal();
    value["send_at"] = json!("2024-03-05T16:00:00+01:00");
    let job = decode(value).unwrap();
    assert_eq!(
        job.send_at().unwrap().to_rfc3339(),
        "2024-03-05T15:00:00+00:00"
    );
}

#[test]
fn a_document_too_large_to_be_a_job_is_refused_before_it_is_parsed() {
    // Not even JSON past its first bytes: only the length is looked at.
    let mut bytes = serde_json::to_vec(&minimal()).unwrap();
    bytes.resize(mailroom_jobs::MAX_JOB_JSON_BYTES + 1, b' ');
    let err = EmailJob::from_record(&bytes, JobId::new()).unwrap_err();
    assert!(
        err.to_string()
            .contains("bytes of JSON, more than the limit of 73400320"),
        "{err}"
    );
    // At the limit, the same document decodes (trailing white space is JSON).
    bytes.truncate(mailroom_jobs::MAX_JOB_JSON_BYTES);
    assert!(EmailJob::from_json(&bytes).is_ok());
}
