//! Checks on text that ends up in message headers.

use lettre::message::header::ContentType;

/// Longest accepted extra header name (lettre refuses longer ones).
pub const MAX_HEADER_NAME_LEN: usize = 76;

/// Headers `headers` cannot set (compared ignoring case): those the job sets
/// itself, and those only a mail system may write, which a receiver would
/// trust (trace, authentication and bounce-routing fields). Every header
/// starting with one of [`RESERVED_PREFIXES`] is reserved too.
pub const RESERVED_HEADERS: &[&str] = &[
    "From",
    "To",
    "Cc",
    "Bcc",
    "Reply-To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "Sender",
    "Return-Path",
    "In-Reply-To",
    "References",
    "DKIM-Signature",
    "Received",
    "Received-SPF",
    "Authentication-Results",
    "Disposition-Notification-To",
    "Return-Receipt-To",
    "Errors-To",
];

/// Prefixes of reserved header names: `Content-*` (the job's MIME structure),
/// `Resent-*` (a resent message's trace) and `ARC-*` (authentication chains).
pub const RESERVED_PREFIXES: &[&str] = &["Content-", "Resent-", "ARC-"];

/// Most octets in a line of a message, CRLF excluded (RFC 5322 §2.1.1).
pub(crate) const MAX_LINE_OCTETS: usize = 998;

/// Whether `s` holds only printable ASCII, spaces and tabs: header text that
/// can be written as it is, without RFC 2047 encoding.
pub(crate) fn is_printable_ascii(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
}

/// The length of the longest run of `s` without a space: a header value
/// written as it is can be folded only at spaces.
pub(crate) fn longest_word(s: &str) -> usize {
    s.split(' ').map(str::len).max().unwrap_or(0)
}

/// Describes why `s` cannot go into a header line: it contains CR or LF
/// (which would start a new header) or NUL. `None` when it is fine.
pub(crate) fn forbidden_control(s: &str) -> Option<&'static str> {
    if s.contains(['\r', '\n']) {
        Some("contains CR or LF")
    } else if s.contains('\0') {
        Some("contains NUL")
    } else {
        None
    }
}

/// Whether `name` is a valid RFC 5322 header field name: one or more
/// printable US-ASCII characters other than `:` (so no space either).
pub(crate) fn is_field_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b) && b != b':')
}

/// Whether `id` looks like an RFC 5322 `msg-id`: `<...>` around printable
/// US-ASCII without spaces or further angle brackets.
pub(crate) fn is_msg_id(id: &str) -> bool {
    id.strip_prefix('<')
        .and_then(|rest| rest.strip_suffix('>'))
        .is_some_and(|inner| {
            !inner.is_empty()
                && inner
                    .bytes()
                    .all(|b| (33..=126).contains(&b) && b != b'<' && b != b'>')
        })
}

/// Why `name` cannot be an extra header, if it cannot.
pub(crate) fn header_name_problem(name: &str) -> Option<String> {
    if !is_field_name(name) {
        return Some("not a header field name (printable ASCII without spaces or colons)".into());
    }
    if name.len() > MAX_HEADER_NAME_LEN {
        return Some(format!("name longer than {MAX_HEADER_NAME_LEN} characters"));
    }
    let reserved = RESERVED_HEADERS
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
        || RESERVED_PREFIXES.iter().any(|prefix| {
            name.get(..prefix.len())
                .is_some_and(|start| start.eq_ignore_ascii_case(prefix))
        });
    reserved.then(|| {
        format!(
            "{name} is reserved (set from the job's own fields, or only by a mail system) and \
             cannot be an extra header"
        )
    })
}

/// Why `content_type` cannot be an attachment's content type, if it cannot.
pub(crate) fn content_type_problem(content_type: &str) -> Option<String> {
    if let Err(e) = ContentType::parse(content_type) {
        return Some(format!("{content_type:?} is not a MIME type: {e}"));
    }
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let (kind, subtype) = essence.split_once('/').unwrap_or((essence, ""));
    if [kind, subtype]
        .iter()
        .any(|part| part.is_empty() || *part == "*")
    {
        return Some(format!(
            "{content_type:?} needs a concrete type and subtype"
        ));
    }
    if kind.eq_ignore_ascii_case("multipart") {
        return Some("a multipart type cannot be an attachment's content type".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters() {
        assert_eq!(forbidden_control("plain text"), None);
        assert_eq!(forbidden_control("a\r\nb"), Some("contains CR or LF"));
        assert_eq!(forbidden_control("a\nb"), Some("contains CR or LF"));
        assert_eq!(forbidden_control("a\0b"), Some("contains NUL"));
    }

    #[test]
    fn field_names() {
        assert!(is_field_name("X-Campaign-Id"));
        assert!(!is_field_name(""));
        assert!(!is_field_name("X Foo"));
        assert!(!is_field_name("X:Foo"));
        assert!(!is_field_name("X-Föo"));
        assert!(!is_field_name("X-\x7f"));
    }

    #[test]
    fn msg_ids() {
        assert!(is_msg_id("<abc@example.com>"));
        assert!(!is_msg_id("abc@example.com"));
        assert!(!is_msg_id("<>"));
        assert!(!is_msg_id("<a b@example.com>"));
        assert!(!is_msg_id("<a@example.com> <b@example.com>"));
    }
}
