//! Strategies generating valid jobs and the text that goes into them.

use std::collections::BTreeSet;

use chrono::{DateTime, TimeZone, Utc};
use mailroom_jobs::{Address, Attachment, EmailJobV1, JobId, RESERVED_HEADERS, ThreadHint};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;
use ulid::Ulid;

/// Characters that stress header encoding: MIME specials, quotes, encoded-word
/// markers, non-ASCII of every width, invisible and control characters other
/// than CR, LF and NUL (which validation refuses in headers).
fn header_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => proptest::char::range(' ', '~'),
        2 => select(&[
            '"', '\\', ',', ';', ':', '<', '>', '@', '(', ')', '[', ']', '=', '?', '_', '\t', ' ',
        ][..]),
        2 => select(&[
            'é', 'ß', 'Ω', 'ж', '中', '👋', 'א', '\u{a0}', '\u{200b}', '\u{fffd}', '\u{85}',
            '\u{2028}', '\u{1}', '\u{7f}', '\u{1b}',
        ][..]),
        1 => any::<char>(),
    ]
    .prop_filter("no CR, LF or NUL", |c| !matches!(c, '\r' | '\n' | '\0'))
}

/// One-line text for subjects, header values and file names: runs of
/// [`header_char`], words too long for one folded line and encoded-word
/// look-alikes.
fn header_text(max_segments: usize) -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        6 => vec(header_char(), 1..12).prop_map(String::from_iter),
        1 => repeated("[a-zA-Z0-9]{1,10}", 60..120),
        1 => repeated("[a-zA-Z0-9]{1,10}", 990..1100),
        1 => select(&["=?utf-8?q?x?=", "=?", "?=", "  ", "\t", "=?UTF-8?B?SGk=?=", " =?x?q?_?= "][..])
            .prop_map(str::to_owned),
    ];
    mostly_ascii(vec(segment, 0..max_segments))
}

/// Body text: any characters, LF and CRLF line ends, long lines, trailing
/// white space and lines that mean something to MIME or SMTP.
fn body_text() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        6 => vec(any::<char>().prop_filter("line ends come from the other segments", |c| {
            !matches!(c, '\r' | '\n')
        }), 1..30)
        .prop_map(String::from_iter),
        3 => select(&["\n", "\r\n", "\n\n", "\r\n\r\n", " \n", "\t\r\n", "\n.\n", "\nFrom me\n", "\n--\n", "=\n", "=3D", "\r", "\0"][..])
            .prop_map(str::to_owned),
        1 => repeated("[ -~]{1,10}", 70..1200),
        1 => "[a-zA-Zäöü ]{0,40}",
    ];
    mostly_ascii(vec(segment, 0..24))
}

/// The segments joined, in half the cases with every character dropped
/// that is not printable ASCII, white space or a line end: plain ASCII takes
/// other paths through the encoders than the rest.
fn mostly_ascii(segments: impl Strategy<Value = Vec<String>>) -> impl Strategy<Value = String> {
    (segments, any::<bool>()).prop_map(|(segments, ascii)| {
        let text = segments.concat();
        if ascii {
            text.chars()
                .filter(|c| matches!(c, ' '..='~' | '\t' | '\r' | '\n' | '\0'))
                .collect()
        } else {
            text
        }
    })
}

/// `unit` repeated up to a length in `len` (cheaper than generating every
/// character of a long string).
fn repeated(unit: &'static str, len: std::ops::Range<usize>) -> impl Strategy<Value = String> {
    (unit, len).prop_map(|(unit, len)| unit.chars().cycle().take(len).collect())
}

/// `len` pseudo-random bytes from `seed` (xorshift64*), for attachments too
/// big to generate byte by byte.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
        })
        .collect()
}

/// A display name: header text without control characters other than tab
/// (the [`Address`] constructors refuse them).
fn display_name() -> impl Strategy<Value = Option<String>> {
    let char = header_char().prop_filter("no control characters but tab", |c| {
        *c == '\t' || !c.is_control()
    });
    let segment = prop_oneof![
        4 => vec(char, 1..8).prop_map(String::from_iter),
        1 => select(&["=?utf-8?q?x?=", "=?UTF-8?B?SGk=?=", "  ", "\t", "\"", "\\"][..])
            .prop_map(str::to_owned),
    ];
    proptest::option::of(vec(segment, 0..5).prop_map(|segments| segments.concat()))
}

/// An addr-spec: a dot-atom local part (or a non-ASCII one) at an ASCII or
/// internationalized domain.
fn email() -> impl Strategy<Value = String> {
    let atom = "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,8}";
    let local = prop_oneof![
        6 => vec(atom, 1..3).prop_map(|atoms| atoms.join(".")),
        1 => "[a-zé中ж]{1,8}",
    ];
    let label = prop_oneof![
        6 => "[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?",
        1 => select(&["bücher", "пример", "例え", "münchen", "ελληνικά"][..]).prop_map(str::to_owned),
    ];
    let domain = (vec(label, 1..3), "[a-z]{2,6}").prop_map(|(mut labels, tld)| {
        labels.push(tld);
        labels.join(".")
    });
    (local, domain).prop_map(|(local, domain)| format!("{local}@{domain}"))
}

/// A valid address with or without a display name.
fn address() -> impl Strategy<Value = Address> {
    (display_name(), email()).prop_filter_map("the address parses", |(name, email)| {
        Address::new(name.as_deref(), &email).ok()
    })
}

/// A `<msg-id>` as validation accepts it: printable ASCII without spaces or
/// angle brackets.
fn msg_id() -> impl Strategy<Value = String> {
    "[!-;=?-~]{1,30}".prop_map(|id| format!("<{id}>"))
}

/// A MIME type an attachment may have.
fn content_type() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => select(&[
            "application/pdf",
            "application/octet-stream",
            "image/png",
            "text/plain",
            "text/csv; charset=utf-8",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "audio/x-wav",
            "font/woff2",
        ][..])
        .prop_map(str::to_owned),
        1 => "[a-z]{1,10}/[a-z0-9.+-]{1,15}",
    ]
    .prop_filter("not multipart", |t| !t.starts_with("multipart/"))
}

/// An attachment with random bytes, a random non-blank name and maybe a
/// content id.
fn attachment() -> impl Strategy<Value = Attachment> {
    let content = prop_oneof![
        4 => vec(any::<u8>(), 0..256),
        1 => (any::<u64>(), 256usize..8192).prop_map(|(seed, len)| noise(seed, len)),
    ];
    (
        header_text(6).prop_filter("a non-blank file name", |name| !name.trim().is_empty()),
        content_type(),
        content,
        proptest::option::of("[!-;=?-~]{1,30}"),
    )
        .prop_map(|(name, content_type, content, cid)| {
            let attachment = Attachment::new(name, content_type, content);
            match cid {
                Some(cid) => attachment.inline(cid),
                None => attachment,
            }
        })
}

/// Whether `name` may be an extra header: not one the job sets itself.
fn unreserved(name: &str) -> bool {
    !RESERVED_HEADERS
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
        && !name.to_ascii_lowercase().starts_with("content-")
}

/// Whether a header line can hold `value` as it is: printable ASCII goes
/// out unencoded and folds only at spaces, so no word of it may be longer
/// than what fits after `Name: ` in 998 octets.
fn fits(name: &str, value: &str) -> bool {
    let printable = value.chars().all(|c| c == '\t' || (' '..='~').contains(&c));
    let longest = value.split(' ').map(str::len).max().unwrap_or(0);
    !printable || name.len() + ": ".len() + longest <= 998
}

/// Extra headers: `X-` names made of any field-name character, unique
/// ignoring case, with one-line values.
fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    vec(("X-[!-9;-~]{1,20}", header_text(5)), 0..4).prop_map(|pairs| {
        let mut seen = BTreeSet::new();
        pairs
            .into_iter()
            .filter(|(name, value)| {
                unreserved(name) && fits(name, value) && seen.insert(name.to_ascii_lowercase())
            })
            .collect()
    })
}

fn thread() -> impl Strategy<Value = Option<ThreadHint>> {
    proptest::option::of(
        (
            proptest::option::of("[0-9a-f]{8,16}"),
            proptest::option::of(msg_id()),
            vec(msg_id(), 0..4),
        )
            .prop_map(|(thread_id, in_reply_to, references)| ThreadHint {
                thread_id,
                in_reply_to,
                references,
            }),
    )
}

/// A `Date` the message can carry: 1970 to 9999.
pub fn date() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..=253_402_300_799).prop_map(|secs| Utc.timestamp_opt(secs, 0).unwrap())
}

/// Fields that validation checks but rendering ignores: an idempotency key
/// of 1 to 200 characters, `send_at` no later than `expires_at`, metadata
/// and tags.
#[derive(Debug, Clone)]
struct Bookkeeping {
    idempotency_key: Option<String>,
    send_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    metadata: Vec<(String, String)>,
    tags: Vec<String>,
}

fn bookkeeping() -> impl Strategy<Value = Bookkeeping> {
    let key_char =
        any::<char>().prop_filter("no CR, LF or NUL", |c| !matches!(c, '\r' | '\n' | '\0'));
    (
        proptest::option::of(vec(key_char, 1..=200).prop_map(String::from_iter)),
        proptest::option::of(date()),
        proptest::option::of(0i64..1_000_000_000),
        vec((".{0,10}", ".{0,20}"), 0..3),
        vec(".{0,10}", 0..3),
    )
        .prop_map(
            |(idempotency_key, send_at, lifetime, metadata, tags)| Bookkeeping {
                idempotency_key,
                send_at,
                expires_at: lifetime.map(|secs| {
                    send_at.unwrap_or(DateTime::UNIX_EPOCH) + chrono::Duration::seconds(secs)
                }),
                metadata,
                tags,
            },
        )
}

/// A job that passes validation under the default policy.
pub fn valid_job() -> impl Strategy<Value = EmailJobV1> {
    let recipients = (
        vec(address(), 0..4),
        vec(address(), 0..3),
        vec(address(), 0..3),
        vec(address(), 0..3),
    )
        .prop_filter("at least one recipient", |(to, cc, bcc, _)| {
            !(to.is_empty() && cc.is_empty() && bcc.is_empty())
        });
    let body = (
        proptest::option::of(body_text()),
        proptest::option::of(body_text()),
        vec(attachment(), 0..4),
    )
        .prop_filter(
            "text, html or an attachment",
            |(text, html, attachments)| {
                let has = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
                has(text) || has(html) || !attachments.is_empty()
            },
        );
    let head = (
        any::<u128>(),
        address().prop_filter("a sender's address names Redis keys: no braces", |a| {
            !a.email().contains(['{', '}'])
        }),
        header_text(12),
        headers(),
        thread(),
    );
    (head, recipients, body, bookkeeping()).prop_map(
        |((id, from, subject, headers, thread), recipients, body, more)| {
            let (to, cc, bcc, reply_to) = recipients;
            let (text, html, attachments) = body;
            EmailJobV1 {
                id: JobId::from(Ulid(id)),
                idempotency_key: more.idempotency_key,
                from,
                to,
                cc,
                bcc,
                reply_to,
                subject,
                text,
                html,
                attachments,
                headers: headers.into_iter().collect(),
                send_at: more.send_at,
                expires_at: more.expires_at,
                metadata: more.metadata.into_iter().collect(),
                tags: more.tags,
                thread,
                list: None,
                transactional: false,
                template: None,
            }
        },
    )
}

/// Every top-level field of a v1 job.
pub const FIELDS: &[&str] = &[
    "version",
    "id",
    "idempotency_key",
    "from",
    "to",
    "cc",
    "bcc",
    "reply_to",
    "subject",
    "text",
    "html",
    "attachments",
    "headers",
    "send_at",
    "expires_at",
    "metadata",
    "tags",
    "thread",
    "list",
    "transactional",
    "template",
];

/// Any JSON value, strings included with control characters and any
/// Unicode, nested a few levels deep.
pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,20}".prop_map(Value::String),
        select(FIELDS).prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            vec(
                (
                    prop_oneof![select(FIELDS).prop_map(str::to_owned), ".{0,8}"],
                    inner
                ),
                0..6
            )
            .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// A value to put in place of a field: any JSON, a huge string, text full of
/// control characters, or a list of such strings.
pub fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => json_value(),
        1 => (1usize..100_000).prop_map(|n| Value::from("é".repeat(n))),
        1 => "[\\x00-\\x1f\\x7f\u{85}\u{2028}a@<>\"=?]{0,40}".prop_map(Value::from),
        1 => vec("[\\x00-\\x1f@a-z<>]{0,20}", 0..4).prop_map(Value::from),
    ]
}
