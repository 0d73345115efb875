//! Bounces: a message sent to a recipient a test marked undeliverable
//! ([`FakeGoogle::undeliverable`]) comes back into the sender's inbox as
//! Gmail returns it: from `Mail Delivery Subsystem
//! <mailer-daemon@googlemail.com>`, `multipart/report;
//! report-type=delivery-status` with a human-readable part, a
//! `message/delivery-status` part (RFC 3464: `Final-Recipient`, `Action`,
//! `Status`, `Diagnostic-Code`) and the original's header fields
//! (`text/rfc822-headers`); `In-Reply-To` and `References` name the
//! original `Message-ID`, and a permanent failure carries
//! `X-Failed-Recipients`.

use chrono::Utc;

use super::FakeGoogle;
use super::ids::{new_message_id, random_lower_alnum, random_token};
use super::mime::{header_block, header_value, recipients};
use super::state::State;

/// How a recipient fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Undeliverable {
    /// The address does not exist: a permanent failure, status 5.1.1.
    Hard,
    /// The mailbox is full: a delay, status 4.2.2 (Gmail keeps trying).
    Soft,
}

impl Undeliverable {
    fn status(self) -> &'static str {
        match self {
            Self::Hard => "5.1.1",
            Self::Soft => "4.2.2",
        }
    }

    fn diagnostic(self) -> &'static str {
        match self {
            Self::Hard => {
                "smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try\r\n double-checking the recipient's email address for typos or\r\n unnecessary spaces. https://support.google.com/mail/?p=NoSuchUser"
            }
            Self::Soft => {
                "smtp; 452-4.2.2 The recipient's inbox is out of storage space.\r\n Please direct the recipient to https://support.google.com/mail/?p=OverQuotaTemp"
            }
        }
    }
}

/// Puts a bounce into `user`'s inbox for each recipient of `raw` (a message
/// `user` just sent) that is marked undeliverable.
pub(crate) fn bounce_undeliverable(state: &mut State, user: &str, raw: &[u8]) {
    for recipient in recipients(raw) {
        if let Some(&kind) = state.undeliverable.get(&recipient) {
            let bounce = bounce_message(user, raw, &recipient, kind);
            state.mailboxes.receive(user, new_message_id(), bounce);
        }
    }
}

/// The bounce Gmail returns to `sender` for `original` and `recipient`.
fn bounce_message(sender: &str, original: &[u8], recipient: &str, kind: Undeliverable) -> Vec<u8> {
    let original_id = header_value(original, "message-id").unwrap_or_default();
    let date = Utc::now().to_rfc2822();
    let boundary = format!("000000000000{}", random_lower_alnum(16));
    let (subject, action, summary) = match kind {
        Undeliverable::Hard => (
            "Delivery Status Notification (Failure)",
            "failed",
            format!(
                "** Address not found **\r\n\r\nYour message wasn't delivered to {recipient} because the address couldn't be found, or is unable to receive mail."
            ),
        ),
        Undeliverable::Soft => (
            "Delivery Status Notification (Delay)",
            "delayed",
            format!(
                "** Message not delivered yet **\r\n\r\nThere was a temporary problem delivering your message to {recipient}. Gmail will retry for 47 more hours."
            ),
        ),
    };
    let failed = match kind {
        Undeliverable::Hard => format!("X-Failed-Recipients: {recipient}\r\n"),
        Undeliverable::Soft => String::new(),
    };
    let mut m = format!(
        "Delivered-To: {sender}\r\nReturn-Path: <>\r\n{failed}Auto-Submitted: auto-replied\r\n\
         Message-ID: <{id}@mx.google.com>\r\nDate: {date}\r\n\
         From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\nTo: {sender}\r\n\
         Subject: {subject}\r\nReferences: {original_id}\r\nIn-Reply-To: {original_id}\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; boundary=\"{boundary}\"; report-type=delivery-status\r\n\r\n",
        id = random_token(24),
    );
    m.push_str(&format!(
        "--{boundary}\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\n\r\n{summary}\r\n\r\n\
         The response was:\r\n\r\n{}\r\n\r\n",
        kind.diagnostic().trim_start_matches("smtp; ")
    ));
    m.push_str(&format!(
        "--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n\
         Reporting-MTA: dns; googlemail.com\r\nArrival-Date: {date}\r\n\
         X-Original-Message-ID: {original_id}\r\n\r\n\
         Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n\
         Remote-MTA: dns; mx.{domain}.\r\nDiagnostic-Code: {diagnostic}\r\n\
         Last-Attempt-Date: {date}\r\n\r\n",
        status = kind.status(),
        diagnostic = kind.diagnostic(),
        domain = recipient.rsplit('@').next().unwrap_or_default(),
    ));
    m.push_str(&format!(
        "--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
    ));
    let mut bytes = m.into_bytes();
    bytes.extend_from_slice(header_block(original));
    bytes.extend_from_slice(format!("\r\n\r\n--{boundary}--\r\n").as_bytes());
    bytes
}

impl FakeGoogle {
    /// Marks `address` undeliverable: every message sent to it from now on
    /// is accepted, then bounces back into its sender's inbox (a new
    /// message labelled `INBOX`, with the next history id).
    pub fn undeliverable(&self, address: &str, kind: Undeliverable) {
        self.shared
            .lock()
            .undeliverable
            .insert(address.trim().to_ascii_lowercase(), kind);
    }

    /// Forgets `user`'s mailbox history so far: `users.history.list` from
    /// any history id handed out before answers 404, as Gmail answers a
    /// start id older than the history it keeps (about a week).
    pub fn forget_history(&self, user: &str) {
        self.shared
            .lock()
            .mailboxes
            .forget(&user.trim().to_ascii_lowercase());
    }

    /// Accepts `raw` as sent from `user`'s mailbox outside mailroom (from
    /// Gmail's own web client, say): recorded like an API send, and bounced
    /// like one.
    pub fn send_directly(&self, user: &str, raw: &[u8]) {
        let mut state = self.shared.lock();
        let user = user.trim().to_ascii_lowercase();
        super::gmail::record(&mut state, user, raw.to_vec(), None);
    }

    /// The bounces and other messages received into `user`'s inbox, oldest
    /// first, as raw RFC 822 bytes.
    pub fn received_by(&self, user: &str) -> Vec<Vec<u8>> {
        let user = user.trim().to_ascii_lowercase();
        self.shared
            .lock()
            .mailboxes
            .received
            .iter()
            .filter(|m| m.user == user)
            .map(|m| m.raw.clone())
            .collect()
    }
}
