//! Screening a job against the suppression list before it is sent: one pipelined lookup of
//! all its recipients (global suppressions and its list's), then the job without the
//! suppressed ones. A `transactional` job is not screened.

use mailroom_jobs::EmailJob;
use mailroom_queue::{Queue, QueueError, Suppression, normalize_suppressed};

/// What the suppression list leaves of a job.
#[derive(Debug)]
pub enum Screened {
    /// Send the job, or `kept`, a copy without the suppressed recipients; `dropped` names
    /// the recipients taken out.
    Send {
        /// The job without the suppressed recipients; `None` when none was dropped.
        kept: Option<Box<EmailJob>>,
        /// The suppressed recipients taken out.
        dropped: Vec<Suppression>,
    },
    /// Every recipient is suppressed: nothing to send.
    Nobody(Vec<Suppression>),
}

/// Looks `job`'s recipients up in `queue`'s suppression list and drops the suppressed ones
/// from `to`, `cc` and `bcc`.
///
/// # Errors
/// Redis unreachable.
pub async fn screen(queue: &Queue, job: &EmailJob) -> Result<Screened, QueueError> {
    let v1 = job.v1();
    if v1.transactional {
        return Ok(Screened::Send {
            kept: None,
            dropped: Vec::new(),
        });
    }
    let addresses: Vec<&str> = v1.recipients().map(|a| a.email()).collect();
    let list = v1.list.as_ref().map(|l| l.id.as_str());
    let dropped = queue.suppressed_among(&addresses, list).await?;
    if dropped.is_empty() {
        return Ok(Screened::Send {
            kept: None,
            dropped,
        });
    }
    let mut kept = job.clone();
    let k = kept.v1_mut();
    let suppressed = |a: &mailroom_jobs::Address| {
        let address = normalize_suppressed(a.email());
        dropped.iter().any(|s| s.address == address)
    };
    for field in [&mut k.to, &mut k.cc, &mut k.bcc] {
        field.retain(|a| !suppressed(a));
    }
    if kept.v1().recipients().next().is_none() {
        return Ok(Screened::Nobody(dropped));
    }
    Ok(Screened::Send {
        kept: Some(Box::new(kept)),
        dropped,
    })
}
