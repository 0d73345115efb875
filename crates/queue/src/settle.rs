//! Recording outcomes. Outcomes from all of a worker's handlers go through one task that sends
//! them to Redis in batches, so a busy worker pays one round trip for many jobs and an idle one
//! adds no delay.
//!
//! The common outcomes (`sent`, and `skip`/`expired` for deliveries that never ran) need no
//! decision inside Redis: they go as one pipeline of plain commands per batch
//! (the status record, then `XACK` + `XDEL`), no script. What the pipeline's answers reveal (a
//! `sent` for a job already recorded as sent, or for a delivery settled elsewhere) and the rare
//! outcomes (`retry`, `dead`, `release`, which check the delivery's holder) run through
//! `finish.lua`.

use redis::Pipeline;
use tokio::sync::{mpsc, oneshot};

use crate::QueueError;
use crate::activity::Event;
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
}

struct Outcome {
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
    reply: oneshot::Sender<Result<i64, QueueError>>,
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
    /// changed.
    pub async fn settle(
        &self,
        entry: &str,
        id: &str,
        outcome: &'static str,
        args: [&str; 3],
        deliveries: u32,
        notes: Notes<'_>,
    ) -> Result<i64, QueueError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || QueueError::Protocol("the outcome task stopped".into());
        self.0
            .send(Outcome {
                entry: entry.to_owned(),
                id: id.to_owned(),
                outcome,
                args: args.map(str::to_owned),
                deliveries,
                suppressed: notes.suppressed.map(str::to_owned),
                sent_as: notes.sent_as.to_owned(),
                reply,
            })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn record(queue: Queue, consumer: String, mut rx: mpsc::UnboundedReceiver<Outcome>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let answers = finish(&queue, &consumer, &batch).await;
        if answers.is_err() {
            queue.record(Event::RedisError, 1);
        }
        for (i, outcome) in batch.drain(..).enumerate() {
            let answer = match &answers {
                Ok(codes) => codes
                    .get(i)
                    .copied()
                    .ok_or_else(|| QueueError::Protocol("short reply for outcomes".into())),
                Err(e) => Err(e.clone()),
            };
            // A waiter that went away (its handler was aborted) needs no answer.
            let _ = outcome.reply.send(answer);
        }
    }
}

fn is_plain(outcome: &str) -> bool {
    matches!(outcome, "sent" | "skip" | "expired")
}

/// How many answers a plain outcome's commands give (the others are ignored): `HSETNX` and
/// `XACK` for a `sent`, `XACK` for the others.
fn width(outcome: &str) -> usize {
    if outcome == "sent" { 2 } else { 1 }
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
        let mut at = 0;
        for &i in &plain {
            let o = &batch[i];
            let (fresh, acked) = answers.get(at..at + width(o.outcome)).map_or((1, 0), |a| {
                if a.len() == 2 {
                    (a[0], a[1])
                } else {
                    (1, a[0])
                }
            });
            at += width(o.outcome);
            codes[i] = match o.outcome {
                "sent" if fresh == 0 => {
                    rare.push((i, "duplicate", &o.args[1]));
                    1
                }
                "sent" => {
                    if acked == 0 {
                        rare.push((i, "late", ""));
                    }
                    0
                }
                _ if acked == 0 => -1,
                _ => 0,
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
            if tid.is_empty() {
                inv.arg(&o.args[0]).arg(&o.args[1]).arg(&o.args[2]);
            } else {
                inv.arg("").arg(tid).arg("");
            }
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

/// The pipeline of the plain outcomes at `plain`. Each answers two values: whether `XACK`
/// found the delivery pending, and (for `sent`) whether the record had no transport id yet (1
/// for the others). The record is written before the entry is acknowledged, so whatever prefix
/// of the pipeline lands (the worker died mid-write) leaves a consistent state: at worst a
/// `sent` job whose entry is still pending, which its next delivery drops as finished. (A
/// `MULTI` is not needed for that, and a Redis Cluster client cannot retry one after a slot
/// moved.)
fn pipeline(queue: &Queue, now: i64, batch: &[Outcome], plain: &[usize]) -> Pipeline {
    let keys = queue.keys();
    let mut pipe = redis::pipe();
    for &i in plain {
        let o = &batch[i];
        let jk = keys.job(&o.id);
        match o.outcome {
            "sent" => {
                let [retention, transport_id, thread_id] = &o.args;
                pipe.cmd("HSETNX")
                    .arg(&jk)
                    .arg("transport_id")
                    .arg(transport_id);
                pipe.cmd("HSET")
                    .arg(&jk)
                    .arg("state")
                    .arg("sent")
                    .arg("finished_at")
                    .arg(now)
                    .arg("thread_id")
                    .arg(thread_id)
                    .arg("deliveries")
                    .arg(o.deliveries)
                    .ignore();
                if let Some(suppressed) = &o.suppressed {
                    pipe.cmd("HSET")
                        .arg(&jk)
                        .arg("suppressed")
                        .arg(suppressed)
                        .ignore();
                }
                if !o.sent_as.is_empty() {
                    pipe.cmd("HSET")
                        .arg(&jk)
                        .arg("sent_as")
                        .arg(&o.sent_as)
                        .ignore();
                }
                pipe.cmd("HDEL")
                    .arg(&jk)
                    .arg("payload")
                    .arg("entry")
                    .arg("owner")
                    .arg("due_at")
                    .ignore();
                pipe.cmd("EXPIRE").arg(&jk).arg(retention).ignore();
            }
            "expired" => {
                pipe.cmd("HSET")
                    .arg(&jk)
                    .arg("state")
                    .arg("expired")
                    .arg("finished_at")
                    .arg(now)
                    .arg("last_error")
                    .arg("expired before it could be sent")
                    .ignore();
                pipe.cmd("HDEL")
                    .arg(&jk)
                    .arg("payload")
                    .arg("entry")
                    .ignore();
                pipe.cmd("EXPIRE").arg(&jk).arg(&o.args[0]).ignore();
            }
            _ => {}
        }
        pipe.cmd("XACK").arg(&keys.ready).arg(GROUP).arg(&o.entry);
        pipe.cmd("XDEL").arg(&keys.ready).arg(&o.entry).ignore();
    }
    pipe
}
