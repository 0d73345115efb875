//! The web flow's pending sign-ins: the PKCE verifier of each `state`, sealed with the token
//! keyring and kept by the queue (`{queue}:oauth:state:<state>`) for [`STATE_TTL`], taken once,
//! so any replica can finish a flow another one started.

use std::sync::Arc;

use mailroom_queue::{Queue, QueueError};
use oauth2::PkceCodeVerifier;
use secrecy::ExposeSecret as _;

use super::{Authorization, STATE_TTL};
use crate::credentials::{Sealed, TokenKeys};

/// Why a saved state could not be taken.
#[derive(Debug, thiserror::Error)]
pub(super) enum StateError {
    /// Redis could not be reached or refused the command.
    #[error("{0}")]
    Redis(#[from] QueueError),
    /// The saved state does not read back: damaged, or sealed under a key no longer in the
    /// keyring.
    #[error("the saved state cannot be read: {0}")]
    Damaged(String),
}

/// Pending sign-ins in Redis, beside `queue`.
#[derive(Clone)]
pub(super) struct StateStore {
    queue: Queue,
    keys: Arc<TokenKeys>,
}

/// The associated data a verifier is sealed with, so it opens only for its own `state`.
fn aad(state: &str) -> String {
    format!("oauth-state:{state}")
}

/// Whether `state` looks like one [`super::Enroller::authorization`] makes.
fn well_formed(state: &str) -> bool {
    !state.is_empty()
        && state.len() <= 128
        && state
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

impl StateStore {
    pub(super) fn new(queue: Queue, keys: Arc<TokenKeys>) -> Self {
        Self { queue, keys }
    }

    /// Saves the verifier of `auth` under its state, for [`STATE_TTL`].
    pub(super) async fn save(&self, auth: &Authorization) -> Result<(), QueueError> {
        let state = auth.state.expose_secret();
        let sealed = self
            .keys
            .encrypt(auth.verifier.secret().as_bytes(), &aad(state));
        self.queue
            .save_oauth_state(state, &sealed.to_json(), STATE_TTL)
            .await
    }

    /// Takes (reads and deletes) the verifier saved for `state`; `None` when unknown, expired
    /// or already used.
    pub(super) async fn take(&self, state: &str) -> Result<Option<PkceCodeVerifier>, StateError> {
        if !well_formed(state) {
            return Ok(None);
        }
        let record = self.queue.take_oauth_state(state).await?;
        let Some(record) = record else {
            return Ok(None);
        };
        let damaged = |e: &dyn std::fmt::Display| StateError::Damaged(e.to_string());
        let sealed = Sealed::from_json(&record).map_err(|e| damaged(&e))?;
        let plain = self
            .keys
            .decrypt(&sealed, &aad(state))
            .map_err(|e| damaged(&e))?;
        let verifier =
            String::from_utf8(plain.to_vec()).map_err(|_| damaged(&"the verifier is not text"))?;
        Ok(Some(PkceCodeVerifier::new(verifier)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_states_of_the_expected_shape_are_looked_up() {
        let too_long = "a".repeat(129);
        for (state, looked_up) in [
            ("abc-DEF_123", true),
            ("", false),
            ("a:b", false),
            ("a*", false),
            (too_long.as_str(), false),
        ] {
            assert_eq!(well_formed(state), looked_up, "{state:?}");
        }
    }
}
