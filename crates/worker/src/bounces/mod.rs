//! The bounce reader (`gmail.read_bounces`): every `gmail.bounce_poll`, one worker across
//! the replicas (the one holding the queue's bounce-reader lock) looks into each sender's
//! mailbox for mail added to INBOX since the Gmail history id it reached, reads the bounces
//! among it, links each to its job through the original `Message-ID`, and records it once
//! (the job's status gains `bounced`; a hard bounce suppresses the recipient globally).
//!
//! - `parse`: reading a delivery status notification, and the job a `Message-ID` names.
//!
//! Its place in each mailbox (the history id) moves only after everything before it was
//! processed; a bounce message processed twice (a crash between the two, a lock that lapsed)
//! changes nothing the second time ([`Queue::record_bounces`]).

pub mod parse;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use mailroom_queue::{Bounce, BounceRecorded, Queue};
use tokio_util::sync::CancellationToken;

use crate::metrics::{BounceKind, Metrics};
use crate::transport::GmailTransport;

/// The header fields read first, to tell a bounce from other mail without reading its body.
const SCREEN_HEADERS: [&str; 2] = ["From", "Content-Type"];

/// Reads bounces back from the senders' mailboxes.
#[derive(Debug, Clone)]
pub struct BounceReader {
    queue: Queue,
    gmail: Arc<GmailTransport>,
    metrics: Metrics,
    /// This worker's name for the lock (its consumer name, unique among the replicas).
    owner: String,
    poll: Duration,
    /// The senders `jobs.allowed_senders` lists exactly.
    listed: Vec<String>,
}

impl BounceReader {
    /// A reader for the worker `owner`, looking every `poll` into the mailboxes of the
    /// senders `listed` exactly, those with a stored token and those seen sending lately.
    #[must_use]
    pub fn new(
        queue: Queue,
        gmail: Arc<GmailTransport>,
        metrics: Metrics,
        owner: String,
        poll: Duration,
        listed: Vec<String>,
    ) -> Self {
        Self {
            queue,
            gmail,
            metrics,
            owner,
            poll,
            listed,
        }
    }

    /// How long the lock lasts without renewal: past one poll, so the holder keeps it from
    /// one round to the next, and a reader that died frees it soon after.
    fn lease(&self) -> Duration {
        (self.poll * 2).max(Duration::from_secs(30))
    }

    /// Reads every `poll` until `stop` is cancelled, then gives the lock up.
    pub async fn run(self, stop: CancellationToken) {
        let mut ticks = tokio::time::interval(self.poll);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = stop.cancelled() => break,
                _ = ticks.tick() => {}
            }
            match self
                .queue
                .claim_bounce_reader(&self.owner, self.lease())
                .await
            {
                Ok(true) => self.round(&stop).await,
                Ok(false) => {}
                Err(e) => {
                    self.metrics.redis_error();
                    tracing::warn!(error = %e, "bounce reader: cannot take its lock");
                }
            }
        }
        if let Err(e) = self.queue.release_bounce_reader(&self.owner).await {
            tracing::warn!(error = %e, "bounce reader: cannot give its lock up; it lapses");
        }
    }

    /// One round over every sender's mailbox, renewing the lock before each; stops when the
    /// lock is lost or `stop` is cancelled.
    async fn round(&self, stop: &CancellationToken) {
        let senders = match self.senders().await {
            Ok(senders) => senders,
            Err(e) => {
                self.metrics.redis_error();
                tracing::warn!(error = %e, "bounce reader: cannot list the senders");
                return;
            }
        };
        for sender in senders {
            if stop.is_cancelled() {
                return;
            }
            match self
                .queue
                .claim_bounce_reader(&self.owner, self.lease())
                .await
            {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    self.metrics.redis_error();
                    tracing::warn!(error = %e, "bounce reader: cannot renew its lock");
                    return;
                }
            }
            if let Err(e) = self.read_mailbox(&sender).await {
                tracing::warn!(%sender, error = %e, "bounce reader: reading the mailbox failed; trying again next round");
            }
        }
    }

    /// The senders whose mailboxes are read: listed exactly, with a stored token, or seen
    /// sending in about the last day; sorted, each once.
    async fn senders(&self) -> Result<Vec<String>, mailroom_queue::QueueError> {
        let mut all = self.listed.clone();
        all.extend(self.queue.token_senders().await?);
        all.extend(
            self.queue
                .sender_states()
                .await?
                .into_iter()
                .map(|s| s.sender),
        );
        all.sort();
        all.dedup();
        Ok(all)
    }

    /// Reads `sender`'s mailbox from where the reader stands, then moves its place on.
    async fn read_mailbox(&self, sender: &str) -> anyhow::Result<()> {
        let Some(start) = self.queue.bounce_cursor(sender).await? else {
            let now = self.gmail.current_history_id(sender).await?;
            self.queue.set_bounce_cursor(sender, now).await?;
            tracing::info!(%sender, history_id = now, "bounce reader: reading this mailbox from now on");
            return Ok(());
        };
        let Some(history) = self.gmail.inbox_since(sender, start).await? else {
            let now = self.gmail.current_history_id(sender).await?;
            self.queue.set_bounce_cursor(sender, now).await?;
            tracing::warn!(
                %sender, from = start, to = now,
                "bounce reader: Gmail no longer keeps the mailbox's history from where the reader stood; \
                 starting again from now (bounces that arrived in between are not read)"
            );
            return Ok(());
        };
        for id in &history.added {
            self.process(sender, id).await?;
        }
        if history.history_id > start {
            self.queue
                .set_bounce_cursor(sender, history.history_id)
                .await?;
        }
        Ok(())
    }

    /// Reads message `id` of `sender`'s mailbox and records it when it is a bounce.
    async fn process(&self, sender: &str, id: &str) -> anyhow::Result<()> {
        let Some(headers) = self
            .gmail
            .message_headers(sender, id, &SCREEN_HEADERS)
            .await?
        else {
            return Ok(());
        };
        let header = |name: &str| crate::transport::gmail::header(&headers, name);
        if !parse::looks_like_bounce(header("From"), header("Content-Type")) {
            return Ok(());
        }
        let Some(raw) = self.gmail.raw_message(sender, id).await? else {
            return Ok(());
        };
        let Some(notification) = parse::parse(&raw) else {
            return Ok(());
        };
        let Some(job) = notification
            .original
            .iter()
            .find_map(|m| parse::job_of(m, sender))
        else {
            self.metrics.bounce(BounceKind::Unmatched);
            tracing::info!(%sender, bounce = %id, "bounce reader: a bounce for a message mailroom did not send; ignored");
            return Ok(());
        };
        let at = Utc::now();
        let bounces: Vec<Bounce> = notification
            .failures
            .into_iter()
            .map(|f| Bounce {
                recipient: f.recipient,
                status: f.status,
                diagnostic: f.diagnostic,
                at,
            })
            .collect();
        let recorded = self.queue.record_bounces(id, job, &bounces).await?;
        if recorded != BounceRecorded::AlreadySeen {
            self.count(job, &bounces, recorded);
        }
        Ok(())
    }

    /// Counts and logs newly recorded bounces (recipients masked).
    fn count(&self, job: mailroom_jobs::JobId, bounces: &[Bounce], recorded: BounceRecorded) {
        for bounce in bounces {
            let kind = if bounce.is_hard() {
                BounceKind::Hard
            } else {
                BounceKind::Soft
            };
            self.metrics.bounce(kind);
            let recipient = mailroom_jobs::Address::parse(&bounce.recipient)
                .map_or_else(|_| "***".to_owned(), |a| a.masked());
            tracing::info!(
                %job, %recipient, status = %bounce.status, kind = kind.as_str(),
                record = if recorded == BounceRecorded::Linked { "updated" } else { "expired" },
                suppressed = bounce.is_hard(),
                "bounce recorded"
            );
        }
    }
}
