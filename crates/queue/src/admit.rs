//! The sender gate's question to Redis: may these jobs of one sender go now? `admit.lua`
//! answers for a batch in one call, against the windows [`crate::windows`] describes.

use mailroom_jobs::JobId;

use crate::queue::{ms, now_ms};
use crate::windows::{DAY, MINUTE};
use crate::{Admission, Hold, Queue, QueueError, SenderKeys, SenderLimits};

impl Queue {
    /// Asks whether `sender` may send `job` now, counting the send if so. Over a limit the
    /// job gets the first slot the limits allow and should be scheduled for it; the slot is
    /// kept for the job, so it goes at once when it comes back.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn admit(
        &self,
        sender: &str,
        job: JobId,
        limits: &SenderLimits,
    ) -> Result<Admission, QueueError> {
        self.admit_with(&self.sender_keys(sender), job, limits)
            .await
    }

    /// [`Queue::admit`] with the sender's keys built beforehand ([`Queue::sender_keys`]).
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn admit_with(
        &self,
        keys: &SenderKeys,
        job: JobId,
        limits: &SenderLimits,
    ) -> Result<Admission, QueueError> {
        self.admit_many(keys, &[job], limits)
            .await?
            .pop()
            .ok_or_else(|| QueueError::Protocol("empty answer from admit.lua".into()))
    }

    /// [`Queue::admit`] for several jobs of one sender in one script call, as if admitted one
    /// after another in this order: k of them may go now, the others get the next slots.
    /// Answers one admission per job, in order.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn admit_many(
        &self,
        keys: &SenderKeys,
        jobs: &[JobId],
        limits: &SenderLimits,
    ) -> Result<Vec<Admission>, QueueError> {
        let scripts = self.scripts();
        let mut inv = scripts.admit.prepare_invoke();
        inv.key(&keys.state)
            .key(&keys.minute)
            .key(&keys.day)
            .key(&keys.project)
            .key(&keys.senders)
            .arg(now_ms())
            .arg(&keys.sender)
            .arg(limits.per_minute)
            .arg(limits.per_day)
            .arg(limits.project_per_minute)
            .arg(ms(limits.quarantine_recheck))
            .arg(&keys.reservation_prefix)
            .arg(MINUTE.shape())
            .arg(DAY.shape());
        for job in jobs {
            inv.arg(job.to_string());
        }
        let answer: Vec<redis::Value> = inv.invoke_async(&mut self.conn()).await?;
        let answers = read_answer(answer)?;
        if answers.len() == jobs.len() {
            Ok(answers)
        } else {
            Err(QueueError::Protocol(
                "admit.lua answered a different number of jobs".into(),
            ))
        }
    }
}

/// Reads `admit.lua`'s flat answer: minute left, day left, one verdict letter per job, then
/// the details of the jobs that wait, in order.
fn read_answer(answer: Vec<redis::Value>) -> Result<Vec<Admission>, QueueError> {
    let mut items = answer.into_iter();
    let mut next = || items.next().ok_or_else(|| bad_answer("too short"));
    let minute_left: i64 = redis::from_redis_value(next()?).map_err(bad_answer)?;
    let day_left: i64 = redis::from_redis_value(next()?).map_err(bad_answer)?;
    let verdicts: String = redis::from_redis_value(next()?).map_err(bad_answer)?;
    let mut admissions = Vec::with_capacity(verdicts.len());
    for verdict in verdicts.chars() {
        let (until_ms, hold) = match verdict {
            'g' => {
                admissions.push(Admission::Go {
                    minute_left,
                    day_left,
                });
                continue;
            }
            'w' => (next()?, Hold::Quota),
            'p' | 'q' => {
                let until_ms = next()?;
                let reason: String = redis::from_redis_value(next()?).map_err(bad_answer)?;
                let hold = if verdict == 'p' {
                    Hold::Paused(reason)
                } else {
                    Hold::Quarantined(reason)
                };
                (until_ms, hold)
            }
            other => return Err(bad_answer(format!("unknown verdict {other:?}"))),
        };
        admissions.push(Admission::Wait {
            until_ms: redis::from_redis_value(until_ms).map_err(bad_answer)?,
            hold,
            minute_left,
            day_left,
        });
    }
    Ok(admissions)
}

/// An answer of `admit.lua` that does not read.
fn bad_answer(e: impl std::fmt::Display) -> QueueError {
    QueueError::Protocol(format!("bad answer from admit.lua: {e}"))
}
