//! Recording outcomes. Outcomes from all of a worker's handlers go through one task that sends
//! them to Redis in batches (one `finish.lua` call for every outcome waiting), so a busy worker
//! pays one round trip and one script call for many jobs, and an idle one adds no delay.

use tokio::sync::{mpsc, oneshot};

use crate::QueueError;
use crate::activity::Event;
use crate::keys::GROUP;
use crate::queue::{Queue, now_ms};
use crate::scripts::{call, run};

/// Most outcomes recorded by one script call.
const MAX_BATCH: usize = 256;

struct Outcome {
    entry: String,
    id: String,
    outcome: &'static str,
    args: [String; 3],
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

    /// Records one outcome (`sent`, `retry`, `dead` or `release`, see `finish.lua`) for the
    /// delivery `entry` of job `id`; returns the script's answer for it.
    pub async fn settle(
        &self,
        entry: &str,
        id: &str,
        outcome: &'static str,
        args: [&str; 3],
    ) -> Result<i64, QueueError> {
        let (reply, answer) = oneshot::channel();
        let stopped = || QueueError::Protocol("the outcome task stopped".into());
        self.0
            .send(Outcome {
                entry: entry.to_owned(),
                id: id.to_owned(),
                outcome,
                args: args.map(str::to_owned),
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
                    .ok_or_else(|| QueueError::Protocol("short reply from finish.lua".into())),
                Err(e) => Err(e.clone()),
            };
            // A waiter that went away (its handler was aborted) needs no answer.
            let _ = outcome.reply.send(answer);
        }
    }
}

async fn finish(queue: &Queue, consumer: &str, batch: &[Outcome]) -> Result<Vec<i64>, QueueError> {
    let i = &queue.inner;
    let mut inv = call(&i.scripts.finish, &i.keys);
    inv.arg(&i.keys.prefix).arg(now_ms()).arg(GROUP);
    for o in batch {
        inv.arg(&o.entry).arg(&o.id).arg(o.outcome).arg(consumer);
        for a in &o.args {
            inv.arg(a);
        }
    }
    let mark = crate::replicas::Mark::before(queue);
    let codes = run(&inv, &mut queue.conn()).await?;
    crate::replicas::confirm_outcome(queue, mark).await?;
    Ok(codes)
}
