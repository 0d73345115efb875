//! Reading a rendered job back with mail-parser and comparing it with the
//! job, field by field.

use base64::Engine as _;
use chrono::{DateTime, Utc};
use mail_parser::{HeaderName, Message, MessageParser, MessagePart, MimeHeaders, PartType};
use mailroom_jobs::{Address, Attachment, EmailJobV1, Rendered, message_id_for};
use proptest::prelude::*;

/// The MIME tree a job should render to, as documented on
/// `EmailJobV1::render`.
#[derive(Debug)]
enum Expected<'a> {
    Text(&'a str),
    Html(&'a str),
    Attachment(&'a Attachment),
    Multipart(&'static str, Vec<Expected<'a>>),
}

fn expected_tree(job: &EmailJobV1) -> Expected<'_> {
    fn present(s: &Option<String>) -> Option<&str> {
        s.as_deref().filter(|s| !s.is_empty())
    }
    let mut content = match (present(&job.text), present(&job.html)) {
        (Some(text), Some(html)) => Some(Expected::Multipart(
            "alternative",
            vec![Expected::Text(text), Expected::Html(html)],
        )),
        (Some(text), None) => Some(Expected::Text(text)),
        (None, Some(html)) => Some(Expected::Html(html)),
        (None, None) => None,
    };
    let (inline, attached): (Vec<_>, Vec<_>) =
        job.attachments.iter().partition(|a| a.content_id.is_some());
    for (subtype, parts) in [("related", inline), ("mixed", attached)] {
        if !parts.is_empty() {
            let children = content
                .into_iter()
                .chain(parts.into_iter().map(Expected::Attachment))
                .collect();
            content = Some(Expected::Multipart(subtype, children));
        }
    }
    content.unwrap_or(Expected::Text(""))
}

/// Renders `job` at `date`, checks the message is well formed, parses it
/// with mail-parser and compares every field with the job.
pub fn check(job: &EmailJobV1, date: DateTime<Utc>) -> Result<(), TestCaseError> {
    let rendered = job
        .render(date)
        .map_err(|e| TestCaseError::fail(format!("render failed: {e}")))?;
    compare(job, date, &rendered).map_err(|e| {
        let reason = match e {
            TestCaseError::Fail(reason) | TestCaseError::Reject(reason) => reason,
        };
        let text = String::from_utf8_lossy(&rendered.bytes);
        let shown: String = text.chars().take(6000).collect();
        TestCaseError::fail(format!("{reason}\n--- rendered message ---\n{shown}"))
    })
}

fn compare(
    job: &EmailJobV1,
    date: DateTime<Utc>,
    rendered: &Rendered,
) -> Result<(), TestCaseError> {
    well_formed(job, &rendered.bytes)?;
    // Extra headers are unstructured text: decode their encoded words too.
    let msg = MessageParser::new()
        .with_mime_headers()
        .with_date_headers()
        .with_address_headers()
        .with_message_ids()
        .header_text(HeaderName::Subject)
        .default_header_text()
        .parse(&rendered.bytes)
        .ok_or_else(|| TestCaseError::fail("mail-parser cannot parse the message"))?;

    prop_assert_eq!(mailboxes(msg.from()), vec![mailbox(&job.from)], "From");
    for (name, parsed, expected) in [
        ("To", msg.to(), &job.to),
        ("Cc", msg.cc(), &job.cc),
        // Bcc is kept in the message: the Gmail API reads recipients from it.
        ("Bcc", msg.bcc(), &job.bcc),
        ("Reply-To", msg.reply_to(), &job.reply_to),
    ] {
        let expected: Vec<_> = expected.iter().map(mailbox).collect();
        prop_assert_eq!(mailboxes(parsed), expected, "{}", name);
    }
    prop_assert_eq!(
        msg.subject().unwrap_or_default(),
        job.subject.as_str(),
        "Subject"
    );
    prop_assert_eq!(msg.date().map(|d| d.to_timestamp()), Some(date.timestamp()));

    let message_id = message_id_for(&job.id, &job.from);
    prop_assert_eq!(&rendered.message_id, &message_id);
    prop_assert_eq!(msg.message_id(), Some(bare_id(&message_id)));
    let thread = job.thread.clone().unwrap_or_default();
    prop_assert_eq!(
        msg.in_reply_to().as_text(),
        thread.in_reply_to.as_deref().map(bare_id)
    );
    let references: Vec<&str> = thread.references.iter().map(|r| bare_id(r)).collect();
    let parsed_references: Vec<&str> = msg
        .references()
        .as_text_list()
        .unwrap_or_default()
        .iter()
        .map(|r| r.as_ref())
        .collect();
    prop_assert_eq!(parsed_references, references);

    for (name, value) in &job.headers {
        let header = msg
            .headers()
            .iter()
            .find(|h| h.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| TestCaseError::fail(format!("header {name} missing")))?;
        if printable(value) {
            // Printable ASCII goes out as given, so that structured values
            // (and encoded words a caller wrote) pass unchanged: compare
            // the field as written, unfolded (RFC 5322 §2.2.3), after the
            // space that follows the colon.
            let raw = &msg.raw_message()[header.offset_start as usize..header.offset_end as usize];
            let raw = String::from_utf8_lossy(raw).replace("\r\n", "");
            prop_assert_eq!(
                raw.strip_prefix(' '),
                Some(value.as_str()),
                "header {}",
                name
            );
        } else {
            let parsed = header.value().as_text().unwrap_or_default();
            prop_assert_eq!(parsed, value.as_str(), "header {}", name);
        }
    }
    only_expected_headers(job, &msg)?;

    compare_part(&msg, msg.root_part(), &expected_tree(job))
}

/// RFC 5322 §2.1 to §2.3: CR and LF only as CRLF, no NUL, lines of at most
/// 998 octets, header fields of printable US-ASCII and white space (UTF-8
/// only inside internationalized addresses, RFC 6532), and a 7-bit body.
fn well_formed(job: &EmailJobV1, bytes: &[u8]) -> Result<(), TestCaseError> {
    prop_assert!(!bytes.contains(&0), "NUL in the message");
    let text = std::str::from_utf8(bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    for (i, line) in text.split("\r\n").enumerate() {
        prop_assert!(!line.contains(['\r', '\n']), "bare CR or LF on line {}", i);
        prop_assert!(line.len() <= 998, "line {} has {} octets", i, line.len());
    }
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| TestCaseError::fail("no blank line after the header"))?;
    prop_assert!(body.is_ascii(), "8-bit body");
    let mut head = head.replace("\r\n", "");
    for address in std::iter::once(&job.from)
        .chain(job.recipients())
        .chain(&job.reply_to)
    {
        head = head.replace(address.email(), "");
    }
    let stray = head
        .chars()
        .find(|&c| c != '\t' && !(' '..='~').contains(&c));
    prop_assert_eq!(stray, None, "header character outside printable ASCII");
    Ok(())
}

/// Checks the top-level header names: each expected one once, nothing else.
fn only_expected_headers(job: &EmailJobV1, msg: &Message<'_>) -> Result<(), TestCaseError> {
    let thread = job.thread.clone().unwrap_or_default();
    let mut expected: Vec<String> = ["From", "Subject", "Date", "Message-ID", "MIME-Version"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    for (name, present) in [
        ("To", !job.to.is_empty()),
        ("Cc", !job.cc.is_empty()),
        ("Bcc", !job.bcc.is_empty()),
        ("Reply-To", !job.reply_to.is_empty()),
        ("In-Reply-To", thread.in_reply_to.is_some()),
        ("References", !thread.references.is_empty()),
    ] {
        if present {
            expected.push(name.to_owned());
        }
    }
    expected.extend(job.headers.keys().cloned());
    let mut parsed: Vec<String> = msg
        .headers()
        .iter()
        .map(|h| h.name().to_owned())
        // The root's own MIME headers depend on the body.
        .filter(|name| !name.to_ascii_lowercase().starts_with("content-"))
        .collect();
    let key = |s: &String| s.to_ascii_lowercase();
    expected.sort_by_key(key);
    parsed.sort_by_key(key);
    let lower = |v: &[String]| v.iter().map(key).collect::<Vec<_>>();
    prop_assert_eq!(lower(&parsed), lower(&expected));
    Ok(())
}

fn compare_part(
    msg: &Message<'_>,
    part: &MessagePart<'_>,
    expected: &Expected<'_>,
) -> Result<(), TestCaseError> {
    match expected {
        Expected::Multipart(subtype, children) => {
            prop_assert_eq!(mime(part), format!("multipart/{subtype}"));
            let ids = part.sub_parts().unwrap_or_default();
            prop_assert_eq!(ids.len(), children.len(), "parts of multipart/{}", subtype);
            for (id, child) in ids.iter().zip(children) {
                let child_part = msg
                    .part(*id)
                    .ok_or_else(|| TestCaseError::fail("missing part"))?;
                compare_part(msg, child_part, child)?;
            }
        }
        Expected::Text(text) | Expected::Html(text) => {
            let kind = if matches!(expected, Expected::Text(_)) {
                "text/plain"
            } else {
                "text/html"
            };
            prop_assert_eq!(mime(part), kind);
            prop_assert!(part.content_disposition().is_none());
            // RFC 2046 §4.1.1: text travels in canonical form, with CRLF line
            // breaks, so the reader sees CRLF where the job had LF.
            prop_assert_eq!(
                lf(part.text_contents().unwrap_or_default()),
                lf(text),
                "{} body",
                kind
            );
        }
        Expected::Attachment(attachment) => compare_attachment(msg, part, attachment)?,
    }
    Ok(())
}

fn compare_attachment(
    msg: &Message<'_>,
    part: &MessagePart<'_>,
    attachment: &Attachment,
) -> Result<(), TestCaseError> {
    // RFC 2045 §5.1: type, subtype and parameter names ignore case.
    let (essence, params) = attachment
        .content_type
        .split_once(';')
        .unwrap_or((&attachment.content_type, ""));
    prop_assert_eq!(mime(part), essence.trim().to_ascii_lowercase());
    let content_type = part.content_type().expect("checked by mime()");
    for param in params.split(';').filter(|p| !p.trim().is_empty()) {
        let (name, value) = param.split_once('=').expect("name=value");
        prop_assert_eq!(
            content_type.attribute(&name.trim().to_ascii_lowercase()),
            Some(value.trim())
        );
    }

    let disposition = part
        .content_disposition()
        .map(|d| d.ctype().to_ascii_lowercase());
    let kind = if attachment.content_id.is_some() {
        "inline"
    } else {
        "attachment"
    };
    prop_assert_eq!(disposition.as_deref(), Some(kind));
    // A printable ASCII file name goes out as a quoted string, in which
    // RFC 2047 §5 forbids encoded words; mail-parser decodes them anyway (as
    // many readers do, for senders that put them there), so a name holding
    // `=?` may read back decoded from a correct message.
    if !attachment.filename.contains("=?") {
        prop_assert_eq!(part.attachment_name(), Some(attachment.filename.as_str()));
    }
    prop_assert_eq!(part.content_id(), attachment.content_id.as_deref());

    // The parser decodes text/* parts to text (lossily), so the bytes are
    // checked on the transfer encoding the parser located: base64.
    let encoding = part
        .content_transfer_encoding()
        .map(str::to_ascii_lowercase);
    prop_assert_eq!(encoding.as_deref(), Some("base64"));
    let raw = &msg.raw_message()[part.raw_body_offset() as usize..part.raw_end_offset() as usize];
    let base64: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&base64)
        .map_err(|e| TestCaseError::fail(format!("attachment base64: {e}")))?;
    prop_assert_eq!(&decoded, &attachment.content);
    if let PartType::Binary(bytes) | PartType::InlineBinary(bytes) = &part.body {
        prop_assert_eq!(bytes.as_ref(), attachment.content.as_slice());
    }
    Ok(())
}

/// `(display name, addr-spec)` as the job holds them.
fn mailbox(address: &Address) -> (Option<String>, String) {
    (
        address.name().map(str::to_owned),
        address.email().to_owned(),
    )
}

/// `(display name, addr-spec)` of every address in a parsed header.
fn mailboxes(parsed: Option<&mail_parser::Address<'_>>) -> Vec<(Option<String>, String)> {
    parsed
        .map(|list| {
            list.iter()
                .map(|a| {
                    (
                        a.name().map(str::to_owned),
                        a.address().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn bare_id(id: &str) -> &str {
    id.trim_start_matches('<').trim_end_matches('>')
}

fn mime(part: &MessagePart<'_>) -> String {
    part.content_type().map_or_else(String::new, |ct| {
        format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or_default()).to_ascii_lowercase()
    })
}

fn printable(s: &str) -> bool {
    s.chars().all(|c| c == '\t' || (' '..='~').contains(&c))
}

fn lf(s: &str) -> String {
    s.replace("\r\n", "\n")
}
