//! Rendered headers, checked by parsing the output back with mail-parser.

mod common;

use chrono::{TimeZone, Utc};
use common::{addr, date, full_job, header_block, parse, simple_job};
use mailroom_jobs::{Attachment, EmailJob, RenderError, ThreadHint, message_id_for};

#[test]
fn headers_survive_a_round_trip() {
    let job = full_job();
    let rendered = job.render(date()).unwrap();
    let msg = parse(&rendered.bytes);

    let from = msg.from().unwrap().first().unwrap();
    assert_eq!(from.name(), Some("Zoë Déjà-vu"));
    assert_eq!(from.address(), Some("zoe@example.com"));

    let to: Vec<_> = msg
        .to()
        .unwrap()
        .iter()
        .map(|a| a.address().unwrap())
        .collect();
    assert_eq!(to, ["bob@example.com", "carol@example.org"]);
    assert_eq!(msg.to().unwrap().first().unwrap().name(), Some("Bob"));
    let cc = msg.cc().unwrap().first().unwrap();
    assert_eq!(
        (cc.name(), cc.address()),
        (Some("Doe, Dan"), Some("dan@example.net"))
    );
    let bcc = msg.bcc().expect("Bcc is kept in the raw message");
    assert_eq!(bcc.first().unwrap().address(), Some("audit@example.com"));
    assert_eq!(
        msg.reply_to().unwrap().first().unwrap().address(),
        Some("support@example.com")
    );

    assert_eq!(msg.subject(), Some("Grüße 👋 and welcome"));
    assert_eq!(msg.date().unwrap().to_timestamp(), date().timestamp());
    assert_eq!(msg.header_raw("X-Campaign").map(str::trim), Some("spring"));
    assert_eq!(
        msg.header_raw("List-Unsubscribe").map(str::trim),
        Some("<mailto:unsubscribe@example.com>")
    );
}

#[test]
fn message_id_is_message_id_for() {
    let job = full_job();
    let rendered = job.render(date()).unwrap();
    let expected = message_id_for(&job.id(), job.from());
    assert_eq!(expected, "<01HZX3Q4J5N6P7R8S9T0V1W2X3@example.com>");
    assert_eq!(rendered.message_id, expected);
    let msg = parse(&rendered.bytes);
    assert_eq!(Some(expected.trim_matches(['<', '>'])), msg.message_id());
    assert!(header_block(&rendered.bytes).contains(&format!("\r\nMessage-ID: {expected}\r\n")));
}

#[test]
fn message_id_uses_the_ascii_form_of_an_idn_domain() {
    let job = full_job();
    let from = addr("Bücher <info@bücher.example>");
    assert_eq!(
        message_id_for(&job.id(), &from),
        "<01HZX3Q4J5N6P7R8S9T0V1W2X3@xn--bcher-kva.example>"
    );
}

#[test]
fn non_ascii_headers_are_encoded_and_decode_back() {
    let rendered = full_job().render(date()).unwrap();
    let headers = header_block(&rendered.bytes);
    assert!(headers.is_ascii(), "{headers}");
    assert!(headers.contains("=?utf-8?"), "{headers}");
    assert!(rendered.bytes.is_ascii(), "the whole message is 7-bit");
    let msg = parse(&rendered.bytes);
    assert_eq!(msg.subject(), Some("Grüße 👋 and welcome"));
    assert_eq!(
        msg.from().unwrap().first().unwrap().name(),
        Some("Zoë Déjà-vu")
    );
}

#[test]
fn thread_hint_sets_in_reply_to_and_references() {
    let rendered = full_job().render(date()).unwrap();
    let msg = parse(&rendered.bytes);
    assert_eq!(msg.in_reply_to().as_text(), Some("original@example.com"));
    let refs: Vec<_> = msg
        .references()
        .as_text_list()
        .unwrap()
        .iter()
        .map(|r| r.to_string())
        .collect();
    assert_eq!(refs, ["root@example.com", "original@example.com"]);
    let headers = header_block(&rendered.bytes);
    assert!(
        headers.contains("\r\nIn-Reply-To: <original@example.com>\r\n"),
        "{headers}"
    );
    assert!(headers.contains("\r\nReferences: <root@example.com> <original@example.com>\r\n"));
}

#[test]
fn bcc_only_recipients_render() {
    let mut job = simple_job();
    job.to.clear();
    job.bcc.push(addr("hidden@example.com"));
    let bytes = job.render(date()).unwrap().bytes;
    assert!(header_block(&bytes).contains("\r\nBcc: hidden@example.com\r\n"));
    assert!(!header_block(&bytes).contains("\r\nTo:"));
}

#[test]
fn render_refuses_what_cannot_be_a_message() {
    let mut job = simple_job();
    job.headers.insert("Subject".into(), "sneaky".into());
    assert!(matches!(
        job.render(date()),
        Err(RenderError::InvalidHeader { .. })
    ));

    let mut job = simple_job();
    job.attachments.push(Attachment::new("a", "nonsense", "x"));
    assert!(matches!(
        job.render(date()),
        Err(RenderError::InvalidContentType { index: 0, .. })
    ));

    let early = Utc.with_ymd_and_hms(1969, 12, 31, 23, 59, 59).unwrap();
    assert!(matches!(
        simple_job().render(early),
        Err(RenderError::DateOutOfRange(_))
    ));

    let mut job = simple_job();
    job.to.clear();
    assert!(matches!(job.render(date()), Err(RenderError::Build(_))));
}

#[test]
fn header_values_cannot_inject_headers() {
    // validate() refuses these; render() still keeps them on one header line.
    let mut job = simple_job();
    job.subject = "hi\r\nBcc: victim@example.com".into();
    job.headers
        .insert("X-Note".into(), "a\r\nX-Injected: yes".into());
    let bytes = job.render(date()).unwrap().bytes;
    let headers = header_block(&bytes);
    assert!(!headers.contains("\r\nBcc:"), "{headers}");
    assert!(!headers.contains("\r\nX-Injected:"), "{headers}");
}

#[test]
fn header_order_and_date_format() {
    let job = EmailJob::V1(simple_job());
    let bytes = job.render(date()).unwrap().bytes;
    let names: Vec<_> = header_block(&bytes)
        .lines()
        .filter_map(|line| line.split_once(':').map(|(name, _)| name))
        .filter(|name| !name.starts_with(' '))
        .collect();
    assert_eq!(
        names,
        [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "MIME-Version",
            "Content-Type",
            "Content-Transfer-Encoding"
        ]
    );
    assert!(header_block(&bytes).contains("\r\nDate: Tue, 05 Mar 2024 14:30:09 +0000\r\n"));
}

#[test]
fn reply_hint_threads_the_message() {
    let mut job = simple_job();
    job.thread = Some(ThreadHint::reply_to("<x@example.com>").with_thread_id("abc"));
    let bytes = job.render(date()).unwrap().bytes;
    let msg = parse(&bytes);
    assert_eq!(msg.in_reply_to().as_text(), Some("x@example.com"));
    assert_eq!(msg.references().as_text(), Some("x@example.com"));
    assert!(
        !header_block(&bytes).contains("abc"),
        "the Gmail thread id is not a header"
    );
}
