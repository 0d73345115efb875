//! The apalis handler: one job, from lease to recorded outcome. Validate, render, send, then
//! record exactly one outcome through the lease, and log one line about it. Before all that,
//! the suppression list drops the recipients mail must not go to (see [`crate::screen`]).

use std::sync::Arc;
use std::time::Instant;

use apalis::prelude::{BoxDynError, Data};
use chrono::{DateTime, Utc};
use mailroom_jobs::{EmailJob, Policy};
use mailroom_queue::{Lease, RetryPolicy};

use crate::config::TransportKind;
use crate::gate::{Gate, Pass};
use crate::logline::{Lazy, echoed, log_safe, masked};
use crate::metrics::{Metrics, Outcome, QuotaWindow};
use crate::outcome::{Failure, Quarantine, decide, quarantined};
use crate::screen::{Screened, screen};
use crate::sender_slots::SenderSlots;
use crate::transport::{Outgoing, SendError, Transport};

/// Attachments over this many bytes make a job render on a thread of its own.
const RENDER_ASIDE: usize = 1 << 20;

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
    /// The queue whose suppression list screens every job, if any.
    suppression: Option<mailroom_queue::Queue>,
    /// What seals the one-click unsubscribe links of list mail, if configured.
    unsubscribe: Option<Arc<crate::unsubscribe::Unsubscriber>>,
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
        }
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
        self.suppression = Some(queue);
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

/// The apalis task function: `WorkerBuilder::…data(handler).build(handle)`.
///
/// # Errors
/// Only when the outcome could not be recorded (Redis away for a whole lease time); the job is
/// then delivered again once its lease runs out.
pub async fn handle(
    job: EmailJob,
    lease: Lease,
    handler: Data<Handler>,
) -> Result<(), BoxDynError> {
    // apalis polls every handler future from one task; validation and rendering are CPU work,
    // so each job runs on a task of its own and all cores share them. The guard aborts that
    // task if this future is dropped (a shutdown whose grace ran out).
    let handler = Handler::clone(&handler);
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

/// What happened to one delivery, for its log line.
enum Logged {
    Sent {
        transport_id: String,
    },
    Retry {
        at: DateTime<Utc>,
        spend_attempt: bool,
        error: String,
    },
    Dead {
        reason: String,
    },
    Held {
        at: DateTime<Utc>,
        why: String,
    },
    Suppressed {
        count: usize,
    },
}

impl Logged {
    /// The outcome as `mailroom_jobs_completed_total` counts it; none for a job the sender
    /// gate held back, since nothing was attempted (it is not a failure).
    fn outcome(&self) -> Option<Outcome> {
        match self {
            Self::Sent { .. } => Some(Outcome::Sent),
            Self::Retry { .. } => Some(Outcome::Retried),
            Self::Dead { .. } => Some(Outcome::Dead),
            Self::Held { .. } => None,
            Self::Suppressed { .. } => Some(Outcome::Suppressed),
        }
    }
}

impl Handler {
    async fn process(
        &self,
        job: &EmailJob,
        lease: Lease,
    ) -> Result<(), mailroom_queue::QueueError> {
        let started = Instant::now();
        let attempt = lease.attempts() + 1;
        self.metrics.job_started();
        let _in_flight = self.metrics.in_flight();

        let screened = match &self.suppression {
            Some(queue) => screen(queue, job).await?,
            None => Screened::Send {
                kept: None,
                dropped: Vec::new(),
            },
        };
        let logged = match screened {
            Screened::Nobody(dropped) => {
                self.count_dropped(&dropped);
                let why = serde_json::to_string(&dropped).unwrap_or_default();
                lease.suppressed(&why).await?;
                Logged::Suppressed {
                    count: dropped.len(),
                }
            }
            Screened::Send { kept, dropped } => {
                self.count_dropped(&dropped);
                self.deliver(kept.as_deref().unwrap_or(job), lease).await?
            }
        };

        if let Some(outcome) = logged.outcome() {
            self.metrics.job_finished(outcome, attempt);
        }
        self.log(job, attempt, started, logged);
        Ok(())
    }

    /// Renders, admits and sends a screened job, and records its outcome.
    async fn deliver(
        &self,
        job: &EmailJob,
        lease: Lease,
    ) -> Result<Logged, mailroom_queue::QueueError> {
        let logged = match self.prepare_aside(job) {
            Err(reason) => {
                lease.dead(&reason).await?;
                Logged::Dead { reason }
            }
            Ok(outgoing) => match self.admit(&outgoing).await? {
                Pass::Wait {
                    at,
                    why,
                    quarantined: held,
                } => match held.then(|| {
                    quarantined(
                        &why,
                        lease.enqueued_at(),
                        Utc::now(),
                        at,
                        &self.quarantine(),
                    )
                }) {
                    Some(Failure::Dead(reason)) => {
                        lease.dead(&reason).await?;
                        Logged::Dead { reason }
                    }
                    _ => {
                        lease.retry_at(at, &why, false).await?;
                        Logged::Held { at, why }
                    }
                },
                Pass::Go => match self.send(&outgoing, &lease).await {
                    Ok(delivered) => {
                        lease
                            .sent(
                                Some(&delivered.transport_id),
                                delivered.thread_id.as_deref(),
                            )
                            .await?;
                        Logged::Sent {
                            transport_id: delivered.transport_id,
                        }
                    }
                    Err(error) => self.failed(&outgoing, &error, lease).await?,
                },
            },
        };
        Ok(logged)
    }

    /// Counts the suppressed recipients dropped from a job.
    fn count_dropped(&self, dropped: &[mailroom_queue::Suppression]) {
        for s in dropped {
            self.metrics.recipient_suppressed(s.reason);
        }
    }

    /// Logs the delivery's one line. Its fields are built only when the line's level is
    /// enabled: the job's own text is written straight into the log line.
    fn log(&self, job: &EmailJob, attempt: u32, started: Instant, logged: Logged) {
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let job_id = job.id();
        let v1 = job.v1();
        let transport = self.transport.kind().as_str();
        let message_id = Lazy(|| mailroom_jobs::message_id_for(&job_id, &v1.from));
        let recipients = Lazy(|| masked(v1.recipients()));
        let echo = std::cell::OnceCell::new();
        let tags = Lazy(|| &echo.get_or_init(|| echoed(v1)).0);
        let metadata = Lazy(|| &echo.get_or_init(|| echoed(v1)).1);
        match logged {
            Logged::Sent { transport_id } => tracing::info!(
                job = %job_id, %message_id, %recipients, attempt, latency_ms, transport, transport_id,
                %tags, %metadata, outcome = "sent", "message sent"
            ),
            Logged::Retry {
                at,
                spend_attempt,
                error,
            } => tracing::warn!(
                job = %job_id, %message_id, %recipients, attempt, latency_ms, transport, error,
                %tags, %metadata, retry_at = %at.to_rfc3339(), spend_attempt, outcome = "retry", "send failed; retrying later"
            ),
            Logged::Held { at, why } => tracing::info!(
                job = %job_id, %message_id, %recipients, attempt, latency_ms, transport, why,
                %tags, %metadata, retry_at = %at.to_rfc3339(), outcome = "held", "sender must wait; job rescheduled"
            ),
            Logged::Suppressed { count } => tracing::info!(
                job = %job_id, %message_id, %recipients, attempt, latency_ms, transport,
                %tags, %metadata, suppressed = count, outcome = "suppressed",
                "every recipient is on the suppression list; not sent"
            ),
            Logged::Dead { reason } => tracing::error!(
                job = %job_id, %message_id, %recipients, attempt, latency_ms, transport,
                %tags, %metadata, reason = log_safe(&reason), outcome = "dead", "job dead-lettered"
            ),
        }
    }

    /// Records what becomes of a failed send: a retry (holding the sender too when the error
    /// concerns it) or a dead letter.
    async fn failed(
        &self,
        outgoing: &Outgoing,
        error: &SendError,
        lease: Lease,
    ) -> Result<Logged, mailroom_queue::QueueError> {
        if self.transport.kind() == TransportKind::Gmail {
            self.metrics.gmail_error(error.reason);
        }
        let failure = decide(
            error,
            lease.attempts(),
            lease.enqueued_at(),
            Utc::now(),
            &self.retry,
            &self.quarantine(),
            &mut rand::rng(),
        );
        match failure {
            Failure::Retry { at, spend_attempt } => {
                if let Some(gate) = &self.gate {
                    let sender = outgoing.from.email();
                    if gate.hold(sender, error, at).await? {
                        self.metrics.sender_quarantined(sender, true);
                        tracing::error!(
                            sender,
                            reason = error.reason.as_str(),
                            "sender quarantined: its credentials need an operator"
                        );
                    }
                }
                lease
                    .retry_at(at, &error.to_string(), spend_attempt)
                    .await?;
                Ok(Logged::Retry {
                    at,
                    spend_attempt,
                    error: error.to_string(),
                })
            }
            Failure::Dead(reason) => {
                lease.dead(&reason).await?;
                Ok(Logged::Dead { reason })
            }
        }
    }

    /// Asks the gate, if there is one, whether the sender may send now. A quarantined
    /// sender's credentials are looked at again once per recheck period (by one worker in
    /// all); when they work, the quarantine is lifted and the job goes.
    async fn admit(&self, outgoing: &Outgoing) -> Result<Pass, mailroom_queue::QueueError> {
        let Some(gate) = &self.gate else {
            return Ok(Pass::Go);
        };
        let sender = outgoing.from.email();
        let (pass, minute_left, day_left) = gate.admit(sender, outgoing.job_id).await?;
        self.quota_left(sender, minute_left, day_left);
        if let Pass::Wait {
            quarantined: true, ..
        } = pass
            && gate.claim_probe(sender).await?
            && self.transport.check_sender(sender).await.is_ok()
        {
            gate.release(sender).await?;
            self.metrics.sender_quarantined(sender, false);
            tracing::info!(sender, "credentials work again; quarantine lifted");
            let (pass, minute_left, day_left) = gate.admit(sender, outgoing.job_id).await?;
            self.quota_left(sender, minute_left, day_left);
            return Ok(pass);
        }
        Ok(pass)
    }

    /// Records a sender's sends left in its windows.
    fn quota_left(&self, sender: &str, minute_left: i64, day_left: i64) {
        #[allow(clippy::cast_precision_loss)]
        for (window, left) in [
            (QuotaWindow::Minute, minute_left),
            (QuotaWindow::Day, day_left),
        ] {
            self.metrics
                .sender_quota_remaining(sender, window, left.max(0) as f64);
        }
    }

    /// Sends through the transport, timing it for `mailroom_send_duration_seconds`, holding
    /// one of the sender's slots; first looks for the job in the sender's SENT when asked to
    /// and this delivery may follow one that went out.
    async fn send(
        &self,
        outgoing: &Outgoing,
        lease: &Lease,
    ) -> Result<crate::transport::Delivered, crate::transport::SendError> {
        let _slot = match &self.slots {
            Some(slots) => Some(slots.acquire(outgoing.from.email()).await),
            None => None,
        };
        if self.check_before_resend
            && let Some(found) = crate::resend_check::already_sent(
                self.transport.as_ref(),
                &self.metrics,
                outgoing,
                lease,
            )
            .await
        {
            return Ok(found);
        }
        let sending = Instant::now();
        let result = self.transport.send(outgoing).await;
        self.metrics
            .send_duration(self.transport.kind(), sending.elapsed().as_secs_f64());
        result
    }

    /// [`Self::prepare`], on a thread of its own when the job's attachments are large (over
    /// [`RENDER_ASIDE`]): rendering tens of megabytes (base64 with line breaks) holds a thread
    /// for long enough to delay the other sends' timers and the lease keeper.
    fn prepare_aside(&self, job: &EmailJob) -> Result<Outgoing, String> {
        let attached: usize = job.v1().attachments.iter().map(|a| a.content.len()).sum();
        let threads = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if attached > RENDER_ASIDE && threads {
            tokio::task::block_in_place(|| self.prepare(job))
        } else {
            self.prepare(job)
        }
    }

    /// Validates and renders the job; `Err` is the dead-letter reason.
    fn prepare(&self, job: &EmailJob) -> Result<Outgoing, String> {
        job.validate(&self.policy)
            .map_err(|e| format!("invalid job: {e}"))?;
        let now = Utc::now();
        let listed = crate::unsubscribe::with_list_headers(job, self.unsubscribe.as_deref(), now);
        let rendered = listed
            .as_ref()
            .unwrap_or(job)
            .render(now)
            .map_err(|e| format!("cannot render the message: {e}"))?;
        let v1 = job.v1();
        Ok(Outgoing {
            job_id: job.id(),
            from: v1.from.clone(),
            raw: rendered.bytes,
            message_id: rendered.message_id,
            thread_id: v1.thread.as_ref().and_then(|t| t.thread_id.clone()),
        })
    }
}
