//! Single-job enqueues from concurrent callers, gathered into shared script calls.
//!
//! An `enqueue.lua` call costs Redis a fixed part (the call itself, its reply) beside each
//! job's own work, and costs the client a write and a read on the connection. When many
//! callers each enqueue one job at once (an HTTP API taking single jobs from many clients),
//! the jobs that arrive while [`IN_FLIGHT`] calls are running wait and go together in the
//! next call, cut as a batch's runs are ([`SCRIPT_JOBS`](crate::SCRIPT_JOBS) jobs,
//! [`SCRIPT_BYTES`](crate::SCRIPT_BYTES) of payload). A job that arrives while fewer calls
//! are running goes at once, so a lone caller waits for nothing.
//!
//! Each job gets its own answer (its id, and whether it was a duplicate). A call that fails
//! fails each of its jobs with the same error, which means what it means for a single job:
//! the job was not queued (or, with `min_replicas_ack`, may not be replicated), and sending
//! it again is safe (its id is queued once). The calls run on tasks of their own, so a caller
//! that gives up waiting does not take the other callers' jobs down with it.
//!
//! This is ours rather than a crate's: it is the queue's own call, cut by the queue's own
//! limits, and it needs nothing but a mutex and a oneshot channel.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::oneshot;

use crate::QueueError;
use crate::enqueue::{Enqueued, JobArgs, first_run};
use crate::queue::Queue;

/// Script calls of gathered jobs running at once.
const IN_FLIGHT: usize = 2;

/// The answer a waiting caller gets.
type Answer = oneshot::Sender<Result<Enqueued, QueueError>>;

/// Jobs waiting for a call, and the calls running.
#[derive(Default)]
pub(crate) struct Gather {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    waiting: VecDeque<(JobArgs, Answer)>,
    calls: usize,
}

impl Gather {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is left consistent at every step, so a poisoned lock is still usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The next call's jobs, taken from the front as a batch's first run; none when nothing
    /// waits, and then this call ends.
    fn next(&self) -> Vec<(JobArgs, Answer)> {
        let mut state = self.state();
        let run = first_run(state.waiting.make_contiguous(), |(args, _)| {
            args.payload_len()
        });
        if run == 0 {
            state.calls -= 1;
        }
        state.waiting.drain(..run).collect()
    }
}

impl Queue {
    /// Enqueues one job, in a call of its own or together with other callers' jobs (see
    /// [`crate::gather`]).
    pub(crate) async fn gathered(&self, args: JobArgs) -> Result<Enqueued, QueueError> {
        let (answer, answered) = oneshot::channel();
        let start = {
            let mut state = self.inner.gather.state();
            state.waiting.push_back((args, answer));
            let start = state.calls < IN_FLIGHT;
            if start {
                state.calls += 1;
            }
            start
        };
        if start {
            let queue = self.clone();
            tokio::spawn(async move { queue.calls().await });
        }
        answered
            .await
            .map_err(|_| QueueError::Protocol("the enqueue call ended without an answer".into()))?
    }

    /// Runs calls for waiting jobs until none waits.
    async fn calls(&self) {
        loop {
            let group = self.inner.gather.next();
            if group.is_empty() {
                return;
            }
            let (args, answers): (Vec<JobArgs>, Vec<Answer>) = group.into_iter().unzip();
            let mark = crate::replicas::Mark::before(self);
            let result = async {
                let done = self.enqueue_args(&args).await?;
                crate::replicas::confirm(self, mark).await?;
                if done.len() != answers.len() {
                    return Err(QueueError::Protocol(format!(
                        "{} answers to an enqueue of {} jobs",
                        done.len(),
                        answers.len()
                    )));
                }
                Ok(done)
            }
            .await;
            match result {
                Ok(done) => {
                    for (answer, enqueued) in answers.into_iter().zip(done) {
                        let _ = answer.send(Ok(enqueued));
                    }
                }
                Err(e) => {
                    for answer in answers {
                        let _ = answer.send(Err(e.clone()));
                    }
                }
            }
        }
    }
}
