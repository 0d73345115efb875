//! Screening a fetch round's jobs against the suppression list as they start: one pipelined
//! lookup for the whole round (see [`Queue::suppressed_among_many`]), under way while the
//! round's jobs go to their handlers, and whose answer each job's lease carries
//! ([`Lease::screened`](crate::Lease::screened)). A handler then finds its job's suppressed
//! recipients on its lease instead of waiting on a lookup of its own, which took one round
//! trip per group of handlers asking at once.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

use crate::decode::Decoded;
use crate::queue::Queue;
use crate::suppressed_many::Screening;
use crate::suppression::Suppression;

/// Each job's suppressed recipients, in the round's order: `None` for a job that is not
/// screened (transactional, or not decoded), and for every job when the lookup failed.
type Answers = Arc<Vec<Option<Vec<Suppression>>>>;

/// One fetch round's lookup, shared by the leases of its jobs, each with its job's place.
#[derive(Clone)]
pub(crate) struct RoundScreening(Shared<BoxFuture<'static, Answers>>);

impl std::fmt::Debug for RoundScreening {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RoundScreening")
    }
}

impl RoundScreening {
    /// The suppressed recipients of the round's job at `place`, once the lookup has answered.
    pub(crate) async fn answer(&self, place: usize) -> Option<Vec<Suppression>> {
        self.0.clone().await.get(place).cloned().flatten()
    }
}

/// Starts the lookup of `decoded`'s recipients in the background; `None` when no job of the
/// round is screened.
pub(crate) fn prescreen(queue: &Queue, decoded: &[Decoded]) -> Option<RoundScreening> {
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
        return None;
    }
    let queue = queue.clone();
    let lookup = tokio::spawn(async move {
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
                Vec::new()
            }
        }
    });
    let answers = async move { Arc::new(lookup.await.unwrap_or_default()) };
    Some(RoundScreening(answers.boxed().shared()))
}
