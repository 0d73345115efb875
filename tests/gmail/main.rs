//! The `gmail` transport end to end: the real `mailroom` binary, a real Redis, and the fake
//! Google (OAuth token endpoint and Gmail `messages.send`) with faults injected per test:
//! delivery and tokens (`delivery`), refused sends (`failures`), senders held back
//! (`senders`), one sender's sends in flight (`concurrency`), the check before a resend
//! (`resend_check`), bounces read back from the sender's mailbox (`bounces`), sender pools
//! (`pools`), and the scrape and readiness (`health`).

mod bounces;
#[path = "../common/mod.rs"]
mod common;
mod concurrency;
mod delivery;
mod failures;
mod health;
mod pools;
mod resend_check;
mod senders;

use std::time::Duration;

use common::eventually;
use mailroom_jobs::{EmailJob, JobId};
use mailroom_queue::{JobState, Queue};

async fn enqueue(queue: &Queue, job: &EmailJob) -> JobId {
    queue.enqueue(job).await.expect("enqueue").id
}

async fn wait_state(queue: &Queue, id: JobId, want: JobState, within: Duration) {
    eventually(within, &format!("job {id} to be {want:?}"), || async {
        queue.status(id).await.unwrap().map(|s| s.state) == Some(want)
    })
    .await;
}

/// What a sender waits for.
enum Hold {
    Quarantined,
    Paused,
}

/// Waits until Redis records `sender` as quarantined or paused.
async fn wait_sender(queue: &Queue, sender: &str, hold: Hold) {
    let what = match hold {
        Hold::Quarantined => "quarantined",
        Hold::Paused => "paused",
    };
    eventually(
        Duration::from_secs(20),
        &format!("{sender} to be {what}"),
        || async {
            queue.sender_states().await.unwrap().iter().any(|s| {
                s.sender == sender
                    && match hold {
                        Hold::Quarantined => s.quarantined.is_some(),
                        Hold::Paused => s.paused_until_ms.is_some(),
                    }
            })
        },
    )
    .await;
}
