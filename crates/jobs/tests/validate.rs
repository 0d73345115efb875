//! One test per validation rule, each checking the field the error names.

mod common;

use chrono::{Duration, TimeZone, Utc};
use common::{addr, full_job, simple_job};
use mailroom_jobs::{
    Address, Attachment, EmailJob, EmailJobV1, Policy, SenderAllowlist, ThreadHint, ValidationError,
};

fn check(job: EmailJobV1) -> Result<(), ValidationError> {
    EmailJob::V1(job).validate(&Policy::default())
}

fn field_of(job: EmailJobV1) -> String {
    match check(job) {
        Ok(()) => panic!("job passed validation"),
        Err(err) => {
            assert_eq!(err.to_string(), format!("{}: {}", err.field, err.message));
            err.field
        }
    }
}

#[test]
fn valid_jobs_pass() {
    check(simple_job()).unwrap();
    full_job().validate(&Policy::default()).unwrap();
}

#[test]
fn addresses_are_valid_by_type() {
    assert!(Address::parse("bob@").is_err());
    let json = br#"{"version":"v1","from":"a@example.com","to":["not an address"],"subject":"s","text":"t"}"#;
    assert_eq!(EmailJob::from_json(json).unwrap_err().path(), "to[0]");
}

#[test]
fn display_names_cannot_carry_line_breaks() {
    // Refused when the address is built, so no job can hold one.
    assert!(Address::parse("\"Evil\r\nBcc: x@example.com\" <a@example.com>").is_err());
    assert!(Address::new(Some("Evil\nBcc: x@example.com"), "a@example.com").is_err());
    assert!(Address::new(Some("Nul\0"), "a@example.com").is_err());
}

#[test]
fn needs_a_recipient() {
    let mut job = simple_job();
    job.to.clear();
    assert_eq!(field_of(job.clone()), "to");
    job.bcc.push(addr("hidden@example.com"));
    check(job).unwrap();
}

#[test]
fn recipient_limit() {
    let mut job = simple_job();
    job.to = (0..60)
        .map(|i| addr(&format!("to{i}@example.com")))
        .collect();
    job.cc = (0..40)
        .map(|i| addr(&format!("cc{i}@example.com")))
        .collect();
    check(job.clone()).unwrap();
    job.bcc.push(addr("one-too-many@example.com"));
    assert_eq!(field_of(job.clone()), "to");
    let generous = Policy {
        max_recipients: 101,
        ..Policy::default()
    };
    EmailJob::V1(job).validate(&generous).unwrap();
}

#[test]
fn sender_allowlist() {
    let policy = Policy {
        allowed_senders: Some(SenderAllowlist::new(["*@example.com", "ops@example.org"]).unwrap()),
        ..Policy::default()
    };
    let job = EmailJob::V1(simple_job());
    job.validate(&policy).unwrap();

    let mut other = simple_job();
    other.from = addr("Mallory <mallory@evil.example>");
    let err = EmailJob::V1(other).validate(&policy).unwrap_err();
    assert_eq!(err.field, "from");
}

#[test]
fn subject_without_line_breaks() {
    let mut job = simple_job();
    job.subject = "Hello\r\nBcc: victim@example.com".into();
    assert_eq!(field_of(job.clone()), "subject");
    job.subject = "nul\0".into();
    assert_eq!(field_of(job), "subject");
}

#[test]
fn header_values_without_line_breaks() {
    let mut job = simple_job();
    job.headers
        .insert("X-Foo".into(), "a\r\nBcc: victim@example.com".into());
    let err = check(job).unwrap_err();
    assert_eq!(err.field, "headers[X-Foo]");
    assert_eq!(err.to_string(), "headers[X-Foo]: value contains CR or LF");
}

#[test]
fn header_names_must_be_field_names() {
    for bad in ["X Foo", "X:Foo", "", "X-Föo", "X-\u{7f}"] {
        let mut job = simple_job();
        job.headers.insert(bad.into(), "v".into());
        assert_eq!(field_of(job), format!("headers[{bad}]"), "{bad:?}");
    }
    let mut job = simple_job();
    job.headers.insert("X".repeat(77), "v".into());
    assert_eq!(field_of(job), format!("headers[{}]", "X".repeat(77)));
}

#[test]
fn structural_headers_are_reserved() {
    for name in [
        "From",
        "to",
        "CC",
        "Bcc",
        "reply-to",
        "Subject",
        "Date",
        "message-id",
        "MIME-Version",
        "Content-Type",
        "content-transfer-encoding",
        "Content-Disposition",
        "Sender",
        "Return-Path",
        "In-Reply-To",
        "References",
    ] {
        let mut job = simple_job();
        job.headers.insert(name.into(), "x".into());
        assert_eq!(field_of(job), format!("headers[{name}]"), "{name}");
    }
    let mut job = simple_job();
    job.headers.insert("X-Content".into(), "fine".into());
    job.headers
        .insert("List-Unsubscribe".into(), "<mailto:u@example.com>".into());
    check(job).unwrap();
}

#[test]
fn header_names_are_unique_ignoring_case() {
    let mut job = simple_job();
    job.headers.insert("X-Tag".into(), "a".into());
    job.headers.insert("x-tag".into(), "b".into());
    assert_eq!(field_of(job), "headers[x-tag]");
}

#[test]
fn empty_message_is_refused() {
    let mut job = simple_job();
    job.text = None;
    assert_eq!(field_of(job.clone()), "text");
    job.text = Some(String::new());
    job.html = Some(String::new());
    assert_eq!(field_of(job.clone()), "text");
    job.html = Some("<p>hi</p>".into());
    check(job.clone()).unwrap();
    job.html = None;
    job.attachments
        .push(Attachment::new("a.txt", "text/plain", "a"));
    check(job).unwrap();
}

#[test]
fn expiry_not_before_send_time() {
    let mut job = simple_job();
    let at = Utc.with_ymd_and_hms(2030, 1, 1, 12, 0, 0).unwrap();
    job.send_at = Some(at);
    job.expires_at = Some(at - Duration::seconds(1));
    assert_eq!(field_of(job.clone()), "expires_at");
    job.expires_at = Some(at);
    check(job.clone()).unwrap();
    job.send_at = None;
    job.expires_at = Some(at - Duration::days(1));
    check(job).unwrap();
}

#[test]
fn idempotency_key_length_and_content() {
    let mut job = simple_job();
    job.idempotency_key = Some(String::new());
    assert_eq!(field_of(job.clone()), "idempotency_key");
    job.idempotency_key = Some("é".repeat(200));
    check(job.clone()).unwrap();
    job.idempotency_key = Some("k".repeat(201));
    assert_eq!(field_of(job.clone()), "idempotency_key");
    job.idempotency_key = Some("key\nwith-newline".into());
    assert_eq!(field_of(job), "idempotency_key");
}

#[test]
fn attachment_filename() {
    let mut job = simple_job();
    job.attachments
        .push(Attachment::new("ok.txt", "text/plain", "a"));
    job.attachments
        .push(Attachment::new(" ", "text/plain", "a"));
    assert_eq!(field_of(job.clone()), "attachments[1].filename");
    job.attachments[1].filename = "evil\r\n.txt".into();
    assert_eq!(field_of(job), "attachments[1].filename");
}

#[test]
fn attachment_content_type() {
    for bad in [
        "",
        "pdf",
        "text/",
        "/plain",
        "*/*",
        "text/plain\r\nX-Evil: 1",
        "multipart/mixed",
    ] {
        let mut job = simple_job();
        job.attachments.push(Attachment::new("a.bin", bad, "a"));
        assert_eq!(field_of(job), "attachments[0].content_type", "{bad:?}");
    }
    let mut job = simple_job();
    job.attachments
        .push(Attachment::new("a.txt", "text/plain; charset=utf-8", "a"));
    check(job).unwrap();
}

#[test]
fn attachment_content_id() {
    for bad in ["", "<logo>", "lo go", "logo\r\n"] {
        let mut job = simple_job();
        job.attachments
            .push(Attachment::new("logo.png", "image/png", "a").inline(bad));
        assert_eq!(field_of(job), "attachments[0].content_id", "{bad:?}");
    }
}

#[test]
fn thread_hint_ids() {
    let mut job = simple_job();
    job.thread = Some(ThreadHint {
        thread_id: Some("abc\r\n".into()),
        ..Default::default()
    });
    assert_eq!(field_of(job.clone()), "thread.thread_id");
    job.thread = Some(ThreadHint {
        in_reply_to: Some("no-brackets@example.com".into()),
        ..Default::default()
    });
    assert_eq!(field_of(job.clone()), "thread.in_reply_to");
    job.thread = Some(ThreadHint {
        references: vec![
            "<a@example.com>".into(),
            "<b@example.com>\r\nBcc: x@example.com".into(),
        ],
        ..Default::default()
    });
    assert_eq!(field_of(job), "thread.references[1]");
}

#[test]
fn rendered_size_limit() {
    let mut job = simple_job();
    job.attachments.push(Attachment::new(
        "big.bin",
        "application/octet-stream",
        vec![0xA5; 40 * 1024 * 1024],
    ));
    assert_eq!(field_of(job), "message");
}

#[test]
fn rendered_size_limit_counts_the_encoded_message() {
    // 900 bytes of content stay under 1000 before encoding, but not once
    // headers and base64 are added.
    let mut job = simple_job();
    job.attachments.push(Attachment::new(
        "a.bin",
        "application/octet-stream",
        vec![7u8; 600],
    ));
    let policy = Policy {
        max_message_bytes: 1000,
        ..Policy::default()
    };
    let err = EmailJob::V1(job.clone()).validate(&policy).unwrap_err();
    assert_eq!(err.field, "message");
    let size = job.render(common::date()).unwrap().bytes.len();
    let exact = Policy {
        max_message_bytes: size,
        ..Policy::default()
    };
    EmailJob::V1(job).validate(&exact).unwrap();
}

#[test]
fn the_size_limit_counts_metadata_and_tags() {
    let job = simple_job();
    let size = job.render(common::date()).unwrap().bytes.len();
    let exact = Policy {
        max_message_bytes: size + 10,
        ..Policy::default()
    };
    EmailJob::V1(job.clone()).validate(&exact).unwrap();
    let mut with_metadata = job.clone();
    with_metadata
        .metadata
        .insert("order".into(), "0123456789".into());
    let err = EmailJob::V1(with_metadata.clone())
        .validate(&exact)
        .unwrap_err();
    assert_eq!(err.field, "metadata", "{err}");
    assert!(err.message.contains("metadata and tags"), "{err}");
    let mut with_tags = job;
    with_tags.tags.push("a-tag-of-eleven".into());
    let err = EmailJob::V1(with_tags).validate(&exact).unwrap_err();
    assert_eq!(err.field, "tags", "{err}");
}

#[test]
fn caller_data_over_its_limit_names_the_field_that_went_over() {
    let mut job = simple_job();
    job.tags = vec!["t".repeat(40 * 1024), "u".repeat(30 * 1024)];
    assert_eq!(field_of(job.clone()), "tags");
    job.metadata.insert("k".into(), "v".repeat(70 * 1024));
    assert_eq!(field_of(job), "metadata");
}
