//! Rendering a job into an RFC 5322 / MIME message with lettre.

use std::borrow::Cow;
use std::time::SystemTime;

use chrono::{DateTime, Datelike, Utc};
use lettre::Message;
use lettre::message::header::{
    ContentTransferEncoding, ContentType, HeaderName, HeaderValue, MIME_VERSION_1_0,
};
use lettre::message::{Body, MultiPart, SinglePart};

use crate::text::{content_type_problem, header_name_problem};
use crate::{Address, Attachment, EmailJob, EmailJobV1, JobId, RenderError};

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
    format!("<{id}@{}>", ascii_domain(from.domain()))
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
    /// recipients from it), `Reply-To`, `Subject` (RFC 2047 encoded when not
    /// ASCII), `Date`, `Message-ID` ([`message_id_for`]), `In-Reply-To` and
    /// `References` from the thread hint, then the extra headers.
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
        let mut builder = Message::builder()
            .keep_bcc()
            .from(self.from.as_mailbox().clone());
        for address in &self.to {
            builder = builder.to(address.as_mailbox().clone());
        }
        for address in &self.cc {
            builder = builder.cc(address.as_mailbox().clone());
        }
        for address in &self.bcc {
            builder = builder.bcc(address.as_mailbox().clone());
        }
        for address in &self.reply_to {
            builder = builder.reply_to(address.as_mailbox().clone());
        }
        builder = builder
            .subject(self.subject.clone())
            .date(SystemTime::from(date))
            .message_id(Some(message_id.clone()));
        if let Some(thread) = &self.thread {
            if let Some(id) = &thread.in_reply_to {
                builder = builder.in_reply_to(id.clone());
            }
            if !thread.references.is_empty() {
                builder = builder.references(thread.references.join(" "));
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
            builder = builder.raw_header(HeaderValue::new(header_name, value.clone()));
        }

        // A lone text or HTML body goes in as the message body itself, so
        // that it is not given the trailing CRLF lettre adds to a MIME part.
        let leaf = |builder: lettre::message::MessageBuilder, kind, body: String| {
            builder.header(MIME_VERSION_1_0).header(kind).body(body)
        };
        let message = match self.body()? {
            None => leaf(builder, ContentType::TEXT_PLAIN, String::new()),
            Some(Part::Text(text)) => leaf(builder, ContentType::TEXT_PLAIN, text),
            Some(Part::Html(html)) => leaf(builder, ContentType::TEXT_HTML, html),
            Some(Part::Multi(part)) => builder.multipart(part),
        }
        .map_err(|e| RenderError::Build(e.to_string()))?;
        Ok(Rendered {
            bytes: message.formatted(),
            message_id,
        })
    }

    /// The MIME body, or `None` when the job has no content at all.
    fn body(&self) -> Result<Option<Part>, RenderError> {
        let present = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        let mut content = match (present(&self.text), present(&self.html)) {
            (Some(text), Some(html)) => {
                Some(Part::Multi(MultiPart::alternative_plain_html(text, html)))
            }
            (Some(text), None) => Some(Part::Text(text)),
            (None, Some(html)) => Some(Part::Html(html)),
            (None, None) => None,
        };

        let mut inline = Vec::new();
        let mut attached = Vec::new();
        for (index, attachment) in self.attachments.iter().enumerate() {
            let part = attachment_part(index, attachment)?;
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

/// The body of a message or of a multipart.
enum Part {
    Text(String),
    Html(String),
    Multi(MultiPart),
}

/// `container` holding `first` (if any) followed by `rest`.
fn wrap(container: MultiPart, first: Option<Part>, rest: Vec<SinglePart>) -> MultiPart {
    let container = match first {
        Some(Part::Text(text)) => container.singlepart(SinglePart::plain(text)),
        Some(Part::Html(html)) => container.singlepart(SinglePart::html(html)),
        Some(Part::Multi(part)) => container.multipart(part),
        None => container,
    };
    rest.into_iter().fold(container, MultiPart::singlepart)
}

fn attachment_part(index: usize, attachment: &Attachment) -> Result<SinglePart, RenderError> {
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
    let body = Body::new_with_encoding(attachment.content.clone(), ContentTransferEncoding::Base64)
        .map_err(|_| RenderError::Build("base64 refused the attachment content".into()))?;
    let filename = attachment.filename.clone();
    let kind = match &attachment.content_id {
        Some(cid) => lettre::message::Attachment::new_inline_with_name(cid.clone(), filename),
        None => lettre::message::Attachment::new(filename),
    };
    Ok(kind.body(body, content_type))
}
