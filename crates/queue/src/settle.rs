//! Recording outcomes. Outcomes from all of a worker's handlers go through one task that sends
//! them to Redis in batches, so a busy worker pays one round trip for many jobs and an idle one
//! adds no delay.
//!
//! The common outcomes (`sent`, and `skip` for deliveries of finished jobs) need no decision
//! inside Redis: they go as one pipeline of plain commands per batch, no script: each sent
//! job's done record (`HSETNX` of its field in its bucket, see [`crate::done`]), the buckets'
//! expiry, one `DEL` of the sent jobs' hashes, then one `XACK` and one `XDEL` of the entries.
//! What the pipeline's answers reveal (a `sent` for a job already recorded as sent, or for a
//! delivery settled elsewhere) and the rare outcomes (`expired`, and `retry`, `dead`,
//! `release`, which check the delivery's holder) run through `finish.lua`.

use redis::Pipeline;
use tokio::sync::{mpsc, oneshot};

use crate::QueueError;
use crate::activity::Event;
use crate::done::{Kept, SentRecord, bucket};
use crate::keys::GROUP;
use crate::queue::{Queue, now_ms};
use crate::scripts::{call, run};

/// Most outcomes recorded by one call.
const MAX_BATCH: usize = 256;

/// What a `sent` outcome records beside the send itself; empty for the other outcomes.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Notes<'a> {
    /// JSON of the recipients the suppression list dropped from the job.
    pub suppressed: Option<&'a str>,
    /// The mailbox that sent a pool's job (empty otherwise).
    pub sent_as: &'a str,
    /// The job's deliveries, this one included (0 when unknown).
    pub deliveries: u32,
    /// Failed attempts before the send.
    pub attempts: u32,
    /// When the job was enqueued (ms since the epoch).
    pub created_ms: i64,
    /// The job's metadata, tags and expiry, kept in its done record.
    pub kept: Option<&'a Kept>,
}

/// One outcome to record, and what its answer goes to.
pub(crate) struct Outcome {
    entry: String,
    id: String,
    outcome: &'static str,
    args: [String; 3],
    /// The job's deliveries, this one included, for a `sent` (0 when unknown).
    deliveries: u32,
    /// For a `sent`: the JSON of the recipients the suppression list dropped from the job,
    /// kept in its record's `suppressed`.
    suppressed: Option<String>,
    /// The mailbox that sent a pool's job (`sent`; empty otherwise).
    sent_as: String,
    /// For a `sent`: the attempts before it, the enqueue time (ms) and what the done record
    /// keeps of the job.
    attempts: u32,
    created_ms: i64,
    kept: Kept,
    reply: Option<Reply>,
}

/// What an outcome's answer goes to.
enum Reply {
    /// A caller waiting for it.
    Wait(oneshot::Sender<Result<i64, QueueError>>),
    /// A function the outcome task calls with it (it must not block): a handler that does not
    /// wait costs no task of its own.
    Then(Then),
}

/// A function called with an outcome's answer, on the outcome task.
pub(crate) type Then = Box<dyn FnOnce(Result<i64, QueueError>) + Send + Sync>;

impl Reply {
    fn send(self, answer: Result<i64, QueueError>) {
        match self {
            // A waiter that went away (its handler was aborted) needs no answer.
            Reply::Wait(tx) => drop(tx.send(answer)),
            Reply::Then(then) => then(answer),
        }
    }
}

fn stopped() -> QueueError {
    QueueError::Protocol("the outcome task stopped".into())
}

/// The handle to a worker's outcome task; the task ends when the last handle is dropped.
#[derive(Debug, Clone)]
pub(crate) struct Settler(mpsc::UnboundedSender<Outcome>);

impl Settler {
    pub fn spawn(queue: Queue, consumer: String) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(record(queue, consumer, rx));
        Self(tx)
    }

    /// Records one outcome for the delivery `entry` of job `id`: `sent` (retention_s,
    /// transport_id, thread_id), `skip` (a delivery of a finished job: acknowledged only),
    /// `expired` (retention_s), or one of `finish.lua`'s; a `sent` may carry the
    /// recipients the suppression list dropped (`suppressed`, JSON). Returns 0, the attempts
    /// after a retry, 1 for a `sent` of a job already sent (a duplicate), -1 when nothing
    /// changed (a `skip` answers 0 either way: its batch is acknowledged at once).
    pub async fn settle(
        &self,
        entry: &str,
        id: &str,
        outcome: &'static str,
        args: [&str; 3],
        notes: Notes<'_>,
    ) -> Result<i64, QueueError> {
        let (reply, answer) = oneshot::channel();
        self.send(
            Outcome::new(entry, id, outcome, args, notes),
            Reply::Wait(reply),
        );
        answer.await.map_err(|_| stopped())?
    }

    /// Records `outcome` without waiting: `then` is called with the answer (as
    /// [`Settler::settle`] gives it), on the outcome task.
    pub fn settle_then(&self, outcome: Outcome, then: Then) {
        self.send(outcome, Reply::Then(then));
    }

    fn send(&self, mut outcome: Outcome, reply: Reply) {
        outcome.reply = Some(reply);
        if let Err(mpsc::error::SendError(mut outcome)) = self.0.send(outcome)
            && let Some(reply) = outcome.reply.take()
        {
            reply.send(Err(stopped()));
        }
    }
}

impl Outcome {
    /// The outcome `outcome` for the delivery `entry` of job `id`, with its arguments (see
    /// [`Settler::settle`]).
    pub fn new(
        entry: &str,
        id: &str,
        outcome: &'static str,
        args: [&str; 3],
        notes: Notes<'_>,
    ) -> Self {
        Self {
            entry: entry.to_owned(),
            id: id.to_owned(),
            outcome,
            args: args.map(str::to_owned),
            deliveries: notes.deliveries,
            suppressed: notes.suppressed.map(str::to_owned),
            sent_as: notes.sent_as.to_owned(),
            attempts: notes.attempts,
            created_ms: notes.created_ms,
            kept: notes.kept.cloned().unwrap_or_default(),
            reply: None,
        }
    }
}

async fn record(queue: Queue, consumer: String, mut rx: mpsc::UnboundedReceiver<Outcome>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let answers = finish(&queue, &consumer, &batch).await;
        if answers.is_err() {
            queue.record(Event::RedisError, 1);
        }
        for (i, mut outcome) in batch.drain(..).enumerate() {
            let answer = match &answers {
                Ok(codes) => codes
                    .get(i)
                    .copied()
                    .ok_or_else(|| QueueError::Protocol("short reply for outcomes".into())),
                Err(e) => Err(e.clone()),
            };
            if let Some(reply) = outcome.reply.take() {
                reply.send(answer);
            }
        }
    }
}

fn is_plain(outcome: &str) -> bool {
    matches!(outcome, "sent" | "skip")
}

/// Records a batch: the plain outcomes by pipeline, the others (and the follow-ups the
/// pipeline's answers call for) by `finish.lua`; then waits for replicas when configured.
async fn finish(queue: &Queue, consumer: &str, batch: &[Outcome]) -> Result<Vec<i64>, QueueError> {
    let mark = crate::replicas::Mark::before(queue);
    let now = now_ms();
    let mut codes = vec![0_i64; batch.len()];
    let plain: Vec<usize> = (0..batch.len())
        .filter(|&i| is_plain(batch[i].outcome))
        .collect();
    // Rare outcomes, then follow-ups: (index in batch, outcome, transport id).
    let mut rare: Vec<(usize, &'static str, &str)> = (0..batch.len())
        .filter(|&i| !is_plain(batch[i].outcome))
        .map(|i| (i, batch[i].outcome, ""))
        .collect();
    if !plain.is_empty() {
        let answers: Vec<i64> = pipeline(queue, now, batch, &plain)
            .query_async(&mut queue.conn())
            .await?;
        let sent = plain
            .iter()
            .filter(|&&i| batch[i].outcome == "sent")
            .count();
        let (fresh, acked) = answers.split_at(sent.min(answers.len()));
        // One `XACK` for the batch answers how many deliveries were still pending. When one
        // was not (it was settled elsewhere: the job was meanwhile rescheduled or
        // dead-lettered), every job sent in the batch leaves the schedule and the dead
        // letters (`late`), which changes nothing for the others.
        let all_acked = acked.first().copied() == Some(i64::try_from(plain.len()).unwrap_or(0));
        let mut fresh = fresh.iter();
        for &i in &plain {
            let o = &batch[i];
            if o.outcome != "sent" {
                continue;
            }
            codes[i] = if fresh.next().copied().unwrap_or(1) == 0 {
                rare.push((i, "duplicate", &o.args[1]));
                1
            } else {
                if !all_acked {
                    rare.push((i, "late", ""));
                }
                0
            };
        }
    }
    if !rare.is_empty() {
        let i = &queue.inner;
        let mut inv = call(&i.scripts.finish, &i.keys);
        inv.arg(&i.keys.prefix).arg(now).arg(GROUP);
        for &(at, outcome, tid) in &rare {
            let o = &batch[at];
            inv.arg(&o.entry).arg(&o.id).arg(outcome).arg(consumer);
            match outcome {
                "duplicate" => inv.arg(bucket(&i.keys, &o.id)).arg(tid).arg(""),
                "expired" => inv.arg(&o.args[0]).arg(bucket(&i.keys, &o.id)).arg(""),
                _ => inv.arg(&o.args[0]).arg(&o.args[1]).arg(&o.args[2]),
            };
        }
        let answers: Vec<i64> = run(&inv, &mut queue.conn()).await?;
        for (&(at, outcome, _), answer) in rare.iter().zip(answers) {
            if outcome != "duplicate" && outcome != "late" {
                codes[at] = answer;
            }
        }
    }
    crate::replicas::confirm_outcome(queue, mark).await?;
    Ok(codes)
}

/// The pipeline of the plain outcomes at `plain`. It answers, first, per `sent` whether its
/// done record was new (`HSETNX`: 0 when the job was already recorded as sent), then how many
/// of the deliveries `XACK` found pending. The records are written before the
/// entries are acknowledged, so whatever prefix of the pipeline lands (the worker died
/// mid-write) leaves a consistent state: at worst a `sent` job whose entry is still pending,
/// which its next delivery drops as finished. (A `MULTI` is not needed for that, and a Redis
/// Cluster client cannot retry one after a slot moved.)
fn pipeline(queue: &Queue, now: i64, batch: &[Outcome], plain: &[usize]) -> Pipeline {
    let keys = queue.keys();
    let mut pipe = redis::pipe();
    // Each bucket written, with the longest retention asked for it.
    let mut buckets: Vec<(String, &str)> = Vec::new();
    let mut sent_jobs = Vec::new();
    for o in plain
        .iter()
        .map(|&i| &batch[i])
        .filter(|o| o.outcome == "sent")
    {
        let [retention, transport_id, thread_id] = &o.args;
        let record = SentRecord {
            id: &o.id,
            finished_ms: now,
            deliveries: o.deliveries,
            attempts: o.attempts,
            created_ms: o.created_ms,
            transport_id,
            thread_id,
            sent_as: &o.sent_as,
            suppressed: o.suppressed.as_deref(),
            kept: &o.kept,
        };
        let key = bucket(keys, &o.id);
        pipe.cmd("HSETNX").arg(&key).arg(&o.id).arg(record.encode());
        match buckets.iter_mut().find(|(k, _)| *k == key) {
            Some((_, r)) => {
                if retention.parse().unwrap_or(0_u64) > r.parse().unwrap_or(0) {
                    *r = retention;
                }
            }
            None => buckets.push((key, retention)),
        }
        sent_jobs.push(keys.job(&o.id));
    }
    for (key, retention) in &buckets {
        pipe.cmd("EXPIRE")
            .arg(key)
            .arg(retention)
            .arg("NX")
            .ignore();
        pipe.cmd("EXPIRE")
            .arg(key)
            .arg(retention)
            .arg("GT")
            .ignore();
    }
    if !sent_jobs.is_empty() {
        pipe.cmd("DEL").arg(&sent_jobs).ignore();
    }
    let entries: Vec<&str> = plain.iter().map(|&i| batch[i].entry.as_str()).collect();
    pipe.cmd("XACK").arg(&keys.ready).arg(GROUP).arg(&entries);
    pipe.cmd("XDEL").arg(&keys.ready).arg(&entries).ignore();
    pipe
}
