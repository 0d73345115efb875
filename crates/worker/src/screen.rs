//! Screening a job against the suppression list before it is sent: a lookup of all its
//! recipients (global suppressions and its list's), then the job without the suppressed ones.
//! A `transactional` job is not screened. The worker's fetch rounds look up all their jobs as
//! they start, in one round trip per round, and each job's lease carries the answer
//! ([`mailroom_queue::Lease::screened`]). A job without one (its round's lookup failed) asks
//! through one task ([`Screener`]), which asks Redis once for all the jobs waiting at that
//! moment ([`Queue::suppressed_among_many`]); an idle worker adds no delay.

use std::sync::{Arc, OnceLock};

use mailroom_jobs::EmailJob;
use mailroom_queue::{Queue, QueueError, Screening, Suppression, normalize_suppressed};
use tokio::sync::{mpsc, oneshot};

/// Most jobs screened by one round trip.
const MAX_BATCH: usize = 512;

struct Ask {
    screening: Screening,
    reply: oneshot::Sender<Result<Vec<Suppression>, QueueError>>,
}

/// The handle to a worker's screening task, started on first use (inside the runtime); the
/// task ends when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct Screener {
    queue: Queue,
    asks: Arc<OnceLock<mpsc::UnboundedSender<Ask>>>,
}

impl Screener {
    /// Screens against `queue`'s suppression list.
    #[must_use]
    pub fn new(queue: Queue) -> Self {
        Self {
            queue,
            asks: Arc::new(OnceLock::new()),
        }
    }

    /// The suppressed among `screening`'s recipients, asked with the other handlers'.
    async fn suppressed(&self, screening: Screening) -> Result<Vec<Suppression>, QueueError> {
        let stopped = || QueueError::Protocol("the screening task stopped".into());
        let asks = self.asks.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(answer(self.queue.clone(), rx));
            tx
        });
        let (reply, answer) = oneshot::channel();
        asks.send(Ask { screening, reply }).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn answer(queue: Queue, mut rx: mpsc::UnboundedReceiver<Ask>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (screenings, replies): (Vec<Screening>, Vec<_>) =
            batch.drain(..).map(|a| (a.screening, a.reply)).unzip();
        match queue.suppressed_among_many(&screenings).await {
            Ok(found) => {
                for (reply, found) in replies.into_iter().zip(found) {
                    // A handler that went away (aborted) needs no answer.
                    let _ = reply.send(Ok(found));
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}

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

/// Looks `job`'s recipients up in the suppression list and drops the suppressed ones from
/// `to`, `cc` and `bcc`. The answer its fetch round found (`fetched`, see
/// [`Lease::screened`](mailroom_queue::Lease::screened)) is used when there is one; otherwise
/// the job asks with the other handlers.
///
/// # Errors
/// Redis unreachable.
pub async fn screen(
    screener: &Screener,
    job: &EmailJob,
    fetched: Option<Vec<Suppression>>,
) -> Result<Screened, QueueError> {
    // A fetched answer exists only for a job that is screened; the question (its recipients,
    // copied) is built only when the job has to ask.
    let dropped = match fetched {
        Some(found) => found,
        None => match Screening::of(job) {
            Some(screening) => screener.suppressed(screening).await?,
            None => Vec::new(),
        },
    };
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
