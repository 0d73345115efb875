//! Whether credentials are usable, for `/readyz`: fed by every token refresh.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;

use crate::http::ReadyCheck;

/// How long without a successful refresh, after a failed one, makes the worker unready.
pub const UNUSABLE_AFTER: Duration = Duration::from_secs(600);

/// The outcome of recent token refreshes. One sender with a revoked token does not make the
/// worker unready while others' tokens still refresh; failing refreshes and no success for
/// [`UNUSABLE_AFTER`] (or since the start) do.
#[derive(Debug, Default)]
pub struct CredentialHealth {
    last_ok_ms: AtomicI64,
    last_error_ms: AtomicI64,
    failures_since_ok: AtomicU64,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl CredentialHealth {
    /// A refresh succeeded or failed.
    pub fn record(&self, ok: bool) {
        if ok {
            self.last_ok_ms.store(now_ms(), Ordering::Relaxed);
            self.failures_since_ok.store(0, Ordering::Relaxed);
        } else {
            self.last_error_ms.store(now_ms(), Ordering::Relaxed);
            self.failures_since_ok.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// `Err` says why the credentials look unusable.
    ///
    /// # Errors
    /// Refreshes failed and none succeeded within [`UNUSABLE_AFTER`].
    pub fn usable(&self) -> Result<(), String> {
        let failures = self.failures_since_ok.load(Ordering::Relaxed);
        let last_ok = self.last_ok_ms.load(Ordering::Relaxed);
        let window = i64::try_from(UNUSABLE_AFTER.as_millis()).unwrap_or(i64::MAX);
        if failures == 0 || (last_ok > 0 && now_ms() - last_ok < window) {
            return Ok(());
        }
        Err(format!(
            "{failures} token refreshes failed in a row and none succeeded in the last {}s",
            UNUSABLE_AFTER.as_secs()
        ))
    }
}

/// The readiness check over a shared [`CredentialHealth`].
#[derive(Debug, Clone)]
pub struct CredentialsCheck(pub Arc<CredentialHealth>);

impl ReadyCheck for CredentialsCheck {
    fn name(&self) -> &str {
        "credentials"
    }

    fn check(&self) -> BoxFuture<'_, Result<(), String>> {
        let result = self.0.usable();
        Box::pin(async move { result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_without_any_success_make_credentials_unusable() {
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
}
