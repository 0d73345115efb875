//! Reading a bounce: a delivery status notification (RFC 3464) as Gmail returns it, a
//! `multipart/report; report-type=delivery-status` from the mail delivery subsystem. Its
//! `message/delivery-status` part holds one block of fields per recipient
//! (`Final-Recipient`, `Action`, `Status`, `Diagnostic-Code`); `In-Reply-To` and
//! `References` (and the part's `X-Original-Message-ID`) name the message that bounced.

use mail_parser::{MessageParser, MimeHeaders as _};
use mailroom_jobs::{Address, JobId, message_id_for};

/// One failed recipient, as the notification reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The address, lower case.
    pub recipient: String,
    /// The enhanced status code, e.g. `5.1.1`.
    pub status: String,
    /// The remote server's answer, unfolded.
    pub diagnostic: String,
}

/// What a delivery status notification says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The `Message-ID`s the notification names for the message that bounced, most likely
    /// first (`In-Reply-To`, `X-Original-Message-ID`, then `References` from the last).
    pub original: Vec<String>,
    /// The recipients that failed or are delayed.
    pub failures: Vec<Failure>,
}

/// Whether a message's `From` and `Content-Type` fields (from a `format=metadata` read) are
/// those of a delivery status notification: a report of type delivery-status, or mail from
/// a mailer daemon.
#[must_use]
pub fn looks_like_bounce(from: Option<&str>, content_type: Option<&str>) -> bool {
    let report = content_type.is_some_and(|ct| {
        let ct = ct.to_ascii_lowercase();
        ct.contains("multipart/report") && ct.contains("delivery-status")
    });
    let daemon = from.is_some_and(|f| {
        let f = f.to_ascii_lowercase();
        f.contains("mailer-daemon@") || f.contains("postmaster@")
    });
    report || daemon
}

/// Reads a delivery status notification; `None` when `raw` has no `message/delivery-status`
/// part or it names no failed or delayed recipient.
#[must_use]
pub fn parse(raw: &[u8]) -> Option<Notification> {
    let message = MessageParser::default().parse(raw)?;
    let status_part = message.parts.iter().find(|part| {
        part.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("message")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("delivery-status"))
        })
    })?;
    let blocks = field_blocks(&String::from_utf8_lossy(status_part.contents()));
    let mut original: Vec<String> = Vec::new();
    let mut push = |id: &str| {
        let id = id.trim();
        if !id.is_empty() && !original.iter().any(|o| o == id) {
            original.push(id.to_owned());
        }
    };
    if let Some(id) = message.in_reply_to().as_text() {
        push(&format!("<{id}>"));
    }
    if let Some(id) = blocks
        .first()
        .and_then(|b| field(b, "x-original-message-id"))
    {
        push(id);
    }
    if let Some(ids) = message.references().as_text_list() {
        for id in ids.iter().rev() {
            push(&format!("<{id}>"));
        }
    }
    let failures: Vec<Failure> = blocks.iter().skip(1).filter_map(|b| failure(b)).collect();
    (!failures.is_empty()).then_some(Notification { original, failures })
}

/// A per-recipient block's failure, when its action is `failed` or `delayed`.
fn failure(block: &[(String, String)]) -> Option<Failure> {
    let action = field(block, "action")
        .unwrap_or("failed")
        .to_ascii_lowercase();
    if action != "failed" && action != "delayed" {
        return None;
    }
    let recipient =
        field(block, "final-recipient").or_else(|| field(block, "original-recipient"))?;
    let recipient = recipient
        .split_once(';')
        .map_or(recipient, |(_, address)| address)
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_lowercase();
    let status = field(block, "status")?
        .split_whitespace()
        .next()?
        .to_owned();
    Some(Failure {
        recipient,
        status,
        diagnostic: field(block, "diagnostic-code")
            .unwrap_or_default()
            .to_owned(),
    })
}

/// The value of field `name` (any case) in a block.
fn field<'a>(block: &'a [(String, String)], name: &str) -> Option<&'a str> {
    block
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The blocks of header-like fields of a delivery-status body (the per-message block first,
/// then one per recipient), each field unfolded.
fn field_blocks(body: &str) -> Vec<Vec<(String, String)>> {
    let mut blocks: Vec<Vec<(String, String)>> = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    for line in body.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            current.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    blocks
}

/// The job a `Message-ID` belongs to, when mailroom made it: `<JOB_ID@DOMAIN>` with the
/// sender's domain (mailroom's Message-IDs are `<{job id}@{domain of from}>`, so the id is
/// its own index). Anything else was not sent by mailroom.
#[must_use]
pub fn job_of(message_id: &str, sender: &str) -> Option<JobId> {
    let message_id = message_id.trim();
    let inner = message_id.strip_prefix('<')?.strip_suffix('>')?;
    let job: JobId = inner.rsplit_once('@')?.0.parse().ok()?;
    let from = Address::parse(sender).ok()?;
    message_id_for(&job, &from)
        .eq_ignore_ascii_case(message_id)
        .then_some(job)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUNCE: &str = "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\n\
To: news@acme.test\r\nSubject: Delivery Status Notification (Failure)\r\n\
In-Reply-To: <01HZX3Q4J5N6P7R8S9T0V1W2X3@acme.test>\r\n\
References: <01HZX3Q4J5N6P7R8S9T0V1W2X3@acme.test>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/report; boundary=\"b1\"; report-type=delivery-status\r\n\r\n\
--b1\r\nContent-Type: text/plain\r\n\r\nAddress not found\r\n\r\n\
--b1\r\nContent-Type: message/delivery-status\r\n\r\n\
Reporting-MTA: dns; googlemail.com\r\n\r\n\
Final-Recipient: rfc822; Gone@Example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n\
Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does not exist.\r\n \
Please try double-checking.\r\n\r\n\
--b1--\r\n";

    #[test]
    fn a_gmail_bounce_names_its_recipient_status_and_original() {
        let n = parse(BOUNCE.as_bytes()).expect("a notification");
        assert_eq!(n.original, ["<01HZX3Q4J5N6P7R8S9T0V1W2X3@acme.test>"]);
        assert_eq!(
            n.failures,
            [Failure {
                recipient: "gone@example.org".into(),
                status: "5.1.1".into(),
                diagnostic: "smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try double-checking.".into(),
            }]
        );
    }

    #[test]
    fn plain_mail_is_no_notification() {
        assert!(parse(b"From: a@b.example\r\nSubject: hi\r\n\r\nhello\r\n").is_none());
        assert!(!looks_like_bounce(
            Some("Ann <ann@b.example>"),
            Some("text/plain")
        ));
        assert!(looks_like_bounce(
            Some("Mail Delivery Subsystem <mailer-daemon@googlemail.com>"),
            None
        ));
    }

    #[test]
    fn only_mailroom_message_ids_of_the_sender_name_a_job() {
        let id = "01HZX3Q4J5N6P7R8S9T0V1W2X3";
        assert_eq!(
            job_of(&format!("<{id}@acme.test>"), "news@acme.test").map(|j| j.to_string()),
            Some(id.to_owned())
        );
        assert!(job_of(&format!("<{id}@other.test>"), "news@acme.test").is_none());
        assert!(job_of("<CAF=abc@mail.gmail.com>", "news@gmail.com").is_none());
        assert!(job_of(id, "news@acme.test").is_none());
    }
}
