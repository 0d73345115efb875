//! Whether credentials are usable, for the readiness check of `/readyz`: fed
//! by every token refresh.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// How long without a successful refresh, after a failed one, makes the worker unready.
pub const UNUSABLE_AFTER: Duration = Duration::from_secs(600);

/// The outcome of recent token refreshes. One sender with a revoked token does not make the
/// worker unready while others' tokens still refresh; failing refreshes and no success for
/// [`UNUSABLE_AFTER`] (or since the start) do. The clock is tokio's.
#[derive(Debug, Default)]
pub struct CredentialHealth(Mutex<Refreshes>);

#[derive(Debug, Default)]
struct Refreshes {
    last_ok: Option<Instant>,
    failures_since_ok: u64,
}

impl CredentialHealth {
    /// A refresh succeeded or failed.
    pub fn record(&self, ok: bool) {
        let mut refreshes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if ok {
            refreshes.last_ok = Some(Instant::now());
            refreshes.failures_since_ok = 0;
        } else {
            refreshes.failures_since_ok += 1;
        }
    }

    /// `Err` says why the credentials look unusable.
    ///
    /// # Errors
    /// Refreshes failed and none succeeded within [`UNUSABLE_AFTER`].
    pub fn usable(&self) -> Result<(), String> {
        let refreshes = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let failures = refreshes.failures_since_ok;
        let recent_ok = refreshes
            .last_ok
            .is_some_and(|at| at.elapsed() < UNUSABLE_AFTER);
        if failures == 0 || recent_ok {
            return Ok(());
        }
        Err(format!(
            "{failures} token refreshes failed in a row and none succeeded in the last {}s",
            UNUSABLE_AFTER.as_secs()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn failures_without_any_success_make_credentials_unusable() {
        let health = CredentialHealth::default();
        assert!(health.usable().is_ok(), "nothing tried yet");
        health.record(false);
        health.record(false);
        let err = health.usable().unwrap_err();
        assert!(err.starts_with("2 token refreshes failed"), "{err}");
        health.record(true);
        assert!(health.usable().is_ok());
        // One sender failing while others refresh fine keeps the worker ready.
        health.record(false);
        assert!(health.usable().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn one_failing_sender_never_makes_the_worker_unready() {
        let health = CredentialHealth::default();
        // The other senders' tokens refresh as they expire; the ghost fails at every recheck.
        for minute in 0..180u64 {
            if minute % 5 == 0 {
                health.record(true);
            }
            if minute % 5 == 1 {
                health.record(false);
            }
            assert!(health.usable().is_ok(), "unready at minute {minute}");
            tokio::time::advance(Duration::from_secs(60)).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_success_keeps_failures_harmless_for_a_while_only() {
        let health = CredentialHealth::default();
        health.record(true);
        tokio::time::advance(UNUSABLE_AFTER - Duration::from_secs(1)).await;
        health.record(false);
        assert!(health.usable().is_ok(), "a success within the window");
        tokio::time::advance(Duration::from_secs(1)).await;
        let err = health.usable().unwrap_err();
        assert!(err.starts_with("1 token refreshes failed"), "{err}");
        health.record(true);
        assert!(health.usable().is_ok());
    }
}
