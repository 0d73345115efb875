//! `[gmail]`: how the gmail transport sends, beyond Google's endpoints and limits.

use serde::{Deserialize, Serialize};

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
    /// `mailroom auth check --pool` also checks that the pool's address is a verified
    /// send-as alias of each member (`users.settings.sendAs.list`), asking for the extra
    /// scope `gmail.settings.basic` for that check only (and `auth login` asks for it).
    /// Default `false`.
    pub check_send_as: bool,
}

impl Default for GmailSection {
    fn default() -> Self {
        Self {
            check_before_resend: false,
            check_recent: 100,
            check_send_as: false,
        }
    }
}
