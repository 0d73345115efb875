//! Rendered MIME structure and bodies, checked by parsing the output back
//! with mail-parser.

mod common;

use common::{
    addr, all_bytes, children, date, full_job, header_block, lf, mime, parse, simple_job,
};
use mail_parser::MimeHeaders;
use mailroom_jobs::{Attachment, EmailJobV1};

#[test]
fn text_only_is_text_plain() {
    let mut job = simple_job();
    job.text = Some("Hello,\nplain world. Ünïcode too.\n".into());
    let rendered = job.render(date()).unwrap();
    let msg = parse(&rendered.bytes);
    assert_eq!(mime(msg.root_part()), "text/plain");
    assert_eq!(msg.text_body_count(), 1);
    assert_eq!(
        lf(&msg.body_text(0).unwrap()),
        "Hello,\nplain world. Ünïcode too.\n"
    );
    assert_eq!(msg.attachment_count(), 0);
    assert!(header_block(&rendered.bytes).contains("\r\nMIME-Version: 1.0\r\n"));
}

#[test]
fn html_only_is_text_html() {
    let mut job = simple_job();
    job.text = None;
    job.html = Some("<p>Hello <b>world</b></p>".into());
    let msg_bytes = job.render(date()).unwrap().bytes;
    let msg = parse(&msg_bytes);
    assert_eq!(mime(msg.root_part()), "text/html");
    assert_eq!(msg.body_html(0).unwrap(), "<p>Hello <b>world</b></p>");
}

#[test]
fn text_and_html_are_multipart_alternative() {
    let mut job = simple_job();
    job.text = Some("plain version".into());
    job.html = Some("<p>html version</p>".into());
    let bytes = job.render(date()).unwrap().bytes;
    let msg = parse(&bytes);
    assert_eq!(mime(msg.root_part()), "multipart/alternative");
    let parts = children(&msg, msg.root_part());
    assert_eq!(
        parts.iter().map(|p| mime(p)).collect::<Vec<_>>(),
        ["text/plain", "text/html"]
    );
    assert_eq!(msg.body_text(0).unwrap(), "plain version");
    assert_eq!(msg.body_html(0).unwrap(), "<p>html version</p>");
}

#[test]
fn attachments_are_multipart_mixed_with_identical_bytes() {
    let bytes = all_bytes();
    let job = EmailJobV1::builder(addr("a@example.com"))
        .to(addr("b@example.com"))
        .subject("files")
        .text("see attached")
        .html("<p>see attached</p>")
        .attachment(Attachment::new(
            "résumé.pdf",
            "application/pdf",
            bytes.clone(),
        ))
        .attachment(Attachment::new(
            "notes.txt",
            "text/plain",
            "line one\nline two\n",
        ))
        .build();
    let rendered = job.render(date()).unwrap();
    let msg = parse(&rendered.bytes);
    assert_eq!(mime(msg.root_part()), "multipart/mixed");
    let parts = children(&msg, msg.root_part());
    let kinds: Vec<_> = parts.iter().map(|p| mime(p)).collect();
    assert_eq!(
        kinds,
        ["multipart/alternative", "application/pdf", "text/plain"]
    );

    assert_eq!(msg.attachment_count(), 2);
    let pdf = msg.attachment(0).unwrap();
    assert_eq!(pdf.attachment_name(), Some("résumé.pdf"));
    assert_eq!(pdf.contents(), bytes.as_slice());
    let notes = msg.attachment(1).unwrap();
    assert_eq!(notes.attachment_name(), Some("notes.txt"));
    assert_eq!(
        notes.contents(),
        b"line one\nline two\n",
        "bytes kept exactly, LF included"
    );
    assert_eq!(msg.body_text(0).unwrap(), "see attached");
    assert!(header_block(&rendered.bytes).is_ascii());
}

#[test]
fn attachments_without_a_body() {
    let job = EmailJobV1::builder(addr("a@example.com"))
        .to(addr("b@example.com"))
        .subject("just a file")
        .attachment(Attachment::new(
            "a.bin",
            "application/octet-stream",
            vec![1, 2, 3],
        ))
        .build();
    let bytes = job.render(date()).unwrap().bytes;
    let msg = parse(&bytes);
    assert_eq!(mime(msg.root_part()), "multipart/mixed");
    assert_eq!(msg.attachment(0).unwrap().contents(), [1, 2, 3]);
}

#[test]
fn inline_attachments_are_multipart_related() {
    let rendered = full_job().render(date()).unwrap();
    let msg = parse(&rendered.bytes);
    assert_eq!(mime(msg.root_part()), "multipart/mixed");
    let outer = children(&msg, msg.root_part());
    assert_eq!(mime(outer[0]), "multipart/related");
    assert_eq!(mime(outer[1]), "application/pdf");
    let related = children(&msg, outer[0]);
    assert_eq!(mime(related[0]), "multipart/alternative");
    assert_eq!(mime(related[1]), "image/png");
    assert_eq!(related[1].content_id(), Some("logo"));
    assert_eq!(related[1].contents(), [0x89, b'P', b'N', b'G']);
}
