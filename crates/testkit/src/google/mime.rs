//! Reading MIME: multipart bodies (RFC 2046) split into parts, header
//! fields, base64 and the recipients of an RFC 822 message.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;

use super::keys::LENIENT_URL_SAFE;

/// Gmail takes base64url, padded or not; standard base64 is tolerated too.
pub(crate) fn decode_base64(encoded: &str) -> Option<Vec<u8>> {
    let compact: String = encoded.chars().filter(|c| !c.is_whitespace()).collect();
    LENIENT_URL_SAFE
        .decode(&compact)
        .ok()
        .or_else(|| STANDARD_NO_PAD.decode(compact.trim_end_matches('=')).ok())
}

/// The `boundary` parameter of a Content-Type.
pub(crate) fn boundary_of(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"').to_owned())
            .filter(|b| !b.is_empty())
    })
}

/// One part of a multipart body.
pub(crate) struct Part<'a> {
    headers: Vec<(String, String)>,
    body: &'a [u8],
}

impl Part<'_> {
    /// The value of the first header field `name` (any case).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The part's body, decoded when its `Content-Transfer-Encoding` is base64.
pub(crate) fn decode_part(part: &Part<'_>) -> Option<Vec<u8>> {
    match part.header("content-transfer-encoding") {
        Some(cte) if cte.trim().eq_ignore_ascii_case("base64") => {
            decode_base64(std::str::from_utf8(part.body).ok()?)
        }
        _ => Some(part.body.to_vec()),
    }
}

/// Splits a multipart body (RFC 2046) into its parts. `None` if the
/// delimiters are missing or it is not closed.
pub(crate) fn parse_multipart<'a>(body: &'a [u8], boundary: &str) -> Option<Vec<Part<'a>>> {
    let delimiter = format!("--{boundary}").into_bytes();
    let mut at = find(body, &delimiter, 0)?;
    if at > 0 && body[at - 1] != b'\n' {
        return None;
    }
    let mut parts = Vec::new();
    loop {
        let after = at + delimiter.len();
        if body[after..].starts_with(b"--") {
            return Some(parts);
        }
        let content_start = find(body, b"\n", after)? + 1;
        let mut search = content_start;
        let next = loop {
            let candidate = find(body, &delimiter, search)?;
            if candidate > 0 && body[candidate - 1] == b'\n' {
                break candidate;
            }
            search = candidate + 1;
        };
        let mut content_end = next - 1;
        if content_end > content_start && body[content_end - 1] == b'\r' {
            content_end -= 1;
        }
        parts.push(parse_part(
            &body[content_start..content_end.max(content_start)],
        )?);
        at = next;
    }
}

/// Splits a part into its headers and body.
fn parse_part(content: &[u8]) -> Option<Part<'_>> {
    let (head, body) = if content.starts_with(b"\r\n") {
        (&content[..0], &content[2..])
    } else if content.starts_with(b"\n") {
        (&content[..0], &content[1..])
    } else if let Some(i) = find(content, b"\r\n\r\n", 0) {
        (&content[..i], &content[i + 4..])
    } else if let Some(i) = find(content, b"\n\n", 0) {
        (&content[..i], &content[i + 2..])
    } else {
        return None;
    };
    Some(Part {
        headers: header_fields(head),
        body,
    })
}

/// Unfolded `Name: value` header fields.
fn header_fields(head: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(head);
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    fields
}

/// The header fields of an RFC 822 message (everything before the first
/// empty line).
fn message_header(raw: &[u8]) -> Vec<(String, String)> {
    let head_end = find(raw, b"\r\n\r\n", 0)
        .or_else(|| find(raw, b"\n\n", 0))
        .unwrap_or(raw.len());
    header_fields(&raw[..head_end])
}

/// The unfolded value of the message's first header field `name` (any case).
pub(crate) fn header_value(raw: &[u8], name: &str) -> Option<String> {
    message_header(raw)
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim().to_owned())
}

/// Whether the message's header has a non-empty `To`, `Cc` or `Bcc`.
pub(crate) fn has_recipients(raw: &[u8]) -> bool {
    message_header(raw).iter().any(|(name, value)| {
        ["to", "cc", "bcc"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n))
            && !value.is_empty()
    })
}

/// The addresses (lower case) in the `To`, `Cc` and `Bcc` fields: those in
/// angle brackets, or each comma-separated entry when there are none.
pub(crate) fn recipients(raw: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for (name, value) in message_header(raw) {
        if !["to", "cc", "bcc"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n))
        {
            continue;
        }
        if value.contains('<') {
            out.extend(value.split('<').skip(1).filter_map(|rest| {
                rest.split_once('>')
                    .map(|(a, _)| a.trim().to_ascii_lowercase())
            }));
        } else {
            out.extend(
                value
                    .split(',')
                    .map(|a| a.trim().to_ascii_lowercase())
                    .filter(|a| a.contains('@')),
            );
        }
    }
    out
}

/// The header block of an RFC 822 message, up to (not including) the blank
/// line before its body.
pub(crate) fn header_block(raw: &[u8]) -> &[u8] {
    find(raw, b"\r\n\r\n", 0)
        .or_else(|| find(raw, b"\n\n", 0))
        .map_or(raw, |end| &raw[..end])
}

/// Position of `needle` in `haystack` at or after `from`.
fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if from > haystack.len() || needle.is_empty() {
        return None;
    }
    haystack[from..]
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GMAIL1_BODY: &[u8] = b"\r\n--MDuXWGyeE33QFXGchb2VFWc4Z7945d\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}\r\n--MDuXWGyeE33QFXGchb2VFWc4Z7945d\r\ncontent-type: message/rfc822\r\ncontent-length: 32\r\n\r\nTo: a@b.c\r\nSubject: x\r\n\r\nhello\r\n\r\n--MDuXWGyeE33QFXGchb2VFWc4Z7945d--\r\n";

    #[test]
    fn parses_google_apis_common_multipart() {
        let parts = parse_multipart(GMAIL1_BODY, "MDuXWGyeE33QFXGchb2VFWc4Z7945d").unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].body, b"{}");
        assert_eq!(parts[1].header("Content-Type"), Some("message/rfc822"));
        assert_eq!(parts[1].body, b"To: a@b.c\r\nSubject: x\r\n\r\nhello\r\n");
    }

    #[test]
    fn unterminated_multipart_is_refused() {
        assert!(parse_multipart(b"--b\r\n\r\n{}\r\n--b\r\n\r\nx", "b").is_none());
    }

    #[test]
    fn recipients_are_found_in_the_header_only() {
        assert!(has_recipients(b"From: a@b.c\r\nCc:\r\n  x@y.z\r\n\r\nbody"));
        assert!(!has_recipients(
            b"From: a@b.c\r\nSubject: hi\r\n\r\nTo: x@y.z\r\n"
        ));
        assert!(!has_recipients(b"From: a@b.c\nTo:   \n\nbody"));
    }

    #[test]
    fn header_values_are_unfolded_and_found_in_the_header_only() {
        let raw = b"Subject: hi\r\nmessage-id:\r\n <a@b.c>\r\n\r\nX-Late: no\r\n";
        assert_eq!(header_value(raw, "Message-ID").as_deref(), Some("<a@b.c>"));
        assert_eq!(header_value(raw, "X-Late"), None);
    }
}
