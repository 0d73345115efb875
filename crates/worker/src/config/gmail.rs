//! `[gmail]`: how the gmail transport sends, beyond Google's endpoints and limits.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// `https://www.googleapis.com/auth/gmail.readonly`, asked for with `gmail.read_bounces`.
pub const GMAIL_READONLY_SCOPE: &str = "https://www.googleapis.com/auth/gmail.readonly";
/// `https://www.googleapis.com/auth/gmail.metadata`, asked for with
/// `gmail.check_before_resend` (unless `gmail.read_bounces` asks for `gmail.readonly`).
pub const GMAIL_METADATA_SCOPE: &str = "https://www.googleapis.com/auth/gmail.metadata";

/// `[gmail]`: the gmail transport's sending behaviour.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GmailSection {
    /// Before sending a job again after an earlier delivery may have gone out (its attempts
    /// are above 0 or its deliveries above 1), look for its `Message-ID` among the sender's
    /// recent SENT messages, and record it as sent instead of sending it twice when it is
    /// there. Needs the `gmail.metadata` scope. Default `false`.
    pub check_before_resend: bool,
    /// How many of the sender's most recent SENT messages that check lists (one
    /// `messages.list` page) and looks into, newest first, until one is older than the job.
    /// Default 100.
    pub check_recent: u32,
    /// Read bounces back from each sender's mailbox (Gmail's delivery status notifications),
    /// record them in the job's status and suppress hard-bounced recipients. Needs the
    /// `gmail.readonly` scope (which also serves `check_before_resend`). Default `false`.
    pub read_bounces: bool,
    /// How often the bounce reader looks into the senders' mailboxes for new mail (one
    /// `users.history.list` call per sender). Default `1m`.
    #[serde(with = "humantime_serde")]
    pub bounce_poll: Duration,
    /// `mailroom auth check --pool` also checks that the pool's address is a verified
    /// send-as alias of each member (`users.settings.sendAs.list`), asking for the extra
    /// scope `gmail.settings.basic` for that check only (and `auth login` asks for it).
    /// Default `false`.
    pub check_send_as: bool,
}

impl GmailSection {
    /// The reading scope the senders' tokens need besides `gmail.send`: `gmail.readonly` to
    /// read bounces (their status is in the body, which `gmail.metadata` cannot read; and a
    /// token that carries `gmail.metadata` gets its limits whatever else it carries, so it is
    /// not asked for as well), else `gmail.metadata` for the check before a resend, else none.
    #[must_use]
    pub fn read_scope(&self) -> Option<&'static str> {
        if self.read_bounces {
            Some(GMAIL_READONLY_SCOPE)
        } else if self.check_before_resend {
            Some(GMAIL_METADATA_SCOPE)
        } else {
            None
        }
    }
}

impl Default for GmailSection {
    fn default() -> Self {
        Self {
            check_before_resend: false,
            check_recent: 100,
            read_bounces: false,
            bounce_poll: Duration::from_secs(60),
            check_send_as: false,
        }
    }
}
