//! Property tests over job decoding, validation and rendering: arbitrary
//! input never panics, decoding and validation errors name the failing
//! field, and every valid job renders to a message that mail-parser, an
//! independent parser, reads back equal.
//!
//! Failing cases are not persisted to a regressions file: proptest prints
//! the minimal failing input, which belongs in a named `#[test]` instead.
//! `PROPTEST_CASES=n` raises the number of cases for a deeper local run.

#[path = "properties/breakage.rs"]
mod breakage;
#[path = "properties/roundtrip.rs"]
mod roundtrip;
#[path = "properties/strategies.rs"]
mod strategies;

use chrono::{DateTime, TimeZone, Utc};
use mailroom_jobs::{Address, EmailJob, EmailJobV1, Policy};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde_json::Value;
use strategies::{FIELDS, field_value, json_value};

/// `cases` cases (or `PROPTEST_CASES`), with nothing written to disk.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// A field of the job or an unknown one.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![select(FIELDS).prop_map(str::to_owned), "[a-z_]{1,12}"]
}

/// A decoding error: its path and its text.
struct Failure {
    path: String,
    shown: String,
}

impl Failure {
    /// The top-level field the error names: the first segment of its path,
    /// or for errors about the document the first field in backquotes
    /// (``missing field `from` ``, ``unknown field `x` ``).
    fn field(&self) -> Option<&str> {
        if self.path == "." {
            let (_, rest) = self.shown.split_once('`')?;
            rest.split_once('`').map(|(field, _)| field)
        } else {
            self.path.split(['.', '[']).next()
        }
    }
}

/// Decodes, validates and renders whatever `bytes` hold, checking the
/// promises each step makes. Returns the decoding error, if any.
fn exercise(bytes: &[u8], date: DateTime<Utc>) -> Result<Option<Failure>, TestCaseError> {
    let job = match EmailJob::from_json(bytes) {
        Ok(job) => job,
        Err(err) => {
            // `is_syntax` tells input that is not JSON from JSON of the wrong shape.
            let json = serde_json::from_slice::<Value>(bytes).is_ok();
            prop_assert_eq!(err.is_syntax(), !json, "{}", err);
            let shown = err.to_string();
            if !matches!(err.path(), "." | "") {
                prop_assert!(shown.starts_with(&format!("{}: ", err.path())), "{}", shown);
            }
            return Ok(Some(Failure {
                path: err.path().to_owned(),
                shown,
            }));
        }
    };
    // Jobs travel as JSON: what decodes must encode back to the same job.
    prop_assert_eq!(EmailJob::from_json(&job.to_json()).ok(), Some(job.clone()));
    match job.validate(&Policy::default()) {
        Ok(()) => roundtrip::check(job.v1(), date)?,
        Err(err) => {
            prop_assert!(!err.field.is_empty());
            prop_assert_eq!(err.to_string(), format!("{}: {}", err.field, err.message));
            // Rendering an invalid job may fail, but must not panic.
            let _ = job.render(date);
        }
    }
    Ok(None)
}

// Counts keep the whole file at a few seconds unoptimised: generating and
// checking a valid job costs milliseconds there, arbitrary input far less.

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512), date in strategies::date()) {
        exercise(&bytes, date)?;
    }

    #[test]
    fn arbitrary_json_names_what_is_wrong(
        value in json_value(),
        version in proptest::option::of(prop_oneof![Just(Value::from("v1")), json_value()]),
        date in strategies::date(),
    ) {
        let mut value = value;
        if let (Value::Object(map), Some(version)) = (&mut value, version) {
            map.insert("version".into(), version);
        }
        let failure = exercise(&serde_json::to_vec(&value).unwrap(), date)?;
        let Value::Object(map) = &value else {
            let failure = failure.expect("only an object can be a job");
            prop_assert_eq!(&failure.path, ".");
            prop_assert!(failure.shown.starts_with("expected a JSON object"), "{}", failure.shown);
            return Ok(());
        };
        match map.get("version") {
            None => {
                let failure = failure.expect("a job has a version");
                prop_assert!(failure.shown.contains("missing field `version`"), "{}", failure.shown);
            }
            Some(Value::String(v)) if v == "v1" => {}
            Some(version) => {
                let failure = failure.expect("only v1 exists");
                prop_assert_eq!(&failure.path, "version");
                if let Value::String(v) = version {
                    // The unknown version is named: `unknown version "v9"`.
                    prop_assert!(failure.shown.contains(&format!("{v:?}")), "{}", failure.shown);
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn valid_jobs_read_back_equal(job in strategies::valid_job(), date in strategies::date()) {
        prop_assert_eq!(EmailJob::V1(job.clone()).validate(&Policy::default()), Ok(()));
        let json = EmailJob::V1(job.clone()).to_json();
        prop_assert_eq!(EmailJob::from_json(&json).ok(), Some(EmailJob::V1(job.clone())));
        roundtrip::check(&job, date)?;
    }
}

proptest! {
    #![proptest_config(config(48))]

    /// A valid job with some fields replaced, removed or added decodes, or
    /// fails naming one of the fields that changed.
    #[test]
    fn decoding_errors_name_a_changed_field(
        job in strategies::valid_job(),
        changes in vec((field_name(), proptest::option::of(field_value())), 1..4),
        date in strategies::date(),
    ) {
        let Value::Object(mut map) = serde_json::to_value(EmailJob::V1(job)).unwrap() else {
            unreachable!("a job is a JSON object");
        };
        for (field, value) in &changes {
            match value {
                Some(value) => map.insert(field.clone(), value.clone()),
                None => map.remove(field),
            };
        }
        let bytes = serde_json::to_vec(&Value::Object(map)).unwrap();
        if let Some(failure) = exercise(&bytes, date)? {
            let named = failure.field();
            let changed: Vec<&str> = changes.iter().map(|(field, _)| field.as_str()).collect();
            prop_assert!(changed.contains(&named.unwrap_or_default()), "{} names none of {:?}", failure.shown, changed);
        }
    }

    /// A valid job with one rule broken fails validation naming the field
    /// that breaks it.
    #[test]
    fn validation_names_the_broken_field(
        job in strategies::valid_job(),
        breakage in breakage::breakage(),
        at in any::<Index>(),
    ) {
        let (job, policy, field) = breakage.apply(job, at);
        let err = job.validate(&policy).unwrap_err();
        prop_assert_eq!(&err.field, &field, "{}", err);
    }
}

proptest! {
    #![proptest_config(config(24))]

    #[test]
    fn damaged_job_json_never_panics(
        job in strategies::valid_job(),
        damage in vec((any::<Index>(), any::<u8>(), 0u8..3), 1..4),
        date in strategies::date(),
    ) {
        let mut bytes = EmailJob::V1(job).to_json();
        for (at, byte, how) in damage {
            let at = at.index(bytes.len() + 1);
            match how {
                0 => bytes.truncate(at),
                1 => bytes.insert(at, byte),
                _ if at < bytes.len() => bytes[at] = byte,
                _ => bytes.push(byte),
            }
        }
        exercise(&bytes, date)?;
    }

    /// The size limit holds to the byte, whatever the date: the rendered message with the
    /// metadata and tags.
    #[test]
    fn size_limit_is_exact(job in strategies::valid_job(), date in strategies::date()) {
        let size = job.render(date).unwrap().bytes.len();
        let metadata: usize = job.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        let tags: usize = job.tags.iter().map(String::len).sum();
        let policy = |max_message_bytes| Policy { max_message_bytes, ..Policy::default() };
        prop_assert_eq!(job.validate(&policy(size + metadata + tags)), Ok(()));
        let err = job.validate(&policy(size + metadata + tags - 1)).unwrap_err();
        let field = if tags > 0 { "tags" } else if metadata > 0 { "metadata" } else { "message" };
        prop_assert_eq!(err.field, field);
    }
}

/// Jobs the properties above found reading back different (or making an
/// ill-formed message) before rendering was fixed.
#[test]
fn found_cases_read_back_equal() {
    let sender = Address::parse("a@example.com").unwrap();
    let job = |subject: &str, text: &str| {
        EmailJobV1::builder(sender.clone())
            .to(sender.clone())
            .subject(subject)
            .text(text)
            .build_v1()
    };
    let mut header = job("s", "x");
    header.headers.insert("X-Note".into(), "é  é".into());
    let cases = [
        // Readers decode an ASCII subject that looks like an encoded word.
        job("=?utf-8?q?x?=", "x"),
        // Readers drop white space between two encoded words (RFC 2047 §6.2).
        job("é  é", "x"),
        header,
        // Readers read a run of white space at a fold as one space and trim
        // white space at the ends.
        job(&format!("a  {}", "b".repeat(80)), "x"),
        job(" padded ", "x"),
        // A control character went into the header raw.
        job("bell \u{7}", "x"),
        // A word too long for a header line went out unfolded.
        job(&format!("long {}", "w".repeat(1000)), "x"),
        // 7bit bodies held a bare CR or a NUL.
        job("s", "a\rb"),
        job("s", "a\0b"),
    ];
    let date = Utc.with_ymd_and_hms(2024, 3, 5, 14, 30, 9).unwrap();
    for job in cases {
        if let Err(e) = roundtrip::check(&job, date) {
            let subject: String = job.subject.chars().take(40).collect();
            panic!("subject {subject:?}, text {:?}: {e}", job.text);
        }
    }
}
