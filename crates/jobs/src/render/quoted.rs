//! Quoted-printable encoding of a text body (RFC 2045 §6.7), byte for byte what
//! `quoted_printable::encode` (the encoder lettre uses) writes.
//!
//! Written here because the crate's encoder was the largest single cost of rendering a
//! message: it pushes every byte through `String::push(char)`, peeks byte by byte for runs
//! that need no escaping, and grows its buffer from the input's size. This one copies each
//! such run as one slice into a buffer sized for the output. Its rules are the crate's:
//! lines of at most 76 characters with soft breaks (`=` CRLF), CRLF kept as a line end, a
//! lone CR written `=0D`, a space or tab before a line end (or at the very end) escaped, and
//! where a soft break would overflow a full line it goes before the last thing written.

/// Longest encoded line, without its CRLF.
const LIMIT: usize = 76;

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// A byte that is not written as itself.
fn needs_escaping(byte: u8) -> bool {
    !matches!(byte, b'\t' | b' '..=b'<' | b'>'..=b'~')
}

/// The encoder's output and where its current line stands.
struct Encoder {
    out: Vec<u8>,
    /// Characters on the current line.
    on_line: usize,
    /// Where the last thing appended starts: a soft break that would not fit after it goes
    /// there instead.
    backup: usize,
}

impl Encoder {
    /// Appends `piece` (one character, or one escape of three), breaking the line first when
    /// it would not fit.
    fn append(&mut self, piece: &[u8]) {
        if self.on_line + piece.len() > LIMIT {
            if self.on_line == LIMIT {
                self.on_line = self.out.len() - self.backup;
                self.out.splice(self.backup..self.backup, *b"=\r\n");
            } else {
                self.out.extend_from_slice(b"=\r\n");
                self.on_line = 0;
            }
        }
        self.out.extend_from_slice(piece);
        self.on_line += piece.len();
        self.backup = self.out.len() - piece.len();
    }

    /// Appends `byte` as itself when it may stand for itself, else as `=XX`.
    fn append_byte(&mut self, byte: u8) {
        if needs_escaping(byte) {
            self.append(&[
                b'=',
                HEX[usize::from(byte >> 4)],
                HEX[usize::from(byte & 15)],
            ]);
        } else {
            self.append(&[byte]);
        }
    }

    /// Ends the line: CRLF, after its trailing blank (if any) is escaped.
    fn line_end(&mut self) {
        self.escape_trailing_blank();
        self.out.extend_from_slice(b"\r\n");
        self.on_line = 0;
    }

    /// Escapes a space or tab that ends the line (it would be taken for padding).
    fn escape_trailing_blank(&mut self) {
        let escaped: &[u8] = match self.out.last() {
            Some(b' ') => b"=20",
            Some(b'\t') => b"=09",
            _ => return,
        };
        self.out.pop();
        self.on_line -= 1;
        self.append(escaped);
    }
}

/// `input` in quoted-printable, as text: its CRLFs stay line ends.
#[cfg(test)]
fn encode(input: &[u8]) -> Vec<u8> {
    encode_with(input, false).0
}

/// [`encode`] of `input` with a CR put before every LF that has none: its LFs, alone or in
/// CRLF, are line ends (the text is not copied to add the CRs first). Also how many bytes of
/// `input` are neither printable ASCII nor a tab: what email-encoding counts to choose
/// between quoted-printable and base64, counted here on the way.
pub(super) fn encode_lines(input: &[u8]) -> (Vec<u8>, usize) {
    encode_with(input, true)
}

/// `input` in quoted-printable, and its bytes that are neither printable ASCII nor a tab; a
/// lone LF is a line end when `lf_ends`, else `=0A`.
fn encode_with(input: &[u8], lf_ends: bool) -> (Vec<u8>, usize) {
    // Soft breaks add 3 bytes per 73 or so; escapes are rare in the text this is chosen for.
    let mut e = Encoder {
        out: Vec::with_capacity(input.len() + input.len() / 24 + 16),
        on_line: 0,
        backup: 0,
    };
    let mut was_cr = false;
    let mut unprintable = 0;
    let mut i = 0;
    while let Some(&byte) = input.get(i) {
        i += 1;
        // Every byte a run below skips is printable.
        unprintable += usize::from(!matches!(byte, b'\t' | b' '..=b'~'));
        if std::mem::take(&mut was_cr) {
            if byte == b'\n' {
                e.line_end();
                continue;
            }
            e.append(b"=0D");
        }
        if byte == b'\r' {
            was_cr = true;
        } else if lf_ends && byte == b'\n' {
            e.line_end();
        } else if LIMIT - e.on_line >= 3 && !needs_escaping(byte) {
            // A run of bytes written as themselves, up to two short of the line's end.
            let start = i - 1;
            let most = (LIMIT - e.on_line - 2).min(input.len() - start);
            let run = input[start..start + most]
                .iter()
                .position(|&b| needs_escaping(b))
                .unwrap_or(most);
            e.out.extend_from_slice(&input[start..start + run]);
            e.on_line += run;
            e.backup = e.out.len();
            i = start + run;
        } else {
            e.append_byte(byte);
        }
    }
    if was_cr {
        e.append(b"=0D");
    } else {
        e.escape_trailing_blank();
    }
    (e.out, unprintable)
}

#[cfg(test)]
mod tests {
    use proptest::strategy::Strategy;

    use super::{encode, encode_lines};

    proptest::proptest! {
        /// Any bytes encode exactly as the crate lettre uses encodes them: runs longer than a
        /// line, escapes at the line's end, CR alone and in CRLF, blanks before line ends.
        #[test]
        fn encodes_as_the_quoted_printable_crate(
            input in proptest::collection::vec(
                proptest::prop_oneof![
                    4 => (b'a'..=b'z').boxed(),
                    1 => proptest::sample::select(vec![b' ', b'\t', b'=', b'\r', b'\n', 0, 0xC3, 0xFF, b'~']).boxed(),
                ],
                0..400,
            )
        ) {
            proptest::prop_assert_eq!(encode(&input), quoted_printable::encode(&input));
        }

        /// Encoding with lone LFs as line ends is encoding the text with CRLF line ends.
        #[test]
        fn lone_lfs_end_lines_as_crlfs_do(
            text in "([a-z]{60,90}|[a-z ]{0,80}|=|é| \n|\t\n|\n|\r\n|\r){1,12}"
        ) {
            let crlf = crate::render::body::crlf_line_ends(text.clone());
            let (encoded, unprintable) = encode_lines(text.as_bytes());
            proptest::prop_assert_eq!(encoded, encode(crlf.as_bytes()));
            let counted = text.bytes().filter(|b| !matches!(b, b'\t' | b' '..=b'~')).count();
            proptest::prop_assert_eq!(unprintable, counted);
        }

        /// Long runs of plain text around the 76-character limit.
        #[test]
        fn long_lines_break_as_the_crate_breaks_them(
            text in "([a-z]{60,90}|[a-z ]{0,80}|=|é| \r\n|\t\r\n|\r\n|\r){1,12}"
        ) {
            proptest::prop_assert_eq!(encode(text.as_bytes()), quoted_printable::encode(&text));
        }
    }

    #[test]
    fn shapes_worth_naming() {
        for (input, expected) in [
            ("", ""),
            ("plain", "plain"),
            ("a=b", "a=3Db"),
            ("end ", "end=20"),
            ("tab\t\r\nnext", "tab=09\r\nnext"),
            ("lone\rcr", "lone=0Dcr"),
            ("caf\u{e9}", "caf=C3=A9"),
        ] {
            assert_eq!(encode(input.as_bytes()), expected.as_bytes(), "{input:?}");
        }
        let long = "x".repeat(80);
        let encoded = String::from_utf8(encode(long.as_bytes())).unwrap();
        assert_eq!(encoded, format!("{}=\r\n{}", "x".repeat(75), "x".repeat(5)));
    }
}
