//! The mailboxes' history and received mail: every message added to a
//! mailbox (a sent one, labelled `SENT`; a received one, labelled `INBOX` and
//! `UNREAD`) takes the next history id, as Gmail's `messageAdded` history
//! records do. History ids grow across all mailboxes, so one mailbox's ids
//! increase with gaps, as Gmail's do. Sent messages themselves stay in
//! `State::sent`; received ones (bounces) are kept here.

use std::collections::HashMap;
use std::time::SystemTime;

/// The first history id handed out (Gmail's are large numbers).
const FIRST_HISTORY_ID: u64 = 100_000;

/// One `messageAdded` history record.
#[derive(Debug, Clone)]
pub(crate) struct HistoryRecord {
    pub id: u64,
    pub user: String,
    pub message_id: String,
    pub thread_id: String,
    pub labels: Vec<&'static str>,
}

/// A message received into a mailbox.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub user: String,
    pub id: String,
    pub thread_id: String,
    pub raw: Vec<u8>,
    pub at: SystemTime,
}

/// Why history before a start id cannot be listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HistoryGone;

/// Every mailbox's history and received messages.
#[derive(Debug)]
pub(crate) struct Mailboxes {
    next_history: u64,
    history: Vec<HistoryRecord>,
    pub received: Vec<Received>,
    /// Per user: history ids below this one are no longer available (Gmail
    /// keeps about a week of history).
    gone_before: HashMap<String, u64>,
}

impl Default for Mailboxes {
    fn default() -> Self {
        Self {
            next_history: FIRST_HISTORY_ID,
            history: Vec::new(),
            received: Vec::new(),
            gone_before: HashMap::new(),
        }
    }
}

impl Mailboxes {
    /// Records that message `id` was added to `user`'s mailbox with
    /// `labels`; returns its history id.
    pub(crate) fn added(
        &mut self,
        user: &str,
        id: &str,
        thread_id: &str,
        labels: Vec<&'static str>,
    ) -> u64 {
        let history_id = self.next_history;
        self.next_history += 1;
        self.history.push(HistoryRecord {
            id: history_id,
            user: user.to_owned(),
            message_id: id.to_owned(),
            thread_id: thread_id.to_owned(),
            labels,
        });
        history_id
    }

    /// Receives `raw` into `user`'s inbox as message `id`.
    pub(crate) fn receive(&mut self, user: &str, id: String, raw: Vec<u8>) {
        self.added(user, &id, &id, vec!["INBOX", "UNREAD"]);
        self.received.push(Received {
            user: user.to_owned(),
            thread_id: id.clone(),
            id,
            raw,
            at: SystemTime::now(),
        });
    }

    /// The mailbox's current history id (the latest handed out anywhere:
    /// ids are not contiguous per mailbox).
    pub(crate) fn current(&self) -> u64 {
        self.next_history - 1
    }

    /// `user`'s history records after `start`, oldest first, with `label`
    /// when given; `Err` when history at `start` is no longer kept.
    pub(crate) fn since(
        &self,
        user: &str,
        start: u64,
        label: Option<&str>,
    ) -> Result<Vec<&HistoryRecord>, HistoryGone> {
        if start < self.gone_before.get(user).copied().unwrap_or(0) {
            return Err(HistoryGone);
        }
        Ok(self
            .history
            .iter()
            .filter(|r| r.id > start && r.user == user)
            .filter(|r| label.is_none_or(|l| r.labels.contains(&l)))
            .collect())
    }

    /// Forgets `user`'s history up to now: a start id handed out before is
    /// answered 404, as Gmail answers one older than the history it keeps.
    pub(crate) fn forget(&mut self, user: &str) {
        self.gone_before.insert(user.to_owned(), self.next_history);
    }

    /// The history id at which message `id` was added.
    pub(crate) fn history_of(&self, id: &str) -> Option<u64> {
        self.history
            .iter()
            .find(|r| r.message_id == id)
            .map(|r| r.id)
    }
}
