//! Sends in flight per user: how many of a user's sends the fake is
//! handling at once, and the most it has seen
//! ([`FakeGoogle::max_concurrent_sends`]). Gmail limits concurrent requests
//! per user; this is what a test of a client's cap reads.

use std::collections::HashMap;

use super::FakeGoogle;
use super::ids::normalize_email;
use super::state::Shared;

/// Each user's sends in flight now, and the most at once so far.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    now: HashMap<String, usize>,
    max: HashMap<String, usize>,
}

impl InFlight {
    fn begin(&mut self, user: &str) {
        let now = self.now.entry(user.to_owned()).or_default();
        *now += 1;
        let max = self.max.entry(user.to_owned()).or_default();
        *max = (*max).max(*now);
    }

    fn end(&mut self, user: &str) {
        if let Some(now) = self.now.get_mut(user) {
            *now = now.saturating_sub(1);
        }
    }
}

/// One send in flight for a user, from its arrival until its answer (or its
/// connection's end): counted while it lives.
pub(crate) struct SendInFlight<'a> {
    shared: &'a Shared,
    user: Option<String>,
}

impl<'a> SendInFlight<'a> {
    /// Counts a send by `user` (none when its token names no user).
    pub(crate) fn begin(
        shared: &'a Shared,
        state: &mut super::state::State,
        user: Option<&str>,
    ) -> Self {
        if let Some(user) = user {
            state.in_flight.begin(user);
        }
        Self {
            shared,
            user: user.map(str::to_owned),
        }
    }
}

impl Drop for SendInFlight<'_> {
    fn drop(&mut self) {
        if let Some(user) = &self.user {
            self.shared.lock().in_flight.end(user);
        }
    }
}

impl FakeGoogle {
    /// The most sends by `user` the fake has handled at once (counted from a
    /// send's arrival to its answer, whatever the answer).
    pub fn max_concurrent_sends(&self, user: &str) -> usize {
        let user = normalize_email(user);
        self.shared
            .lock()
            .in_flight
            .max
            .get(&user)
            .copied()
            .unwrap_or(0)
    }
}
