//! Admissions in batches: the sender gate's questions from every handler of a worker go
//! through one task, which asks Redis once per sender for all the jobs waiting at that moment
//! ([`Queue::admit_many`]), so a fetch round's jobs of one sender cost one script call, not
//! one each. An idle worker adds no delay; a busy one (a round started less than [`LINGER`]
//! after the previous) gathers questions until then, so one call admits more jobs.
//!
//! A job sent through a sender pool is first given a member ([`crate::pool_choice`], from one
//! read of the members' state per pool and round), then admitted with that member's jobs.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mailroom_jobs::JobId;
use mailroom_queue::{Admission, Queue, QueueError, SenderKeys, SenderLimits};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::pool_choice::{Choice, PoolWait, assign};
use crate::pools::Pool;

/// Most questions answered by one round.
const MAX_BATCH: usize = 512;

/// How long a busy task gathers questions: when a round starts within this of the previous
/// one, it waits until this long after that one began (or until [`ENOUGH`] questions wait),
/// so that under load one script call admits about twenty jobs instead of about nine. Each call
/// costs Redis about as much as its first few jobs, and a busy worker's jobs wait at most this
/// much longer; an idle worker's first question goes at once.
const LINGER: Duration = Duration::from_millis(5);

/// Questions that make a round worth starting without lingering.
const ENOUGH: usize = 64;

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
    let mut last_round: Option<Instant> = None;
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        if let Some(last) = last_round {
            gather(&mut rx, &mut batch, last + LINGER).await;
        }
        last_round = Some(Instant::now());
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

/// Adds the questions that come until `until` (a time already past adds none) or until
/// [`ENOUGH`] wait.
async fn gather<T>(rx: &mut mpsc::UnboundedReceiver<T>, batch: &mut Vec<T>, until: Instant) {
    while batch.len() < ENOUGH {
        match tokio::time::timeout_at(until, rx.recv_many(batch, MAX_BATCH - batch.len())).await {
            Ok(n) if n > 0 => {}
            _ => return,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Questions that come within the linger join the round; later ones wait for the next;
    /// a round with enough questions, or whose linger has passed, starts at once.
    #[tokio::test(start_paused = true)]
    async fn a_busy_round_gathers_what_comes_within_the_linger() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let start = Instant::now();
        // One every 2 ms (the timer's unit is 1 ms), from 0.
        tokio::spawn(async move {
            for i in 0..8_u32 {
                tx.send(i).unwrap();
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        });
        let mut batch = Vec::new();
        gather(&mut rx, &mut batch, start + LINGER).await;
        // Those of the first 5 ms.
        assert_eq!(batch, [0, 1, 2]);
        assert_eq!(Instant::now(), start + LINGER);
        // A linger already over adds only what is there, without waiting.
        batch.clear();
        tokio::time::sleep(Duration::from_millis(10)).await;
        let before = Instant::now();
        gather(&mut rx, &mut batch, start).await;
        assert_eq!(batch, [3, 4, 5, 6, 7]);
        assert_eq!(Instant::now(), before);

        let (tx, mut rx) = mpsc::unbounded_channel();
        for i in 0..ENOUGH {
            tx.send(i).unwrap();
        }
        let mut batch = Vec::new();
        let before = Instant::now();
        gather(&mut rx, &mut batch, before + LINGER).await;
        assert_eq!(batch.len(), ENOUGH);
        assert_eq!(
            Instant::now(),
            before,
            "enough questions start the round at once"
        );
    }
}
