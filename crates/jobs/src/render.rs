//! Rendering a job into an RFC 5322 / MIME message with lettre.

use std::borrow::Cow;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Datelike, Utc};
use lettre::message::header::{self, ContentType, HeaderName, HeaderValue, Headers};
use lettre::message::{Mailboxes, MultiPart, SinglePart};

mod alternative;
mod body;
mod head;
mod header_value;
mod quoted;

use crate::splice::Bodies;
use crate::text::{
    MAX_LINE_OCTETS, content_type_problem, header_name_problem, is_printable_ascii, longest_word,
};
use crate::{Address, Attachment, EmailJob, EmailJobV1, JobId, RenderError};
use alternative::Alternative;
use body::text_body;
use head::head_buffer;
use header_value::{header_value, mailboxes_value};

/// A rendered message, ready for the Gmail API's `raw` field (after
/// base64url encoding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The complete message: headers (including `Bcc`), a blank line, body.
    pub bytes: Vec<u8>,
    /// The `Message-ID` header's value, angle brackets included.
    pub message_id: String,
}

/// The Message-ID of a job: `<{id}@{domain of from}>`, with an
/// internationalized domain converted to its ASCII (punycode) form.
///
/// ```
/// use mailroom_jobs::{message_id_for, Address, JobId};
///
/// let id: JobId = "01HZX3Q4J5N6P7R8S9T0V1W2X3".parse().unwrap();
/// let from = Address::parse("News <news@example.com>").unwrap();
/// assert_eq!(message_id_for(&id, &from), "<01HZX3Q4J5N6P7R8S9T0V1W2X3@example.com>");
/// ```
#[must_use]
pub fn message_id_for(id: &JobId, from: &Address) -> String {
    // Put together in a buffer of its size: `format!` grows one as it writes, once per job.
    let domain = ascii_domain(from.domain());
    let mut ulid = [0; ulid::ULID_LEN];
    let mut out = String::with_capacity(ulid::ULID_LEN + domain.len() + 3);
    out.push('<');
    out.push_str(id.ulid().array_to_str(&mut ulid));
    out.push('@');
    out.push_str(&domain);
    out.push('>');
    out
}

fn ascii_domain(domain: &str) -> Cow<'_, str> {
    if domain.is_ascii() {
        Cow::Borrowed(domain)
    } else {
        idna::domain_to_ascii(domain).map_or(Cow::Borrowed(domain), Cow::Owned)
    }
}

impl EmailJob {
    /// Renders the message with `date` as its `Date` header. See
    /// [`EmailJobV1::render`].
    ///
    /// # Errors
    ///
    /// [`RenderError`] when the job cannot be expressed as a message.
    pub fn render(&self, date: DateTime<Utc>) -> Result<Rendered, RenderError> {
        self.v1().render(date)
    }
}

impl EmailJobV1 {
    /// Renders the message with `date` as its `Date` header.
    ///
    /// Headers: `From`, `To`, `Cc`, `Bcc` (kept, since the Gmail API reads
    /// recipients from it), `Reply-To`, `Subject`, `Date`, `Message-ID`
    /// ([`message_id_for`]), `In-Reply-To` and `References` from the thread
    /// hint, then the extra headers. Header values are written as they are
    /// when they are printable ASCII and as RFC 2047 encoded words otherwise;
    /// so is the subject, which is also encoded when it holds `=?` (readers
    /// would take it for an encoded word), white space at either end or a run
    /// of white space (which readers trim or collapse), or a word too long
    /// for a header line.
    ///
    /// Body: text only is `text/plain`, html only `text/html`, both a
    /// `multipart/alternative`; attachments with a `content_id` wrap that in
    /// a `multipart/related`, and other attachments wrap the result in a
    /// `multipart/mixed` (body first, then each attachment, base64 encoded,
    /// file names RFC 2231 encoded). Empty `text`/`html` count as absent; a
    /// job with nothing at all renders an empty `text/plain` body.
    ///
    /// Rendering does not apply [`validate`](Self::validate)'s rules except
    /// those without which no sound message can be built.
    ///
    /// # Errors
    ///
    /// [`RenderError`] when there are no recipients, an extra header name is
    /// invalid or reserved, an attachment's content type is not a MIME type,
    /// or `date` is before 1970 or after 9999.
    pub fn render(&self, date: DateTime<Utc>) -> Result<Rendered, RenderError> {
        if date.timestamp() < 0 || date.year() > 9999 {
            return Err(RenderError::DateOutOfRange(date));
        }
        let message_id = message_id_for(&self.id, &self.from);
        let bytes =
            crate::splice::formatted(self, |bodies| self.message(date, &message_id, bodies))?;
        Ok(Rendered { bytes, message_id })
    }

    /// The formatted message, its attachments' bodies as `bodies` says: lettre's headers and
    /// MIME parts, written as `Message::formatted` writes them. The headers are put together
    /// here rather than by lettre's `MessageBuilder`, which parses a mailbox header back (with
    /// its general RFC 5322 parser) each time it adds a mailbox to it, and `From` and `Date`
    /// again when it builds: a fifth of rendering a job of one recipient, and more with every
    /// recipient. What that builder checks holds here by construction: `From` is always set,
    /// and a message without recipients is refused.
    pub(crate) fn message(
        &self,
        date: DateTime<Utc>,
        message_id: &str,
        bodies: &Bodies,
    ) -> Result<Vec<u8>, RenderError> {
        if self.recipients().next().is_none() {
            return Err(RenderError::Build("missing destination address".into()));
        }
        let mut headers = Headers::new();
        set_mailboxes::<header::From>(&mut headers, std::slice::from_ref(&self.from));
        set_mailboxes::<header::To>(&mut headers, &self.to);
        set_mailboxes::<header::Cc>(&mut headers, &self.cc);
        set_mailboxes::<header::Bcc>(&mut headers, &self.bcc);
        set_mailboxes::<header::ReplyTo>(&mut headers, &self.reply_to);
        headers.insert_raw(text_header(
            HeaderName::new_from_ascii_str("Subject"),
            &self.subject,
            Form::Text,
        ));
        headers.set(header::Date::new(SystemTime::from(date)));
        headers.insert_raw(header_value(
            HeaderName::new_from_ascii_str("Message-ID"),
            message_id.to_owned(),
        ));
        self.thread_and_extra_headers(&mut headers)?;
        headers.insert_raw(header_value(
            HeaderName::new_from_ascii_str("MIME-Version"),
            "1.0".to_owned(),
        ));

        // A lone text or HTML body goes in as the message body itself, so that it is not
        // given the trailing CRLF lettre adds to a MIME part.
        let (tail, body) = match self.body(bodies)? {
            None => leaf(&mut headers, ContentType::TEXT_PLAIN, String::new()),
            Some(Part::Text(text)) => leaf(&mut headers, ContentType::TEXT_PLAIN, text),
            Some(Part::Html(html)) => leaf(&mut headers, ContentType::TEXT_HTML, html),
            Some(Part::Alternative(both)) => {
                // Written straight after the headers, into the one buffer.
                let mut out = head_buffer(&headers, both.len());
                both.write(&mut out);
                return Ok(out);
            }
            Some(Part::Multi(part)) => (&b""[..], part.formatted()),
        };
        let mut out = head_buffer(&headers, tail.len() + body.len());
        out.extend_from_slice(tail);
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// `In-Reply-To` and `References` from the thread hint, then the extra headers.
    fn thread_and_extra_headers(&self, headers: &mut Headers) -> Result<(), RenderError> {
        if let Some(thread) = &self.thread {
            if let Some(id) = &thread.in_reply_to {
                headers.set(header::InReplyTo::from(id.clone()));
            }
            if !thread.references.is_empty() {
                headers.set(header::References::from(thread.references.join(" ")));
            }
        }
        for (name, value) in &self.headers {
            let invalid = |reason: String| RenderError::InvalidHeader {
                name: name.clone(),
                reason,
            };
            if let Some(problem) = header_name_problem(name) {
                return Err(invalid(problem));
            }
            let header_name =
                HeaderName::new_from_ascii(name.clone()).map_err(|e| invalid(e.to_string()))?;
            headers.insert_raw(text_header(header_name, value, Form::Verbatim));
        }
        Ok(())
    }

    /// The MIME body, or `None` when the job has no content at all.
    fn body(&self, bodies: &Bodies) -> Result<Option<Part>, RenderError> {
        let present = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        let mut content = match (present(&self.text), present(&self.html)) {
            (Some(text), Some(html)) => Some(Part::Alternative(Alternative::new(text, html))),
            (Some(text), None) => Some(Part::Text(text)),
            (None, Some(html)) => Some(Part::Html(html)),
            (None, None) => None,
        };

        let mut inline = Vec::new();
        let mut attached = Vec::new();
        for (index, attachment) in self.attachments.iter().enumerate() {
            let part = attachment_part(index, attachment, bodies)?;
            if attachment.content_id.is_some() {
                inline.push(part);
            } else {
                attached.push(part);
            }
        }
        if !inline.is_empty() {
            content = Some(Part::Multi(wrap(
                MultiPart::related().build(),
                content,
                inline,
            )));
        }
        if !attached.is_empty() {
            content = Some(Part::Multi(wrap(
                MultiPart::mixed().build(),
                content,
                attached,
            )));
        }
        Ok(content)
    }
}

/// What a header passed to [`text_header`] holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// Text for people, such as the subject: encoded unless readers show it
    /// exactly as written.
    Text,
    /// A value that goes out as given when it is printable ASCII, so that
    /// callers can set structured values (and encoded words of their own).
    Verbatim,
}

/// A header holding `text`, written as it is when it is printable ASCII that
/// readers show as it is, and as RFC 2047 encoded words carrying all of it
/// otherwise.
///
/// lettre writes the ASCII words of a value as they are and encodes the
/// others one by one, which changes what a reader sees: white space between
/// two encoded words is dropped (RFC 2047 §6.2), an ASCII word such as
/// `=?utf-8?q?x?=` is decoded, and control characters go out raw where
/// RFC 5322 allows none.
fn text_header(name: HeaderName, text: &str, form: Form) -> HeaderValue {
    // Readers read `=?...?=` as an encoded word, drop white space at the ends
    // of a field and, at a fold, read a run of white space as one space; and
    // a word too long for a line cannot be folded.
    let wsp = |b: &u8| *b == b' ' || *b == b'\t';
    let bytes = text.as_bytes();
    let as_is = form == Form::Verbatim
        || !(text.contains("=?")
            || bytes.first().is_some_and(wsp)
            || bytes.last().is_some_and(wsp)
            || bytes.windows(2).any(|pair| pair.iter().all(wsp))
            || name.len() + ": ".len() + longest_word(text) > MAX_LINE_OCTETS);
    if is_printable_ascii(text) && as_is {
        return header_value(name, text.to_owned());
    }
    let encoded = encoded_words(name.len(), text);
    HeaderValue::dangerous_new_pre_encoded(name, text.to_owned(), encoded)
}

/// `text` as `=?utf-8?b?...?=` words, each holding whole characters, one to a
/// line so that no line is longer than the 76 characters RFC 2047 §2 allows
/// (a word of 39 bytes is 64 characters long).
fn encoded_words(name_len: usize, text: &str) -> String {
    const MAX_LINE: usize = 76;
    const CHUNK: usize = 39;
    let first_line = name_len + ": ".len();
    let mut encoded = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len().min(CHUNK);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (chunk, tail) = rest.split_at(end);
        let word = format!("=?utf-8?b?{}?=", STANDARD.encode(chunk));
        // Folding also separates the words, as RFC 2047 §5 requires.
        if !encoded.is_empty() || first_line + word.len() > MAX_LINE {
            encoded.push_str("\r\n ");
        }
        encoded.push_str(&word);
        rest = tail;
    }
    encoded
}

/// The body of a message or of a multipart.
enum Part {
    Text(String),
    Html(String),
    Alternative(Alternative),
    Multi(MultiPart),
}

/// `container` holding `first` (if any) followed by `rest`.
fn wrap(container: MultiPart, first: Option<Part>, rest: Vec<SinglePart>) -> MultiPart {
    let container = match first {
        Some(Part::Text(text)) => {
            container.singlepart(text_part(ContentType::TEXT_PLAIN, text_body(text)))
        }
        Some(Part::Html(html)) => {
            container.singlepart(text_part(ContentType::TEXT_HTML, text_body(html)))
        }
        Some(Part::Alternative(both)) => container.multipart(both.into_multipart()),
        Some(Part::Multi(part)) => container.multipart(part),
        None => container,
    };
    rest.into_iter().fold(container, MultiPart::singlepart)
}

/// A single text body as the message's own: its type and transfer encoding go in `headers`;
/// the separator and the encoded body are returned.
fn leaf(headers: &mut Headers, kind: ContentType, text: String) -> (&'static [u8], Vec<u8>) {
    let body = text_body(text);
    headers.set(kind);
    headers.set(body.encoding());
    (b"\r\n", body.into_vec())
}

/// Sets header `H` to `addresses`, in order; leaves it out when there are none.
fn set_mailboxes<H: header::Header + From<Mailboxes>>(
    headers: &mut Headers,
    addresses: &[Address],
) {
    if addresses.is_empty() {
        return;
    }
    let mailboxes = addresses.iter().map(Address::as_mailbox);
    match mailboxes_value(H::name(), mailboxes.clone()) {
        Some(value) => headers.insert_raw(value),
        None => headers.set(H::from(mailboxes.cloned().collect::<Mailboxes>())),
    }
}

/// A text part of type `kind` holding `body` (a [`text_body`]).
fn text_part(kind: ContentType, body: lettre::message::Body) -> SinglePart {
    SinglePart::builder().header(kind).body(body)
}

fn attachment_part(
    index: usize,
    attachment: &Attachment,
    bodies: &Bodies,
) -> Result<SinglePart, RenderError> {
    let invalid = |reason: String| RenderError::InvalidContentType {
        index,
        content_type: attachment.content_type.clone(),
        reason,
    };
    if let Some(problem) = content_type_problem(&attachment.content_type) {
        return Err(invalid(problem));
    }
    let content_type =
        ContentType::parse(&attachment.content_type).map_err(|e| invalid(e.to_string()))?;
    let body = bodies.body(index, &attachment.content)?;
    let filename = attachment.filename.clone();
    let kind = match &attachment.content_id {
        Some(cid) => lettre::message::Attachment::new_inline_with_name(cid.clone(), filename),
        None => lettre::message::Attachment::new(filename),
    };
    Ok(kind.body(body, content_type))
}
