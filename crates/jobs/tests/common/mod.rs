//! Helpers shared by the integration tests.

#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use mail_parser::{Message, MessageParser, MessagePart, MimeHeaders};
use mailroom_jobs::{Address, Attachment, EmailJob, EmailJobV1, JobId, ThreadHint};

/// Parses an address, panicking on failure.
pub fn addr(s: &str) -> Address {
    Address::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// A fixed instant for rendering.
pub fn date() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 5, 14, 30, 9).unwrap()
}

/// Every byte value, twice.
pub fn all_bytes() -> Vec<u8> {
    (0..=255u8).chain((0..=255u8).rev()).collect()
}

/// A job with every field set.
pub fn full_job() -> EmailJob {
    let mut job = EmailJobV1::builder(addr("Zoë Déjà-vu <zoe@example.com>"))
        .id("01HZX3Q4J5N6P7R8S9T0V1W2X3".parse::<JobId>().unwrap())
        .idempotency_key("order-1234-confirmation")
        .to(addr("Bob <bob@example.com>"))
        .to(addr("carol@example.org"))
        .cc(addr("\"Doe, Dan\" <dan@example.net>"))
        .bcc(addr("audit@example.com"))
        .reply_to(addr("Support <support@example.com>"))
        .subject("Grüße 👋 and welcome")
        .text("Hello Bob,\nyour order shipped.\n")
        .html("<p>Hello Bob,<br>your order <b>shipped</b>.</p><img src=\"cid:logo\">")
        .attachment(Attachment::new(
            "résumé.pdf",
            "application/pdf",
            all_bytes(),
        ))
        .attachment(
            Attachment::new("logo.png", "image/png", vec![0x89, b'P', b'N', b'G']).inline("logo"),
        )
        .header("X-Campaign", "spring")
        .header("List-Unsubscribe", "<mailto:unsubscribe@example.com>")
        .send_at(Utc.with_ymd_and_hms(2024, 3, 5, 15, 0, 0).unwrap())
        .expires_at(
            Utc.with_ymd_and_hms(2024, 3, 6, 15, 0, 0).unwrap()
                + chrono::Duration::milliseconds(250),
        )
        .metadata("order", "1234")
        .metadata("tenant", "acme")
        .tag("transactional")
        .tag("orders")
        .thread(ThreadHint::reply_to("<original@example.com>").with_thread_id("18c2f0a1b2c3d4e5"))
        .build();
    job.v1_mut()
        .thread
        .as_mut()
        .unwrap()
        .references
        .insert(0, "<root@example.com>".into());
    job
}

/// A small valid job: text only, one recipient.
pub fn simple_job() -> EmailJobV1 {
    EmailJobV1::builder(addr("Sender <sender@example.com>"))
        .to(addr("bob@example.com"))
        .subject("hi")
        .text("x")
        .build_v1()
}

/// Parses a rendered message.
pub fn parse(bytes: &[u8]) -> Message<'_> {
    MessageParser::default()
        .parse(bytes)
        .expect("rendered message parses")
}

/// The header block of a rendered message (up to the blank line).
pub fn header_block(bytes: &[u8]) -> &str {
    let text = std::str::from_utf8(bytes).expect("rendered message is UTF-8");
    &text[..text
        .find("\r\n\r\n")
        .expect("headers end with a blank line")]
}

/// `type/subtype` of a part.
pub fn mime(part: &MessagePart<'_>) -> String {
    let ct = part.content_type().expect("part has a content type");
    format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default())
}

/// The child parts of a multipart.
pub fn children<'a>(message: &'a Message<'a>, part: &MessagePart<'_>) -> Vec<&'a MessagePart<'a>> {
    part.sub_parts()
        .expect("a multipart")
        .iter()
        .map(|&id| message.part(id).expect("child exists"))
        .collect()
}

/// The text with CRLF line ends turned into LF.
pub fn lf(s: &str) -> String {
    s.replace("\r\n", "\n")
}
