//! [`EmailJobBuilder`]: building jobs from Rust code.

use chrono::{DateTime, Utc};

use crate::{Address, Attachment, EmailJob, EmailJobV1, JobId, ThreadHint};

/// Builds an [`EmailJob`] field by field; start with [`EmailJobV1::builder`].
///
/// Building never fails: addresses are already parsed, and every other rule
/// is checked by [`EmailJob::validate`].
///
/// ```
/// use mailroom_jobs::{Address, Attachment, EmailJobV1, Policy};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let job = EmailJobV1::builder("Mailroom <noreply@example.com>".parse()?)
///     .to("Bob <bob@example.com>".parse()?)
///     .cc(Address::parse("carol@example.com")?)
///     .subject("Your report")
///     .text("The report is attached.")
///     .attachment(Attachment::new("report.csv", "text/csv", "a,b\n1,2\n"))
///     .header("List-Unsubscribe", "<mailto:unsubscribe@example.com>")
///     .tag("reports")
///     .build();
///
/// job.validate(&Policy::default())?;
/// assert_eq!(job.v1().to.len(), 1);
/// let json = job.to_json();
/// assert_eq!(mailroom_jobs::EmailJob::from_json(&json)?, job);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct EmailJobBuilder {
    job: EmailJobV1,
}

impl EmailJobV1 {
    /// Starts a job from `from` with a fresh id and nothing else set.
    pub fn builder(from: Address) -> EmailJobBuilder {
        EmailJobBuilder {
            job: EmailJobV1 {
                id: JobId::new(),
                idempotency_key: None,
                from,
                to: Vec::new(),
                cc: Vec::new(),
                bcc: Vec::new(),
                reply_to: Vec::new(),
                subject: String::new(),
                text: None,
                html: None,
                attachments: Vec::new(),
                headers: Default::default(),
                send_at: None,
                expires_at: None,
                metadata: Default::default(),
                tags: Vec::new(),
                thread: None,
                list: None,
                transactional: false,
                template: None,
            },
        }
    }
}

impl EmailJobBuilder {
    /// Replaces the generated id.
    pub fn id(mut self, id: JobId) -> Self {
        self.job.id = id;
        self
    }

    /// Sets the idempotency key.
    pub fn idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.job.idempotency_key = Some(key.into());
        self
    }

    /// Adds a `To` recipient.
    pub fn to(mut self, address: Address) -> Self {
        self.job.to.push(address);
        self
    }

    /// Adds a `Cc` recipient.
    pub fn cc(mut self, address: Address) -> Self {
        self.job.cc.push(address);
        self
    }

    /// Adds a `Bcc` recipient.
    pub fn bcc(mut self, address: Address) -> Self {
        self.job.bcc.push(address);
        self
    }

    /// Adds a `Reply-To` address.
    pub fn reply_to(mut self, address: Address) -> Self {
        self.job.reply_to.push(address);
        self
    }

    /// Sets the subject.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.job.subject = subject.into();
        self
    }

    /// Sets the plain-text body.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.job.text = Some(text.into());
        self
    }

    /// Sets the HTML body.
    pub fn html(mut self, html: impl Into<String>) -> Self {
        self.job.html = Some(html.into());
        self
    }

    /// Adds an attachment.
    pub fn attachment(mut self, attachment: Attachment) -> Self {
        self.job.attachments.push(attachment);
        self
    }

    /// Sets an extra header (replacing one of the same name).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.job.headers.insert(name.into(), value.into());
        self
    }

    /// Sets the earliest send time.
    pub fn send_at(mut self, at: DateTime<Utc>) -> Self {
        self.job.send_at = Some(at);
        self
    }

    /// Sets the expiry time.
    pub fn expires_at(mut self, at: DateTime<Utc>) -> Self {
        self.job.expires_at = Some(at);
        self
    }

    /// Sets a metadata entry (replacing one with the same key).
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.job.metadata.insert(key.into(), value.into());
        self
    }

    /// Adds a tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.job.tags.push(tag.into());
        self
    }

    /// Sets the thread hint.
    pub fn thread(mut self, thread: ThreadHint) -> Self {
        self.job.thread = Some(thread);
        self
    }

    /// Sends the message on a mailing list (`List-Id`, one-click unsubscribe, the list's
    /// suppressions).
    pub fn list(mut self, list: crate::MailingList) -> Self {
        self.job.list = Some(list);
        self
    }

    /// Marks the message transactional: sent even to suppressed addresses.
    pub fn transactional(mut self, transactional: bool) -> Self {
        self.job.transactional = transactional;
        self
    }

    /// Renders the subject and bodies from a stored template at enqueue.
    pub fn template(mut self, template: crate::TemplateRef) -> Self {
        self.job.template = Some(template);
        self
    }

    /// The finished job, wrapped in its version.
    #[must_use]
    pub fn build(self) -> EmailJob {
        EmailJob::V1(self.job)
    }

    /// The finished job's fields.
    #[must_use]
    pub fn build_v1(self) -> EmailJobV1 {
        self.job
    }
}
