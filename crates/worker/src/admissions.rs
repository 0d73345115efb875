//! Admissions in batches: the sender gate's questions from every handler of a worker go
//! through one task, which asks Redis once per sender for all the jobs waiting at that moment
//! ([`Queue::admit_many`]), so a fetch round's jobs of one sender cost one script call, not
//! one each, and an idle worker adds no delay.

use std::collections::HashMap;
use std::sync::Arc;

use mailroom_jobs::JobId;
use mailroom_queue::{Admission, Queue, QueueError, SenderKeys, SenderLimits};
use tokio::sync::{mpsc, oneshot};

/// Most questions answered by one round.
const MAX_BATCH: usize = 512;

struct Ask {
    keys: Arc<SenderKeys>,
    job: JobId,
    reply: oneshot::Sender<Result<Admission, QueueError>>,
}

/// The handle to a worker's admission task; the task ends when the last handle is dropped.
#[derive(Debug, Clone)]
pub(crate) struct Admissions(mpsc::UnboundedSender<Ask>);

impl Admissions {
    /// Starts the task (inside a Tokio runtime).
    pub fn spawn(queue: Queue, limits: SenderLimits) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(answer(queue, limits, rx));
        Self(tx)
    }

    /// May the sender of `keys` send `job` now?
    pub async fn admit(&self, keys: Arc<SenderKeys>, job: JobId) -> Result<Admission, QueueError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || QueueError::Protocol("the admission task stopped".into());
        self.0
            .send(Ask { keys, job, reply })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn answer(queue: Queue, limits: SenderLimits, mut rx: mpsc::UnboundedReceiver<Ask>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        // One group per sender, in the order the questions came.
        let mut groups: Vec<Vec<Ask>> = Vec::new();
        let mut index: HashMap<Arc<SenderKeys>, usize> = HashMap::new();
        for ask in batch.drain(..) {
            let at = *index.entry(Arc::clone(&ask.keys)).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[at].push(ask);
        }
        let rounds = groups.into_iter().map(|group| {
            let queue = &queue;
            let limits = &limits;
            async move {
                let jobs: Vec<JobId> = group.iter().map(|a| a.job).collect();
                let answers = queue.admit_many(&group[0].keys, &jobs, limits).await;
                reply(group, answers);
            }
        });
        futures::future::join_all(rounds).await;
    }
}

fn reply(group: Vec<Ask>, answers: Result<Vec<Admission>, QueueError>) {
    match answers {
        Ok(answers) if answers.len() == group.len() => {
            for (ask, a) in group.into_iter().zip(answers) {
                // A handler that went away needs no answer.
                let _ = ask.reply.send(Ok(a));
            }
        }
        Ok(_) => {
            for ask in group {
                let _ = ask.reply.send(Err(QueueError::Protocol(
                    "admit.lua answered a different number of jobs".into(),
                )));
            }
        }
        Err(e) => {
            for ask in group {
                let _ = ask.reply.send(Err(e.clone()));
            }
        }
    }
}
