//! Hardening end to end: the real `mailroom` binary against real Redis and the fake Google.
//! Hostile input, one matrix (`hostile`); the HTTP listener under a slow-headers flood
//! (`listener`); no secret in the output at `RUST_LOG=trace` (`logs`); memory bounded across
//! 10,000 senders (`senders`).

#[path = "../common/mod.rs"]
mod common;
mod hostile;
mod listener;
mod logs;
mod senders;

use std::time::Duration;

/// Held by the tests that load the machine (thousands of connections or senders), so that one
/// does not time the other.
static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

use common::eventually;
use mailroom_jobs::JobId;
use mailroom_queue::{JobState, Queue};

async fn wait_state(queue: &Queue, id: JobId, want: JobState, within: Duration) {
    eventually(within, &format!("job {id} to be {want:?}"), || async {
        queue.status(id).await.unwrap().map(|s| s.state) == Some(want)
    })
    .await;
}

/// A field of `/proc/PID/status` in kB (`VmHWM`, `VmRSS`, `RssAnon`).
fn proc_status_kb(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}
