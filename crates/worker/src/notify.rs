//! systemd notifications (`sd_notify`): `READY=1` once the worker serves, `WATCHDOG=1` while it
//! is alive, `STOPPING=1` when it starts draining. Without `NOTIFY_SOCKET` in the environment
//! (anything but a `Type=notify` systemd service) every call does nothing.

use std::time::Duration;

use sd_notify::NotifyState;
use tokio::task::JoinHandle;

use crate::health::Health;

/// True when a service manager listens (`NOTIFY_SOCKET` is set).
#[must_use]
pub fn enabled() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some()
}

fn send(state: NotifyState<'_>) {
    if !enabled() {
        return;
    }
    let text = state.to_string();
    if let Err(e) = sd_notify::notify(&[state]) {
        tracing::warn!(error = %e, state = %text, "could not notify the service manager");
    }
}

/// Start-up finished: the listener serves and the worker is registered.
pub fn ready() {
    send(NotifyState::Ready);
}

/// The worker stopped fetching and drains its in-flight sends.
pub fn stopping() {
    send(NotifyState::Stopping);
}

/// When the service manager runs a watchdog (`WatchdogSec=`, seen as `WATCHDOG_USEC`), a task
/// that sends `WATCHDOG=1` every half period while `health` says the worker loop is alive (the
/// signal `/livez` reports); a stuck loop stops the pings and the manager restarts the
/// service. `None` without a watchdog.
#[must_use]
pub fn spawn_watchdog(health: Health) -> Option<JoinHandle<()>> {
    if !enabled() {
        return None;
    }
    let period = sd_notify::watchdog_enabled()?;
    let every = (period / 2).max(Duration::from_millis(10));
    tracing::info!(every = ?every, "systemd watchdog enabled");
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match health.stalled_for() {
                None => send(NotifyState::Watchdog),
                Some(stalled) => tracing::warn!(
                    stalled_for = ?stalled,
                    "the worker loop is stuck; withholding the watchdog ping"
                ),
            }
        }
    }))
}
