//! Valid jobs with one validation rule broken, and the field the error
//! must name.

use chrono::{DateTime, Duration};
use mailroom_jobs::{
    Attachment, EmailJobV1, Policy, RESERVED_HEADERS, SenderAllowlist, ThreadHint,
};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};

/// One rule broken, with the text that breaks it.
#[derive(Debug, Clone)]
pub enum Breakage {
    SubjectControl(char),
    NoRecipients,
    TooManyRecipients,
    SenderNotAllowed,
    IdempotencyKey(String),
    HeaderName(String),
    HeaderValueControl(char),
    HeaderValueTooLong(usize),
    HeaderNamesDifferInCase,
    EmptyMessage,
    ExpiresBeforeSend(i64),
    Filename(String),
    ContentType(String),
    ContentId(String),
    ThreadId(String),
    InReplyTo(String),
    Reference(String),
}

fn forbidden_control() -> impl Strategy<Value = char> {
    select(&['\r', '\n', '\0'][..])
}

/// Text with one forbidden control character somewhere in it.
fn with_control() -> impl Strategy<Value = String> {
    (".{0,8}", forbidden_control(), ".{0,8}").prop_map(|(a, c, b)| format!("{a}{c}{b}"))
}

fn bad_msg_id() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9@.]{1,12}",
        Just("<>".to_owned()),
        "<[a-z]{1,5}[ <>é\\x01\\x7f][a-z@.]{1,5}>",
        Just("<a@example.com> <b@example.com>".to_owned()),
        with_control().prop_map(|s| format!("<{s}>")),
    ]
}

pub fn breakage() -> impl Strategy<Value = Breakage> {
    let reserved = select(RESERVED_HEADERS).prop_flat_map(|name| {
        vec(any::<bool>(), name.len()).prop_map(move |upper| {
            name.chars()
                .zip(upper)
                .map(|(c, up)| {
                    if up {
                        c.to_ascii_uppercase()
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect::<String>()
        })
    });
    let bad_header_name = prop_oneof![
        reserved,
        "[cC]ontent-[a-zA-Z]{1,8}",
        "[a-zA-Z-]{0,5}[ :\\x00-\\x1f\\x7fé][a-zA-Z-]{0,5}",
        "X-[a-z]{75,90}",
        Just(String::new()),
    ];
    prop_oneof![
        forbidden_control().prop_map(Breakage::SubjectControl),
        Just(Breakage::NoRecipients),
        Just(Breakage::TooManyRecipients),
        Just(Breakage::SenderNotAllowed),
        prop_oneof![Just(String::new()), "é{201,260}", with_control()]
            .prop_map(Breakage::IdempotencyKey),
        bad_header_name.prop_map(Breakage::HeaderName),
        forbidden_control().prop_map(Breakage::HeaderValueControl),
        (991usize..1200).prop_map(Breakage::HeaderValueTooLong),
        Just(Breakage::HeaderNamesDifferInCase),
        Just(Breakage::EmptyMessage),
        (1i64..1_000_000).prop_map(Breakage::ExpiresBeforeSend),
        prop_oneof!["[ \\t]{0,4}", with_control()].prop_map(Breakage::Filename),
        prop_oneof![
            select(
                &[
                    "",
                    "nonsense",
                    "text",
                    "text/",
                    "/plain",
                    "*/*",
                    "image/*",
                    "multipart/mixed",
                    "Multipart/Related; type=x"
                ][..]
            )
            .prop_map(str::to_owned),
            with_control().prop_map(|s| format!("text/plain{s}")),
        ]
        .prop_map(Breakage::ContentType),
        prop_oneof![
            Just(String::new()),
            "[a-z]{0,5}[ <>é\\x01\\x7f][a-z@.]{0,5}",
            with_control()
        ]
        .prop_map(Breakage::ContentId),
        prop_oneof![Just(String::new()), with_control()].prop_map(Breakage::ThreadId),
        bad_msg_id().prop_map(Breakage::InReplyTo),
        bad_msg_id().prop_map(Breakage::Reference),
    ]
}

impl Breakage {
    /// Breaks `job`'s rule; returns the job, the policy to check it against
    /// and the field the error must name.
    pub fn apply(self, mut job: EmailJobV1, at: Index) -> (EmailJobV1, Policy, String) {
        let mut policy = Policy::default();
        let field = match self {
            Self::SubjectControl(c) => {
                let mut chars: Vec<char> = job.subject.chars().collect();
                chars.insert(at.index(chars.len() + 1), c);
                job.subject = chars.into_iter().collect();
                "subject".to_owned()
            }
            Self::NoRecipients => {
                (job.to, job.cc, job.bcc) = (vec![], vec![], vec![]);
                "to".to_owned()
            }
            Self::TooManyRecipients => {
                policy.max_recipients = job.recipients().count() - 1;
                "to".to_owned()
            }
            Self::SenderNotAllowed => {
                let other = format!("*@not-{}", job.from.domain());
                policy.allowed_senders = Some(SenderAllowlist::new([other]).unwrap());
                "from".to_owned()
            }
            Self::IdempotencyKey(key) => {
                job.idempotency_key = Some(key);
                "idempotency_key".to_owned()
            }
            Self::HeaderName(name) => {
                job.headers.insert(name.clone(), "value".into());
                format!("headers[{name}]")
            }
            Self::HeaderValueControl(c) => {
                job.headers.insert("X-Broken".into(), format!("a{c}b"));
                "headers[X-Broken]".to_owned()
            }
            Self::HeaderValueTooLong(len) => {
                // `X-Long: ` leaves 990 octets of a line for the longest word.
                let value = format!("short {} words", "w".repeat(len));
                job.headers.insert("X-Long".into(), value);
                "headers[X-Long]".to_owned()
            }
            Self::HeaderNamesDifferInCase => {
                job.headers
                    .retain(|name, _| !name.eq_ignore_ascii_case("X-Twice"));
                job.headers.insert("X-Twice".into(), "1".into());
                job.headers.insert("x-twice".into(), "2".into());
                // The one checked second, in the map's order, is named.
                "headers[x-twice]".to_owned()
            }
            Self::EmptyMessage => {
                job.text = Some(String::new());
                job.html = None;
                job.attachments.clear();
                "text".to_owned()
            }
            Self::ExpiresBeforeSend(secs) => {
                let send_at = DateTime::UNIX_EPOCH + Duration::seconds(2_000_000);
                job.send_at = Some(send_at);
                job.expires_at = Some(send_at - Duration::seconds(secs));
                "expires_at".to_owned()
            }
            Self::Filename(name) => {
                let i = attachment_index(&mut job, at);
                job.attachments[i].filename = name;
                format!("attachments[{i}].filename")
            }
            Self::ContentType(content_type) => {
                let i = attachment_index(&mut job, at);
                job.attachments[i].content_type = content_type;
                format!("attachments[{i}].content_type")
            }
            Self::ContentId(cid) => {
                let i = attachment_index(&mut job, at);
                job.attachments[i].content_id = Some(cid);
                format!("attachments[{i}].content_id")
            }
            Self::ThreadId(id) => {
                job.thread.get_or_insert_with(ThreadHint::default).thread_id = Some(id);
                "thread.thread_id".to_owned()
            }
            Self::InReplyTo(id) => {
                job.thread
                    .get_or_insert_with(ThreadHint::default)
                    .in_reply_to = Some(id);
                "thread.in_reply_to".to_owned()
            }
            Self::Reference(id) => {
                let thread = job.thread.get_or_insert_with(ThreadHint::default);
                let i = at.index(thread.references.len() + 1);
                thread.references.insert(i, id);
                format!("thread.references[{i}]")
            }
        };
        (job, policy, field)
    }
}

/// The index of one of the job's attachments, adding one if it has none.
fn attachment_index(job: &mut EmailJobV1, at: Index) -> usize {
    if job.attachments.is_empty() {
        job.attachments
            .push(Attachment::new("a.txt", "text/plain", "a"));
    }
    at.index(job.attachments.len())
}
