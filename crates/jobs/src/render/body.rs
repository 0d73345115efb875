//! A text body's transfer encoding: the one lettre would choose, with the text's line ends
//! made CRLF in one pass and quoted-printable written by [`super::quoted`].

use lettre::message::Body;
use lettre::message::header::ContentTransferEncoding;

/// A text body in a transfer encoding that carries it exactly. lettre picks
/// 7bit for ASCII with short lines, but 7bit data may hold neither NUL nor a
/// CR outside a CRLF (RFC 2045 §2.7, RFC 5322 §2.3): such text goes
/// quoted-printable, which writes them as `=00` and `=0D`.
pub(super) fn text_body(text: String) -> Body {
    let bare_cr = text
        .split('\r')
        .skip(1)
        .any(|after| !after.starts_with('\n'));
    if bare_cr || text.contains('\0') {
        // Quoted-printable accepts any input; the fallback is never taken.
        return Body::new_with_encoding(text, ContentTransferEncoding::QuotedPrintable)
            .unwrap_or_else(Body::new);
    }
    // What `Body::new` makes of a `String`, byte for byte: the encoding lettre would choose
    // for the text as given, then the text with CRLF line ends in it. Done here because
    // lettre's line-end conversion walks the text character by character from the end and
    // inserts each CR on its own, which cost about as much as choosing the encoding.
    //
    // The choice is email-encoding's `Encoding::choose(text, false)`: 7bit for ASCII whose
    // lines are all short, else quoted-printable unless more than a third of the bytes are
    // neither printable nor a tab, else base64. That count is taken while encoding the text
    // as quoted-printable, which is then nearly always the answer, instead of in a pass of
    // its own (a pass as long as the encoding).
    let bytes = text.as_bytes();
    if bytes.is_ascii() && !line_too_long(&text) {
        return Body::dangerous_pre_encoded(
            crlf_line_ends(text).into_bytes(),
            ContentTransferEncoding::SevenBit,
        );
    }
    // Quoted-printable takes the LFs as line ends as it encodes.
    let (encoded, unprintable) = super::quoted::encode_lines(bytes);
    if unprintable <= bytes.len() / 3 {
        return Body::dangerous_pre_encoded(encoded, ContentTransferEncoding::QuotedPrintable);
    }
    // lettre encodes base64 itself; the text then has its CRLFs, which a second conversion
    // leaves alone.
    Body::new_with_encoding(crlf_line_ends(text), ContentTransferEncoding::Base64)
        .unwrap_or_else(Body::new)
}

/// Whether a line of `text` is too long for 7bit, as email-encoding's chooser measures it: the
/// distance between LFs (from the start, and to the end) reaching 76.
fn line_too_long(text: &str) -> bool {
    let mut last = 0;
    text.match_indices('\n')
        .any(|(i, _)| i - std::mem::replace(&mut last, i) >= 76)
        || text.len() - last >= 76
}

/// `text` with a CR before every LF that has none.
pub(super) fn crlf_line_ends(text: String) -> String {
    let bytes = text.as_bytes();
    let bare = |i: usize| i == 0 || bytes[i - 1] != b'\r';
    let missing = text.match_indices('\n').filter(|&(i, _)| bare(i)).count();
    if missing == 0 {
        return text;
    }
    let mut out = String::with_capacity(text.len() + missing);
    let mut prev = 0;
    for (i, _) in text.match_indices('\n').filter(|&(i, _)| bare(i)) {
        out.push_str(&text[prev..i]);
        out.push('\r');
        prev = i;
    }
    out.push_str(&text[prev..]);
    out
}

#[cfg(test)]
mod tests {
    use lettre::message::Body;

    use super::{crlf_line_ends, text_body};

    proptest::proptest! {
        /// Text without a bare CR or a NUL gets exactly the body lettre makes of it: the same
        /// transfer encoding and the same bytes, whatever its line ends, lengths and letters,
        /// mostly ASCII or mostly not (around the third where base64 takes over).
        #[test]
        fn a_text_body_is_lettres_own(text in proptest::prop_oneof![
            "([a-z ]{0,90}|é|👋|=|\t|\n|\r\n){0,40}",
            "(é|👋|\n|a|[a-z]{2,5}){0,60}",
        ]) {
            let ours = text_body(text.clone());
            let lettres = Body::new(text);
            proptest::prop_assert_eq!(ours.encoding(), lettres.encoding());
            proptest::prop_assert_eq!(ours.as_ref(), lettres.as_ref());
        }
    }

    #[test]
    fn line_ends_become_crlf_once() {
        for (text, expected) in [
            ("", ""),
            ("\n", "\r\n"),
            ("a\nb\r\nc\n\n", "a\r\nb\r\nc\r\n\r\n"),
            ("no line end", "no line end"),
        ] {
            assert_eq!(crlf_line_ends(text.to_owned()), expected);
        }
    }
}
