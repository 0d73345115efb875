//! One job's way: screened against the suppression list, validated and rendered, admitted
//! by the sender gate (a sender pool's job is given its member there), sent, and its outcome
//! recorded.

use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use mailroom_jobs::EmailJob;
use mailroom_queue::Lease;

use super::Handler;
use super::log::Logged;
use crate::gate::{Gate, Pass};
use crate::metrics::QuotaWindow;
use crate::outcome::{Failure, quarantined};
use crate::pools::Pool;
use crate::screen::{Screened, screen};
use crate::transport::Outgoing;

/// Attachments over this many bytes make a job render on a thread of its own.
const RENDER_ASIDE: usize = 1 << 20;

impl Handler {
    /// Handles one delivery of `job`, start to finish.
    pub(super) async fn process(
        &self,
        job: &EmailJob,
        lease: Lease,
    ) -> Result<(), mailroom_queue::QueueError> {
        let started = Instant::now();
        let attempt = lease.attempts() + 1;
        self.metrics.job_started();
        let _in_flight = self.metrics.in_flight();

        let screened = match &self.suppression {
            Some(screener) => screen(screener, job, lease.screened().await).await?,
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
                let mut lease = lease;
                if !dropped.is_empty() {
                    // Sent to the rest: the job's status names who was left out, and why.
                    lease.note_suppressed(serde_json::to_string(&dropped).unwrap_or_default());
                }
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
            Ok(mut outgoing) => match self.admit(&mut outgoing).await? {
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
                        lease.sent_in_background(
                            Some(&delivered.transport_id),
                            delivered.thread_id.as_deref(),
                            outgoing.sent_as.as_deref(),
                        );
                        Logged::Sent {
                            transport_id: delivered.transport_id,
                            sent_as: outgoing.sent_as,
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

    /// Asks the gate, if there is one, whether the sender may send now. A quarantined
    /// sender's credentials are looked at again once per recheck period (by one worker in
    /// all); when they work, the quarantine is lifted and the job goes.
    async fn admit(&self, outgoing: &mut Outgoing) -> Result<Pass, mailroom_queue::QueueError> {
        let Some(gate) = &self.gate else {
            return Ok(Pass::Go);
        };
        if let Some(pool) = self.pools.get(outgoing.from.email()) {
            let pool = Arc::clone(pool);
            return self.admit_pool(gate, &pool, outgoing).await;
        }
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

    /// Gives a pool's job its member (`outgoing.sent_as`) and asks whether it may send now.
    /// When no member can, the quarantined ones have their credentials looked at again (once
    /// per recheck period across workers), and the job asks again if one works.
    async fn admit_pool(
        &self,
        gate: &Gate,
        pool: &Arc<Pool>,
        outgoing: &mut Outgoing,
    ) -> Result<Pass, mailroom_queue::QueueError> {
        let mut answer = gate.admit_pool(pool, outgoing.job_id).await?;
        if answer.member.is_none() && !answer.quarantined.is_empty() {
            let mut lifted = false;
            for member in &answer.quarantined {
                if gate.claim_probe(member).await?
                    && self.transport.check_sender(member).await.is_ok()
                {
                    gate.release(member).await?;
                    self.metrics.sender_quarantined(member, false);
                    tracing::info!(sender = %member, pool = %pool.address, "credentials work again; quarantine lifted");
                    lifted = true;
                }
            }
            if lifted {
                answer = gate.admit_pool(pool, outgoing.job_id).await?;
            }
        }
        if let (Some(member), Some((minute_left, day_left))) = (&answer.member, answer.left) {
            self.quota_left(member, minute_left, day_left);
        }
        outgoing.sent_as = answer.member;
        Ok(answer.pass)
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
            Some(slots) => Some(slots.acquire(outgoing.sender()).await),
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
            sent_as: None,
        })
    }
}
