//! A text and an HTML body as one `multipart/alternative`, written straight into the
//! message's buffer, byte for byte as lettre formats `MultiPart::alternative()` with the two
//! as its single parts (the proptest below holds the two side by side).
//!
//! Written here rather than by lettre for the message that has no attachments, the common
//! one: lettre's builder formats a MIME type and parses it back (with its random boundary),
//! sets each part's `Content-Type` by formatting a parsed type, parses the boundary back out
//! of the header when it writes the parts, and copies every part into a buffer of its own.
//! That was about a tenth of handling a 1 KB job with the null transport. A message with
//! attachments still nests a lettre [`MultiPart`] ([`Alternative::into_multipart`]).

use lettre::message::header::ContentType;
use lettre::message::{Body, MultiPart};

use super::body::text_body;
use super::text_part;

/// Characters in a boundary, as lettre makes them.
const BOUNDARY_CHARS: usize = 40;

/// A text and an HTML body, encoded, and the boundary between them.
pub(super) struct Alternative {
    text: Body,
    html: Body,
    /// The two bodies' transfer encodings, as their header writes them.
    encodings: [String; 2],
    boundary: [u8; BOUNDARY_CHARS],
}

impl Alternative {
    /// The two bodies in the transfer encodings [`text_body`] chooses, and a random boundary
    /// of 40 letters and digits, as lettre draws one.
    pub(super) fn new(text: String, html: String) -> Self {
        let (text, html) = (text_body(text), text_body(html));
        Self {
            encodings: [text.encoding().to_string(), html.encoding().to_string()],
            text,
            html,
            boundary: std::array::from_fn(|_| fastrand::alphanumeric() as u8),
        }
    }

    /// The same parts as a lettre multipart, to be nested in another.
    pub(super) fn into_multipart(self) -> MultiPart {
        MultiPart::alternative()
            .singlepart(text_part(ContentType::TEXT_PLAIN, self.text))
            .singlepart(text_part(ContentType::TEXT_HTML, self.html))
    }

    /// How many bytes [`Self::write`] writes.
    pub(super) fn len(&self) -> usize {
        HEADER_START.len()
            + BOUNDARY_CHARS
            + HEADER_END.len()
            + self
                .parts()
                .map(|(kind, encoding, body)| {
                    DASHES.len()
                        + BOUNDARY_CHARS
                        + kind.len()
                        + ENCODING.len()
                        + encoding.len()
                        + "\r\n\r\n".len()
                        + body.as_ref().len()
                        + "\r\n".len()
                })
                .sum::<usize>()
            + DASHES.len()
            + BOUNDARY_CHARS
            + CLOSE.len()
    }

    /// The `Content-Type` header, a blank line, then the parts between boundaries.
    pub(super) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(HEADER_START);
        out.extend_from_slice(&self.boundary);
        out.extend_from_slice(HEADER_END);
        for (kind, encoding, body) in self.parts() {
            out.extend_from_slice(DASHES);
            out.extend_from_slice(&self.boundary);
            out.extend_from_slice(kind);
            out.extend_from_slice(ENCODING);
            out.extend_from_slice(encoding.as_bytes());
            out.extend_from_slice(b"\r\n\r\n");
            out.extend_from_slice(body.as_ref());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(DASHES);
        out.extend_from_slice(&self.boundary);
        out.extend_from_slice(CLOSE);
    }

    /// Each part: what follows its boundary up to its encoding's name, that name, its body.
    fn parts(&self) -> impl Iterator<Item = (&'static [u8], &str, &Body)> {
        [
            (PLAIN, self.encodings[0].as_str(), &self.text),
            (HTML, self.encodings[1].as_str(), &self.html),
        ]
        .into_iter()
    }
}

/// The multipart's header up to its boundary: lettre folds it before `boundary`, as the
/// line would otherwise be longer than 76 characters.
const HEADER_START: &[u8] = b"Content-Type: multipart/alternative;\r\n boundary=\"";
/// The rest of the header, and the blank line after it.
const HEADER_END: &[u8] = b"\"\r\n\r\n";
/// What opens a boundary line.
const DASHES: &[u8] = b"--";
/// The end of an opening boundary line and the text part's type.
const PLAIN: &[u8] = b"\r\nContent-Type: text/plain; charset=utf-8\r\n";
/// The end of an opening boundary line and the HTML part's type.
const HTML: &[u8] = b"\r\nContent-Type: text/html; charset=utf-8\r\n";
/// The transfer encoding header's name.
const ENCODING: &[u8] = b"Content-Transfer-Encoding: ";
/// The end of the closing boundary line.
const CLOSE: &[u8] = b"--\r\n";

#[cfg(test)]
mod tests {
    use super::Alternative;

    proptest::proptest! {
        /// Whatever the two texts, the bytes are lettre's for the same multipart, its
        /// boundary aside, and as many as `len` says.
        #[test]
        fn the_bytes_are_lettres_own(
            text in "([a-z ]{0,90}|é|=|\t|\n|\r\n|\r|\0){1,30}",
            html in "([a-z<>/ ]{0,120}|ü|\n){1,20}",
        ) {
            let ours = Alternative::new(text, html);
            let mut written = Vec::new();
            ours.write(&mut written);
            proptest::prop_assert_eq!(written.len(), ours.len());
            let boundary = String::from_utf8(ours.boundary.to_vec()).unwrap();
            let lettres = ours.into_multipart().formatted();
            let lettres = String::from_utf8(lettres).unwrap();
            let theirs = lettres
                .split_once("boundary=\"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(b, _)| b.to_owned())
                .unwrap();
            proptest::prop_assert_eq!(
                String::from_utf8(written).unwrap(),
                lettres.replace(&theirs, &boundary)
            );
        }
    }

    #[test]
    fn each_message_has_a_boundary_of_its_own() {
        let a = Alternative::new("a".into(), "<p>a</p>".into());
        let b = Alternative::new("a".into(), "<p>a</p>".into());
        assert_ne!(a.boundary, b.boundary);
        assert!(a.boundary.iter().all(u8::is_ascii_alphanumeric));
    }
}
