//! Answers that differ from Google's usual ones, for tests of how a client copes: an account
//! whose address is not verified, a code exchange whose answer names no scope, an absurd
//! `expires_in`; and every secret the fake has handed out or received, so a test can look
//! for them where they must not be (logs).

use std::collections::BTreeSet;

use super::FakeGoogle;
use super::ids::normalize_email;
use super::keys;

/// The fake's departures from Google's usual answers, and the assertions it received.
#[derive(Debug, Default)]
pub(crate) struct Quirks {
    /// What token answers say in `expires_in`, instead of the real lifetime.
    pub expires_in: Option<u64>,
    /// Code exchanges answer without `scope`.
    pub omit_scope: bool,
    /// Users whose address userinfo and tokeninfo call unverified.
    pub unverified: BTreeSet<String>,
    /// Every JWT assertion the token endpoint received.
    pub assertions: Vec<String>,
}

impl FakeGoogle {
    /// Token answers say `expires_in` is `seconds` (the tokens still live as long as
    /// [`FakeGoogle::set_token_lifetime`] says); `None` goes back to the truth.
    pub fn announce_expires_in(&self, seconds: Option<u64>) {
        self.shared.lock().quirks.expires_in = seconds;
    }

    /// Code exchanges answer without the `scope` field (Google may leave it out), or with it.
    pub fn omit_granted_scope(&self, omit: bool) {
        self.shared.lock().quirks.omit_scope = omit;
    }

    /// Userinfo and tokeninfo say `email_verified` is false for `email`.
    pub fn set_email_unverified(&self, email: &str) {
        let mut state = self.shared.lock();
        let email = state.ensure_user(email).email.clone();
        state.quirks.unverified.insert(email);
    }

    /// Every secret the fake has issued or received: access and refresh tokens, JWT
    /// assertions, OAuth client secrets and the service-account private keys (each line of
    /// their PEM body), for a test to look for where none may appear.
    pub fn secrets(&self) -> Vec<String> {
        let state = self.shared.lock();
        let mut secrets: Vec<String> = state
            .access_tokens
            .keys()
            .chain(state.refresh_tokens.keys())
            .chain(&state.quirks.assertions)
            .cloned()
            .collect();
        secrets.extend(state.clients.values().map(|c| c.secret.clone()));
        for key in [keys::primary(), keys::secondary()] {
            secrets.extend(
                key.private_pem()
                    .lines()
                    .filter(|l| !l.starts_with("-----") && l.len() >= 32)
                    .map(str::to_owned),
            );
        }
        secrets
    }
}

/// Whether `email`'s address counts as verified.
pub(crate) fn verified(quirks: &Quirks, email: &str) -> bool {
    !quirks.unverified.contains(&normalize_email(email))
}
