//! Screening a fetch round's jobs against the suppression list as they start: one pipelined
//! lookup for the whole round (see [`Queue::suppressed_among_many`]), whose answer each job's
//! lease carries ([`Lease::screened`](crate::Lease::screened)). A handler then finds its
//! job's suppressed recipients on its lease instead of waiting on a lookup of its own, which
//! took one round trip per group of handlers asking at once.

use mailroom_jobs::EmailJob;

use crate::decode::Decoded;
use crate::queue::Queue;
use crate::suppressed_many::Screening;
use crate::suppression::Suppression;

impl Screening {
    /// What screening `job` asks: its recipients and its list; `None` for a `transactional`
    /// job, which skips the suppression list.
    #[must_use]
    pub fn of(job: &EmailJob) -> Option<Self> {
        let v1 = job.v1();
        (!v1.transactional).then(|| Self {
            addresses: v1.recipients().map(|a| a.email().to_owned()).collect(),
            list: v1.list.as_ref().map(|l| l.id.clone()),
        })
    }
}

/// Each decoded job's suppressed recipients, in order: `None` for a job that is not screened
/// (transactional, or not decoded) and for every job when the lookup failed, so that its
/// handler asks again.
pub(crate) async fn prescreen(queue: &Queue, decoded: &[Decoded]) -> Vec<Option<Vec<Suppression>>> {
    let mut screenings = Vec::new();
    let asked: Vec<bool> = decoded
        .iter()
        .map(
            |d| match d.as_ref().ok().and_then(|(_, job)| Screening::of(job)) {
                Some(screening) => {
                    screenings.push(screening);
                    true
                }
                None => false,
            },
        )
        .collect();
    if screenings.is_empty() {
        return vec![None; decoded.len()];
    }
    match queue.suppressed_among_many(&screenings).await {
        Ok(found) => {
            let mut found = found.into_iter();
            asked
                .iter()
                .map(|&asked| if asked { found.next() } else { None })
                .collect()
        }
        Err(e) => {
            tracing::debug!(error = %e, "screening a fetch round failed; its handlers ask again");
            vec![None; decoded.len()]
        }
    }
}
