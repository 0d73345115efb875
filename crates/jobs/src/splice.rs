//! Formatting a message with large attachments into one buffer of its exact
//! size.
//!
//! lettre's formatting writes into a `Vec` that grows by doubling, after
//! the attachments have each been base64 encoded into a buffer of their
//! own: a 25 MB message briefly needs about three times its size. Here the
//! message is built with a short placeholder in place of each
//! attachment's body, formatted (which is small), and then copied into a
//! buffer of the final size with each placeholder replaced by its
//! attachment's content, base64 encoded straight into that buffer with
//! lettre's line breaks (76 characters, CRLF between lines, none after the
//! last). The result is byte for byte what lettre's formatting gives.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use lettre::message::Body;
use lettre::message::header::ContentTransferEncoding;

use crate::{EmailJobV1, RenderError};

/// Characters of base64 on each line of an encoded body.
const LINE_CHARS: usize = 76;
/// Input bytes that make one full line.
const LINE_BYTES: usize = LINE_CHARS / 4 * 3;

/// What an attachment part's body holds when the message is built.
pub(crate) enum Bodies {
    /// The content, base64 encoded by lettre.
    Encoded,
    /// A placeholder naming the attachment, to be replaced by [`splice`].
    Placeholders {
        /// Makes the placeholders unlikely to occur anywhere else in the
        /// message; [`splice`] checks that each occurs exactly once.
        nonce: String,
    },
}

impl Bodies {
    /// The body of attachment `index`, whose bytes are `content`.
    pub(crate) fn body(&self, index: usize, content: &[u8]) -> Result<Body, RenderError> {
        match self {
            Self::Encoded => {
                Body::new_with_encoding(content.to_vec(), ContentTransferEncoding::Base64)
                    .map_err(|_| RenderError::Build("base64 refused the attachment content".into()))
            }
            Self::Placeholders { nonce } => Ok(Body::dangerous_pre_encoded(
                placeholder(nonce, index).into_bytes(),
                ContentTransferEncoding::Base64,
            )),
        }
    }
}

/// The placeholder of attachment `index`; the closing `>` keeps one index
/// from being the start of another.
fn placeholder(nonce: &str, index: usize) -> String {
    format!("<mailroom-attachment:{nonce}:{index}>")
}

/// The formatted message `build` makes of `job`: spliced when the job has
/// attachments, and formatted by lettre with its bodies encoded when a
/// placeholder does not occur exactly once (a text that happens to hold one).
pub(crate) fn formatted(
    job: &EmailJobV1,
    build: impl Fn(&Bodies) -> Result<Vec<u8>, RenderError>,
) -> Result<Vec<u8>, RenderError> {
    if !job.attachments.is_empty() {
        let nonce = ulid::Ulid::new().to_string();
        let contents: Vec<&[u8]> = job.attachments.iter().map(|a| &a.content[..]).collect();
        let bodies = Bodies::Placeholders {
            nonce: nonce.clone(),
        };
        let skeleton = build(&bodies)?;
        if let Some(bytes) = splice(&skeleton, &nonce, &contents) {
            return Ok(bytes);
        }
    }
    build(&Bodies::Encoded)
}

/// `skeleton` with the placeholder of attachment `i` replaced by
/// `contents[i]` in base64, in a buffer of exactly the result's size; `None`
/// when a placeholder does not occur exactly once.
fn splice(skeleton: &[u8], nonce: &str, contents: &[&[u8]]) -> Option<Vec<u8>> {
    let mut spots = Vec::with_capacity(contents.len());
    for (index, content) in contents.iter().enumerate() {
        let mark = placeholder(nonce, index);
        let at = find(skeleton, mark.as_bytes())?;
        if find(&skeleton[at + 1..], mark.as_bytes()).is_some() {
            return None;
        }
        spots.push((at, mark.len(), *content));
    }
    spots.sort_by_key(|&(at, _, _)| at);
    let size = spots
        .iter()
        .fold(skeleton.len(), |size, (_, mark, content)| {
            size - mark + wrapped_len(content.len())
        });
    let mut out = Vec::with_capacity(size);
    let mut from = 0;
    for (at, mark, content) in spots {
        out.extend_from_slice(&skeleton[from..at]);
        encode_wrapped(content, &mut out);
        from = at + mark;
    }
    out.extend_from_slice(&skeleton[from..]);
    debug_assert_eq!(out.len(), size);
    Some(out)
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The length of `len` bytes in base64 with a CRLF between 76-character lines.
fn wrapped_len(len: usize) -> usize {
    let chars = len.div_ceil(3) * 4;
    chars + chars.saturating_sub(1) / LINE_CHARS * 2
}

/// Appends `content` in base64 to `out`, a CRLF between 76-character lines.
fn encode_wrapped(content: &[u8], out: &mut Vec<u8>) {
    let mut line = [0u8; LINE_CHARS];
    for (i, chunk) in content.chunks(LINE_BYTES).enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        let n = STANDARD
            .encode_slice(chunk, &mut line)
            .expect("57 bytes fit a 76-character line");
        out.extend_from_slice(&line[..n]);
    }
}

#[cfg(test)]
mod tests;
