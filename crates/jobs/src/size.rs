//! The size rule of a job: the rendered message, with its metadata and tags, fits in the
//! policy's `max_message_bytes`. Cheap bounds decide most jobs; only one near the limit is
//! rendered to be measured.

use chrono::DateTime;

use crate::{EmailJobV1, ValidationError};

impl EmailJobV1 {
    /// The rendered message, then the metadata, then the tags must fit in `max` together:
    /// the job is stored and held with all three. The error names the first that goes over.
    pub(crate) fn check_size(&self, max: usize) -> Result<(), ValidationError> {
        let lower_bound = self.size_lower_bound();
        if lower_bound > max {
            return Err(ValidationError::new(
                "message",
                format!(
                    "rendered message would be at least {lower_bound} bytes, over the limit of {max}"
                ),
            ));
        }
        let (metadata, tags) = self.caller_bytes();
        if self.size_upper_bound() + metadata + tags <= max {
            return Ok(());
        }
        // Close to the limit: render and count. The Date header has a fixed width, so the
        // date does not change the size.
        let rendered = self
            .render(DateTime::UNIX_EPOCH)
            .map_err(|e| ValidationError::new("message", format!("cannot be rendered: {e}")))?;
        let size = rendered.bytes.len();
        if size > max {
            return Err(ValidationError::new(
                "message",
                format!("rendered message is {size} bytes, over the limit of {max}"),
            ));
        }
        for (field, total) in [
            ("metadata", size + metadata),
            ("tags", size + metadata + tags),
        ] {
            if total > max {
                return Err(ValidationError::new(
                    field,
                    format!(
                        "the rendered message ({size} bytes) with metadata and tags \
                         ({} bytes) is {total} bytes, over the limit of {max}",
                        metadata + tags
                    ),
                ));
            }
        }
        Ok(())
    }

    /// A cheap upper bound of the rendered size, so that only messages near the limit are
    /// rendered to be measured: bodies at worst quoted-printable (under 4 bytes a byte with
    /// soft line breaks), attachments base64 with line breaks (under 1.5 bytes a byte), header
    /// text at worst RFC 2047 encoded and folded (under 4 bytes a byte), plus room for the
    /// fixed headers and MIME structure.
    fn size_upper_bound(&self) -> usize {
        let body = |part: &Option<String>| part.as_ref().map_or(0, String::len);
        let attachments: usize = self
            .attachments
            .iter()
            .map(|a| a.content.len() * 3 / 2 + 4 * (a.filename.len() + a.content_type.len()) + 512)
            .sum();
        let thread = self.thread.as_ref().map_or(0, |t| {
            t.thread_id.as_ref().map_or(0, String::len)
                + t.in_reply_to.as_ref().map_or(0, String::len)
                + t.references.iter().map(String::len).sum::<usize>()
        });
        // An address is written as its name, quoted (each character at most escaped), then
        // `<addr-spec>`: counted without formatting it.
        let written = |a: &crate::Address| 2 * a.name().map_or(0, str::len) + a.email().len() + 5;
        let header_text = self.subject.len()
            + written(&self.from)
            + self
                .recipients()
                .chain(&self.reply_to)
                .map(|a| written(a) + 2)
                .sum::<usize>()
            + self
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len() + 4)
                .sum::<usize>()
            + thread;
        4 * (body(&self.text) + body(&self.html) + header_text) + attachments + 4096
    }

    /// A cheap lower bound of the rendered size: the bodies as they are and
    /// the attachments in base64 without line breaks (also about the bytes the job's payload
    /// takes in Redis, less its headers).
    #[must_use]
    pub fn size_lower_bound(&self) -> usize {
        let body = |part: &Option<String>| part.as_ref().map_or(0, String::len);
        let attachments: usize = self
            .attachments
            .iter()
            .map(|a| a.content.len().div_ceil(3) * 4)
            .sum();
        body(&self.text) + body(&self.html) + attachments
    }
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;

    use crate::{Address, Attachment, EmailJobV1, ThreadHint};

    /// The upper bound lets a message skip rendering: it must never be below the real size.
    #[test]
    fn size_upper_bound_is_never_below_the_rendered_size() {
        let awkward = "Grüße 👋 «ñ» = ? _ \r\n".repeat(40);
        let binary: Vec<u8> = (0..=255u8).cycle().take(70_001).collect();
        let jobs = [
            EmailJobV1::builder(Address::parse("a@example.com").unwrap())
                .to(Address::parse("b@example.com").unwrap())
                .subject("x")
                .text("y")
                .build_v1(),
            EmailJobV1::builder(Address::parse("Zoë Déjà-vu <zoe@example.com>").unwrap())
                .to(Address::parse("\"Quoted, Name\" <q@example.com>").unwrap())
                .cc(Address::parse("Ünïcödé Ñame <u@example.com>").unwrap())
                .subject(awkward.replace("\r\n", " "))
                .text(awkward.clone())
                .html(format!("<p>{awkward}</p>"))
                .attachment(Attachment::new(
                    "résumé été.pdf",
                    "application/pdf",
                    binary.clone(),
                ))
                .attachment(Attachment::new("notes.txt", "text/plain", awkward.clone()))
                .header("X-Campaign", "été 2026 ".repeat(30).trim())
                .thread(ThreadHint::reply_to("<prev@example.com>"))
                .build_v1(),
            EmailJobV1::builder(Address::parse("a@example.com").unwrap())
                .bcc(Address::parse("b@example.com").unwrap())
                .subject("only an attachment")
                .attachment(Attachment::new("x.bin", "application/octet-stream", binary))
                .build_v1(),
        ];
        for job in jobs {
            let real = job.render(DateTime::UNIX_EPOCH).unwrap().bytes.len();
            let bound = job.size_upper_bound();
            assert!(
                bound >= real,
                "bound {bound} below the rendered {real} bytes"
            );
        }
    }
}
