//! What tests read back from a [`FakeGoogle`]: the accepted messages, the
//! request logs and the counts of answers.

use std::collections::BTreeMap;

use super::FakeGoogle;
use super::ids::normalize_email;
use super::types::{AuthRequest, SendAttempt, SentMessage, TokenGrant};

impl FakeGoogle {
    /// Every accepted message, oldest first.
    pub fn sent(&self) -> Vec<SentMessage> {
        self.shared.lock().sent.clone()
    }

    /// The accepted messages sent from `user`'s mailbox, oldest first.
    pub fn sent_by(&self, user: &str) -> Vec<SentMessage> {
        let user = normalize_email(user);
        self.shared
            .lock()
            .sent
            .iter()
            .filter(|m| m.user == user)
            .cloned()
            .collect()
    }

    /// Every token endpoint call, oldest first.
    pub fn token_grants(&self) -> Vec<TokenGrant> {
        self.shared.lock().grants.clone()
    }

    /// Every consent endpoint request, oldest first.
    pub fn auth_requests(&self) -> Vec<AuthRequest> {
        self.shared.lock().auth_requests.clone()
    }

    /// How many send requests arrived, whatever became of them.
    pub fn send_attempts(&self) -> u64 {
        self.shared.lock().send_attempts
    }

    /// Every send request, oldest first, with the status answered and the
    /// `Retry-After` given: one entry per request, faults included (unlike
    /// [`FakeGoogle::sent`], which holds only what was accepted). Tells
    /// apart the attempts of one message by its `Message-ID`, so a test can
    /// check when each retry came.
    pub fn send_log(&self) -> Vec<SendAttempt> {
        self.shared.lock().send_log.clone()
    }

    /// How many send requests were answered with each status (dropped
    /// connections are not counted).
    pub fn responses_by_status(&self) -> BTreeMap<u16, u64> {
        self.shared.lock().send_statuses.clone()
    }

    /// How many sends by `user` were refused for quota or rate limits
    /// (including injected rate-limit faults).
    pub fn rate_limited_responses(&self, user: &str) -> u64 {
        self.shared
            .lock()
            .rate_limited
            .get(&normalize_email(user))
            .copied()
            .unwrap_or(0)
    }
}
