//! The rules a job must satisfy before it is sent (the size rule is in `size.rs`).

use crate::text::{
    MAX_LINE_OCTETS, content_type_problem, forbidden_control, header_name_problem, is_msg_id,
    is_printable_ascii, longest_word,
};
use crate::{Address, EmailJob, EmailJobV1, Policy, ValidationError};

/// Longest accepted idempotency key, in characters.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 200;

/// Most bytes of caller data a job may carry: the keys and values of `metadata` and the
/// `tags`, together. They are stored with the job and echoed in its status, never sent.
pub const MAX_CALLER_DATA_BYTES: usize = 64 * 1024;

type Check = Result<(), ValidationError>;

impl EmailJob {
    /// Checks the job against `policy` and the rules every job must follow,
    /// returning the first violation. See [`EmailJobV1::validate`].
    ///
    /// # Errors
    ///
    /// [`ValidationError`] naming the offending field.
    pub fn validate(&self, policy: &Policy) -> Check {
        self.v1().validate(policy)
    }
}

impl EmailJobV1 {
    /// Checks the job, returning the first violation, with its field:
    ///
    /// - at least one recipient in `to`, `cc` or `bcc` (`to`), and at most
    ///   `policy.max_recipients` in total (`to`);
    /// - `from` is allowed by `policy.allowed_senders`, if set, and its
    ///   address has none of `{ } : " \` or white space, since it names the
    ///   sender's keys in Redis and its Google account (`from`);
    /// - no CR, LF or NUL in the subject, display names, header values,
    ///   attachment file names and content types, the idempotency key or
    ///   the thread hint (header injection);
    /// - extra header names are RFC 5322 field names, unique ignoring case,
    ///   neither in [`RESERVED_HEADERS`](crate::RESERVED_HEADERS) nor
    ///   `Content-*`, and values of printable ASCII (written as they are,
    ///   folded only at spaces) have no word too long for a header line of
    ///   998 octets (`headers[Name]`);
    /// - the message has text, html or an attachment (`text`);
    /// - `expires_at` is not earlier than `send_at` (`expires_at`);
    /// - the idempotency key has 1 to 200 characters (`idempotency_key`);
    /// - attachments have a file name and a non-multipart MIME content type
    ///   (`attachments[i].filename`, `attachments[i].content_type`), and a
    ///   `content_id`, if any, is printable ASCII without spaces or `<>`;
    /// - thread message ids look like `<id@host>` (`thread.in_reply_to`,
    ///   `thread.references[i]`);
    /// - a job with a `list` has exactly one recipient (`list`), and the list an id of ASCII letters, digits, `.`, `-` and `_` (`list.id`) and its
    ///   `unsubscribe`, if any, is a `mailto:` URI (`list.unsubscribe`);
    /// - a `template` has been rendered (by the enqueue) (`template`);
    /// - `metadata` and `tags` hold at most [`MAX_CALLER_DATA_BYTES`] in all
    ///   (`metadata` when it alone is over, else `tags`);
    /// - the rendered message fits in `policy.max_message_bytes` (`message`), and so does
    ///   the rendered message with the metadata and tags, counted as the bytes of their keys,
    ///   values and tags (`metadata`, or `tags` when the message and the metadata fit).
    ///
    /// # Errors
    ///
    /// [`ValidationError`] naming the offending field.
    pub fn validate(&self, policy: &Policy) -> Check {
        self.check_addresses(policy)?;
        if self.template.as_ref().is_some_and(|t| !t.rendered) {
            return Err(ValidationError::new(
                "template",
                "not rendered: enqueue through mailroom-enqueue, `mailroom send` or the HTTP \
                 API, which render templates",
            ));
        }
        no_control("subject", &self.subject)?;
        self.check_idempotency_key()?;
        self.check_headers()?;
        self.check_body()?;
        self.check_thread()?;
        self.check_caller_data()?;
        if let Some(list) = &self.list {
            list.check()?;
            if self.recipients().count() != 1 {
                return Err(ValidationError::new(
                    "list",
                    "a list message goes to exactly one recipient, whose unsubscribe link it \
                     carries: send one job per recipient",
                ));
            }
        }
        match (self.send_at, self.expires_at) {
            (Some(send_at), Some(expires_at)) if expires_at < send_at => {
                return Err(ValidationError::new(
                    "expires_at",
                    format!("{expires_at} is earlier than send_at {send_at}"),
                ));
            }
            _ => {}
        }
        self.check_size(policy.max_message_bytes)
    }

    fn check_addresses(&self, policy: &Policy) -> Check {
        let count = self.recipients().count();
        if count == 0 {
            return Err(ValidationError::new(
                "to",
                "no recipients: to, cc and bcc are all empty",
            ));
        }
        if count > policy.max_recipients {
            return Err(ValidationError::new(
                "to",
                format!(
                    "{count} recipients across to, cc and bcc, more than the limit of {}",
                    policy.max_recipients
                ),
            ));
        }
        let allowed = policy.allowed_senders.as_ref();
        if allowed.is_some_and(|list| !list.allows(&self.from)) {
            return Err(ValidationError::new(
                "from",
                format!("sender {} is not on the allowlist", self.from.email()),
            ));
        }
        if let Some(c) = self
            .from
            .email()
            .chars()
            .find(|c| matches!(c, '{' | '}' | ':' | '"' | '\\') || c.is_whitespace())
        {
            return Err(ValidationError::new(
                "from",
                format!("a sender address cannot contain {c:?}"),
            ));
        }
        display_name(|| "from".to_owned(), &self.from)?;
        for (list, addresses) in [
            ("to", &self.to),
            ("cc", &self.cc),
            ("bcc", &self.bcc),
            ("reply_to", &self.reply_to),
        ] {
            for (i, address) in addresses.iter().enumerate() {
                display_name(|| format!("{list}[{i}]"), address)?;
            }
        }
        Ok(())
    }

    /// Bytes of `metadata` (keys and values) and of `tags`.
    pub(crate) fn caller_bytes(&self) -> (usize, usize) {
        let metadata = self.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        let tags = self.tags.iter().map(String::len).sum();
        (metadata, tags)
    }

    fn check_caller_data(&self) -> Check {
        let (metadata, tags) = self.caller_bytes();
        let total = metadata + tags;
        if total > MAX_CALLER_DATA_BYTES {
            let field = if metadata > MAX_CALLER_DATA_BYTES {
                "metadata"
            } else {
                "tags"
            };
            return Err(ValidationError::new(
                field,
                format!(
                    "metadata and tags hold {total} bytes, more than the limit of \
                     {MAX_CALLER_DATA_BYTES}"
                ),
            ));
        }
        Ok(())
    }

    fn check_idempotency_key(&self) -> Check {
        let Some(key) = &self.idempotency_key else {
            return Ok(());
        };
        let field = "idempotency_key";
        if key.is_empty() {
            return Err(ValidationError::new(field, "must not be empty"));
        }
        let chars = key.chars().count();
        if chars > MAX_IDEMPOTENCY_KEY_CHARS {
            return Err(ValidationError::new(
                field,
                format!("{chars} characters, more than {MAX_IDEMPOTENCY_KEY_CHARS}"),
            ));
        }
        no_control(field, key)
    }

    fn check_headers(&self) -> Check {
        for (i, (name, value)) in self.headers.iter().enumerate() {
            let field = format!("headers[{name}]");
            if let Some(problem) = header_name_problem(name) {
                return Err(ValidationError::new(field, problem));
            }
            if let Some(other) = self
                .headers
                .keys()
                .take(i)
                .find(|k| k.eq_ignore_ascii_case(name))
            {
                return Err(ValidationError::new(
                    field,
                    format!("same name as header {other:?} (names ignore case)"),
                ));
            }
            if let Some(problem) = forbidden_control(value) {
                return Err(ValidationError::new(field, format!("value {problem}")));
            }
            let room = MAX_LINE_OCTETS - name.len() - ": ".len();
            let longest = longest_word(value);
            if is_printable_ascii(value) && longest > room {
                return Err(ValidationError::new(
                    field,
                    format!(
                        "value has a word of {longest} characters; a header line has room for {room}"
                    ),
                ));
            }
        }
        Ok(())
    }

    fn check_body(&self) -> Check {
        let has = |part: &Option<String>| part.as_deref().is_some_and(|s| !s.is_empty());
        if !has(&self.text) && !has(&self.html) && self.attachments.is_empty() {
            return Err(ValidationError::new(
                "text",
                "empty message: no text, html or attachments",
            ));
        }
        for (i, attachment) in self.attachments.iter().enumerate() {
            let field = format!("attachments[{i}].filename");
            if attachment.filename.trim().is_empty() {
                return Err(ValidationError::new(field, "must not be empty"));
            }
            no_control(&field, &attachment.filename)?;
            let field = format!("attachments[{i}].content_type");
            no_control(&field, &attachment.content_type)?;
            content_type_problem(&attachment.content_type)
                .map_or(Ok(()), |problem| Err(ValidationError::new(&field, problem)))?;
            let cid = attachment.content_id.as_deref();
            if cid.is_some_and(|cid| !is_msg_id(&format!("<{cid}>"))) {
                return Err(ValidationError::new(
                    format!("attachments[{i}].content_id"),
                    "must be printable ASCII without spaces or angle brackets",
                ));
            }
        }
        Ok(())
    }

    fn check_thread(&self) -> Check {
        let Some(thread) = &self.thread else {
            return Ok(());
        };
        if let Some(id) = &thread.thread_id {
            if id.is_empty() {
                return Err(ValidationError::new(
                    "thread.thread_id",
                    "must not be empty",
                ));
            }
            no_control("thread.thread_id", id)?;
        }
        if let Some(id) = &thread.in_reply_to {
            msg_id("thread.in_reply_to", id)?;
        }
        for (i, id) in thread.references.iter().enumerate() {
            msg_id(&format!("thread.references[{i}]"), id)?;
        }
        Ok(())
    }
}

fn no_control(field: &str, value: &str) -> Check {
    forbidden_control(value).map_or(Ok(()), |problem| Err(ValidationError::new(field, problem)))
}

/// `field` names the address in the error; it is built only for one.
fn display_name(field: impl FnOnce() -> String, address: &Address) -> Check {
    address.name_problem().map_or(Ok(()), |problem| {
        Err(ValidationError::new(
            field(),
            format!("display name {problem}"),
        ))
    })
}

fn msg_id(field: &str, id: &str) -> Check {
    no_control(field, id)?;
    if is_msg_id(id) {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            format!("{id:?} is not a message id like <id@example.com>"),
        ))
    }
}
