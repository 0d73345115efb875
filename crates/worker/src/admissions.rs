//! Admissions in batches: the sender gate's questions from every handler of a worker go
//! through one task, which asks Redis once per sender for all the jobs waiting at that moment
//! ([`Queue::admit_many`]), so a fetch round's jobs of one sender cost one script call, not
//! one each, and an idle worker adds no delay.
//!
//! A job sent through a sender pool is first given a member ([`crate::pool_choice`], from one
//! read of the members' state per pool and round), then admitted with that member's jobs.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mailroom_jobs::JobId;
use mailroom_queue::{Admission, Queue, QueueError, SenderKeys, SenderLimits};
use tokio::sync::{mpsc, oneshot};

use crate::pool_choice::{Choice, PoolWait, assign};
use crate::pools::Pool;

/// Most questions answered by one round.
const MAX_BATCH: usize = 512;

/// The answer for a pool's job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PoolAdmission {
    /// `member` was chosen; its gate answered `admission`.
    Member {
        member: String,
        admission: Admission,
    },
    /// No member can send now.
    Wait(PoolWait),
}

enum Reply {
    Sender(oneshot::Sender<Result<Admission, QueueError>>),
    Pool(String, PoolReply),
}

struct Ask {
    keys: Arc<SenderKeys>,
    job: JobId,
    reply: Reply,
}

/// Where a pool's answer goes.
type PoolReply = oneshot::Sender<Result<PoolAdmission, QueueError>>;

/// A pool's jobs asked about in one round, with where each answer goes.
type PoolJobs = Vec<(JobId, PoolReply)>;

enum Question {
    Sender(Ask),
    Pool {
        pool: Arc<Pool>,
        job: JobId,
        reply: PoolReply,
    },
}

/// The handle to a worker's admission task; the task ends when the last handle is dropped.
#[derive(Debug, Clone)]
pub(crate) struct Admissions(mpsc::UnboundedSender<Question>);

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
        self.0
            .send(Question::Sender(Ask {
                keys,
                job,
                reply: Reply::Sender(reply),
            }))
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Which member of `pool` sends `job`, and may it send now?
    pub async fn admit_pool(
        &self,
        pool: Arc<Pool>,
        job: JobId,
    ) -> Result<PoolAdmission, QueueError> {
        let (reply, answer) = oneshot::channel();
        self.0
            .send(Question::Pool { pool, job, reply })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> QueueError {
    QueueError::Protocol("the admission task stopped".into())
}

async fn answer(queue: Queue, limits: SenderLimits, mut rx: mpsc::UnboundedReceiver<Question>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let turn = AtomicUsize::new(0);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let mut asks = Vec::with_capacity(batch.len());
        let mut pooled: Vec<(Arc<Pool>, PoolJobs)> = Vec::new();
        for question in batch.drain(..) {
            match question {
                Question::Sender(ask) => asks.push(ask),
                Question::Pool { pool, job, reply } => {
                    match pooled.iter_mut().find(|(p, _)| Arc::ptr_eq(p, &pool)) {
                        Some((_, jobs)) => jobs.push((job, reply)),
                        None => pooled.push((pool, vec![(job, reply)])),
                    }
                }
            }
        }
        for (pool, jobs) in pooled {
            let start = turn.fetch_add(1, Ordering::Relaxed);
            choose(&queue, &limits, &pool, jobs, start, &mut asks).await;
        }
        admit_all(&queue, &limits, asks).await;
    }
}

/// Gives each of a pool's `jobs` a member (an ask for that member's gate, added to `asks`),
/// or answers that it waits.
async fn choose(
    queue: &Queue,
    limits: &SenderLimits,
    pool: &Pool,
    jobs: PoolJobs,
    start: usize,
    asks: &mut Vec<Ask>,
) {
    let views = match queue.pool_view(&pool.members, limits).await {
        Ok(views) => views,
        Err(e) => {
            for (_, reply) in jobs {
                let _ = reply.send(Err(e.clone()));
            }
            return;
        }
    };
    let recheck = i64::try_from(limits.quarantine_recheck.as_millis()).unwrap_or(i64::MAX);
    let now = chrono::Utc::now().timestamp_millis();
    let choices = assign(&views, jobs.len(), now, recheck, start);
    for ((job, reply), choice) in jobs.into_iter().zip(choices) {
        match choice {
            Choice::Member(member) => asks.push(Ask {
                keys: Arc::new(queue.pool_member_keys(&member)),
                job,
                reply: Reply::Pool(member, reply),
            }),
            Choice::Wait(wait) => {
                let _ = reply.send(Ok(PoolAdmission::Wait(wait)));
            }
        }
    }
}

/// Admits `asks`, one script call per sender.
async fn admit_all(queue: &Queue, limits: &SenderLimits, asks: Vec<Ask>) {
    // One group per sender, in the order the questions came.
    let mut groups: Vec<Vec<Ask>> = Vec::new();
    let mut index: HashMap<Arc<SenderKeys>, usize> = HashMap::new();
    for ask in asks {
        let at = *index.entry(Arc::clone(&ask.keys)).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[at].push(ask);
    }
    let rounds = groups.into_iter().map(|group| async move {
        let jobs: Vec<JobId> = group.iter().map(|a| a.job).collect();
        let answers = queue.admit_many(&group[0].keys, &jobs, limits).await;
        reply(group, answers);
    });
    futures::future::join_all(rounds).await;
}

fn reply(group: Vec<Ask>, answers: Result<Vec<Admission>, QueueError>) {
    let answers: Vec<Result<Admission, QueueError>> = match answers {
        Ok(answers) if answers.len() == group.len() => answers.into_iter().map(Ok).collect(),
        Ok(_) => vec![
            Err(QueueError::Protocol(
                "admit.lua answered a different number of jobs".into(),
            ));
            group.len()
        ],
        Err(e) => vec![Err(e); group.len()],
    };
    for (ask, answer) in group.into_iter().zip(answers) {
        // A handler that went away needs no answer.
        match ask.reply {
            Reply::Sender(tx) => {
                let _ = tx.send(answer);
            }
            Reply::Pool(member, tx) => {
                let _ =
                    tx.send(answer.map(|admission| PoolAdmission::Member { member, admission }));
            }
        }
    }
}
