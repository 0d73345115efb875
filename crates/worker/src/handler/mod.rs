//! The apalis handler: one job, from lease to recorded outcome. Validate, render, send, then
//! record exactly one outcome through the lease, and log one line about it. Before all that,
//! the suppression list drops the recipients mail must not go to (see [`crate::screen`]).
//!
//! - this file: [`Handler`], its settings, and the task function [`handle`];
//! - `deliver`: one job's way through screening, the sender gate (a sender pool's job gets
//!   its member there) and the transport;
//! - `failed`: what becomes of a failed send;
//! - `log`: the delivery's one log line.

mod deliver;
mod failed;
mod log;

use std::sync::Arc;

use apalis::prelude::{BoxDynError, Data};
use mailroom_jobs::{EmailJob, Policy};
use mailroom_queue::{Lease, RetryPolicy};

use crate::gate::Gate;
use crate::metrics::Metrics;
use crate::outcome::Quarantine;
use crate::pools::Pools;
use crate::sender_slots::SenderSlots;
use crate::transport::Transport;

/// What every job's handling shares: the transport, the policies and the sender gate.
#[derive(Debug, Clone)]
pub struct Handler {
    transport: Arc<dyn Transport>,
    policy: Arc<Policy>,
    retry: RetryPolicy,
    gate: Option<Gate>,
    metrics: Metrics,
    quarantine_give_up: std::time::Duration,
    slots: Option<Arc<SenderSlots>>,
    check_before_resend: bool,
    /// What screens every job against the suppression list, if anything.
    suppression: Option<crate::screen::Screener>,
    /// What seals the one-click unsubscribe links of list mail, if configured.
    unsubscribe: Option<Arc<crate::unsubscribe::Unsubscriber>>,
    /// The sender pools (`[[pools]]`): a job from a pool's address is sent by a member.
    pools: Pools,
}

impl Handler {
    /// A handler sending through `transport`, validating against `policy`, retrying by
    /// `retry` and recording into `metrics`.
    #[must_use]
    pub fn new(
        transport: Arc<dyn Transport>,
        policy: Policy,
        retry: RetryPolicy,
        metrics: Metrics,
    ) -> Self {
        Self {
            transport,
            policy: Arc::new(policy),
            retry,
            gate: None,
            metrics,
            quarantine_give_up: std::time::Duration::from_secs(7 * 86_400),
            slots: None,
            check_before_resend: false,
            suppression: None,
            unsubscribe: None,
            pools: Pools::default(),
        }
    }

    /// Sends the jobs whose `from` is a pool's address as one of its members, chosen by the
    /// sender gate (`[[pools]]`; needs [`Handler::with_gate`]).
    #[must_use]
    pub fn with_pools(mut self, pools: Pools) -> Self {
        self.pools = pools;
        self
    }

    /// Looks for a job in its sender's SENT before sending it again after an earlier
    /// delivery may have gone out (`gmail.check_before_resend`; see [`crate::resend_check`]).
    #[must_use]
    pub fn with_check_before_resend(mut self, check: bool) -> Self {
        self.check_before_resend = check;
        self
    }

    /// Lets at most `per_sender` sends of one sender be in flight at once from this worker
    /// (`quota.sender_concurrency`, gmail transport; without it, no cap).
    #[must_use]
    pub fn with_sender_concurrency(mut self, per_sender: u32) -> Self {
        self.slots = Some(Arc::new(SenderSlots::new(per_sender as usize)));
        self
    }

    /// Shares the per-sender cap across every worker through `queue`'s Redis
    /// (`quota.shared_sender_concurrency`), each slot a lease of `lease`; call after
    /// [`Handler::with_sender_concurrency`].
    #[must_use]
    pub fn with_shared_sender_concurrency(
        mut self,
        queue: mailroom_queue::Queue,
        lease: std::time::Duration,
    ) -> Self {
        if let Some(slots) = self.slots.take() {
            let slots = Arc::try_unwrap(slots).unwrap_or_else(|s| SenderSlots::new(s.per_sender()));
            self.slots = Some(Arc::new(slots.shared(queue, lease)));
        }
        self
    }

    /// Adds one-click unsubscribe links to list mail (`[unsubscribe]`); without, list mail
    /// gets `List-Id` and the job's `mailto:` link only.
    #[must_use]
    pub fn with_unsubscribe(
        mut self,
        unsubscribe: Option<crate::unsubscribe::Unsubscriber>,
    ) -> Self {
        self.unsubscribe = unsubscribe.map(Arc::new);
        self
    }

    /// Drops the recipients on `queue`'s suppression list from every job that is not
    /// `transactional`; a job left with nobody ends `suppressed`.
    #[must_use]
    pub fn with_suppression(mut self, queue: mailroom_queue::Queue) -> Self {
        self.suppression = Some(crate::screen::Screener::new(queue));
        self
    }

    /// Dead-letters a job whose sender is still quarantined once it is older than `give_up`
    /// (`credentials.quarantine_give_up`; default 7 days).
    #[must_use]
    pub fn with_quarantine_give_up(mut self, give_up: std::time::Duration) -> Self {
        self.quarantine_give_up = give_up;
        self
    }

    /// How the jobs of a quarantined sender wait.
    fn quarantine(&self) -> Quarantine {
        Quarantine {
            recheck: self
                .gate
                .as_ref()
                .map_or(self.retry.base, |g| g.limits().quarantine_recheck),
            give_up: self.quarantine_give_up,
        }
    }

    /// Sends only what `gate` admits, and holds senders after failures that concern them.
    #[must_use]
    pub fn with_gate(mut self, gate: Gate) -> Self {
        self.gate = Some(gate);
        self
    }
}

/// The apalis task function: `WorkerBuilder::…data(Arc::new(handler)).build(handle)`. The
/// handler is shared behind an `Arc`: apalis hands each task its own copy of the data, and a
/// copy of the `Arc` is one count where a copy of the [`Handler`] is one per field.
///
/// # Errors
/// Only when the outcome could not be recorded (Redis away for a whole lease time); the job is
/// then delivered again once its lease runs out.
pub async fn handle(
    job: Box<EmailJob>,
    lease: Lease,
    handler: Data<Arc<Handler>>,
) -> Result<(), BoxDynError> {
    // apalis polls every handler future from one task; validation and rendering are CPU work,
    // so each job runs on a task of its own and all cores share them. The guard aborts that
    // task if this future is dropped (a shutdown whose grace ran out).
    let handler = Arc::clone(&handler);
    let mut task = AbortOnDrop(tokio::spawn(
        async move { handler.process(&job, lease).await },
    ));
    let recorded = (&mut task.0).await?;
    Ok(recorded?)
}

/// Aborts the task when dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
