//! The message's one buffer, started with its headers.

use lettre::message::header::Headers;

/// A buffer holding `headers` as lettre formats them, with room for `rest` more bytes: the
/// message's one buffer, within [`HEAD_ROOM`] of its size, so that little is held beyond it
/// while it is sent. The headers are formatted into it directly, not into a string of their
/// own that grows as they are written and is then copied.
pub(super) fn head_buffer(headers: &Headers, rest: usize) -> Vec<u8> {
    use std::fmt::Write as _;
    /// Writes formatted text into a byte buffer.
    struct Bytes<'a>(&'a mut Vec<u8>);
    impl std::fmt::Write for Bytes<'_> {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.extend_from_slice(s.as_bytes());
            Ok(())
        }
    }
    let mut out = Vec::with_capacity(HEAD_ROOM + rest);
    // Writing into a `Vec` cannot fail.
    let _ = write!(Bytes(&mut out), "{headers}");
    out
}

/// Room for a message's headers: more than the usual ones take (addresses, subject, date,
/// ids and types come to a few hundred bytes); longer ones grow the buffer once.
const HEAD_ROOM: usize = 1024;
