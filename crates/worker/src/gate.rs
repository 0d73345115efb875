//! The sender gate: before a send, Gmail's limits (shared by every replica through Redis) and
//! the sender's pause or quarantine decide whether it goes now; after a failure that concerns
//! the sender (a rate limit, a daily limit, a credential problem), every replica's jobs for
//! that sender wait, and other senders go on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use chrono::{DateTime, TimeZone as _, Utc};
use mailroom_jobs::JobId;
use mailroom_queue::{Admission, Hold, Queue, QueueError, SenderKeys, SenderLimits};

use crate::admissions::{Admissions, PoolAdmission};
use crate::pools::Pool;
use crate::transport::{SendError, Verdict};

/// Whether a send may go now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pass {
    /// Go; the send is counted.
    Go,
    /// Schedule the job again at `at`.
    Wait {
        /// When.
        at: DateTime<Utc>,
        /// Why, for the job's status and the log.
        why: String,
        /// True when the sender is quarantined (its credentials may be looked at again).
        quarantined: bool,
    },
}

/// The gate's answer for a job sent through a sender pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolPass {
    /// Go or wait.
    pub pass: Pass,
    /// The member chosen to send it; `None` when no member can send now.
    pub member: Option<String>,
    /// The chosen member's sends left this minute and today.
    pub left: Option<(i64, i64)>,
    /// Members that are quarantined, when no member can send now.
    pub quarantined: Vec<String>,
}

/// Admission and sender state, in Redis.
#[derive(Debug, Clone)]
pub struct Gate {
    queue: Queue,
    limits: SenderLimits,
    /// The Redis keys of each sender seen lately; emptied when it holds [`KEYS_KEPT`].
    keys: Arc<Mutex<HashMap<String, Arc<SenderKeys>>>>,
    /// The task that asks Redis for every waiting question at once, started on first use.
    admissions: Arc<OnceLock<Admissions>>,
}

/// How the reason of an operator's pause begins (console, `Gate::pause`).
pub const OPERATOR_PAUSE: &str = "paused by an operator";

/// Senders whose keys the gate keeps at hand.
const KEYS_KEPT: usize = 4096;

impl Gate {
    /// A gate over `queue`'s Redis with these limits.
    #[must_use]
    pub fn new(queue: Queue, limits: SenderLimits) -> Self {
        Self {
            queue,
            limits,
            keys: Arc::default(),
            admissions: Arc::default(),
        }
    }

    /// The keys of `sender`, built on its first send.
    fn keys(&self, sender: &str) -> Arc<SenderKeys> {
        let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(k) = keys.get(sender) {
            return Arc::clone(k);
        }
        if keys.len() >= KEYS_KEPT {
            keys.clear();
        }
        let k = Arc::new(self.queue.sender_keys(sender));
        keys.insert(sender.to_owned(), Arc::clone(&k));
        k
    }

    /// The limits.
    #[must_use]
    pub fn limits(&self) -> &SenderLimits {
        &self.limits
    }

    /// May `sender` send `job` now? Also returns the sender's sends left this minute and
    /// today. The questions of all of a worker's handlers waiting at once are answered by one
    /// script call per sender.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn admit(&self, sender: &str, job: JobId) -> Result<(Pass, i64, i64), QueueError> {
        let keys = self.keys(sender);
        let admissions = self
            .admissions
            .get_or_init(|| Admissions::spawn(self.queue.clone(), self.limits));
        Ok(pass(admissions.admit(keys, job).await?))
    }

    /// Which member of `pool` sends `job`, and may it send now? The member with the most
    /// quota left across replicas, paused and quarantined ones skipped
    /// ([`crate::pool_choice`]); its own gate then admits the send, counted against it.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn admit_pool(&self, pool: &Arc<Pool>, job: JobId) -> Result<PoolPass, QueueError> {
        let admissions = self
            .admissions
            .get_or_init(|| Admissions::spawn(self.queue.clone(), self.limits));
        Ok(match admissions.admit_pool(Arc::clone(pool), job).await? {
            PoolAdmission::Member { member, admission } => member_pass(member, admission),
            PoolAdmission::Wait(wait) => PoolPass {
                pass: Pass::Wait {
                    at: at_ms(wait.until_ms),
                    why: wait.why,
                    quarantined: wait.all_quarantined,
                },
                member: None,
                left: None,
                quarantined: wait.quarantined,
            },
        })
    }

    /// Claims this recheck period's look at a quarantined sender (one worker in all).
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn claim_probe(&self, sender: &str) -> Result<bool, QueueError> {
        self.queue
            .claim_probe(sender, self.limits.quarantine_recheck)
            .await
    }

    /// Lifts a sender's quarantine after its credentials worked again.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn release(&self, sender: &str) -> Result<bool, QueueError> {
        self.queue.release_sender(sender).await
    }

    /// Holds `sender` until `until` (when its failed job goes again) after `error`, when the
    /// error concerns the sender rather than the job: a rate limit or a daily limit pauses it,
    /// a credential problem quarantines it. Returns true when the sender was newly
    /// quarantined.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn hold(
        &self,
        sender: &str,
        error: &SendError,
        until: DateTime<Utc>,
    ) -> Result<bool, QueueError> {
        match error.verdict {
            Verdict::RateLimited | Verdict::SenderLimit { .. } => {
                self.queue
                    .pause_sender(sender, until.timestamp_millis(), error.reason.as_str())
                    .await?;
                Ok(false)
            }
            Verdict::Credentials => self.queue.quarantine_sender(sender, &error.message).await,
            _ => Ok(false),
        }
    }
}

/// The gate's answer to an admission, with the sender's sends left this minute and today.
fn pass(admission: Admission) -> (Pass, i64, i64) {
    match admission {
        Admission::Go {
            minute_left,
            day_left,
        } => (Pass::Go, minute_left, day_left),
        Admission::Wait {
            until_ms,
            hold,
            minute_left,
            day_left,
        } => {
            let quarantined = matches!(hold, Hold::Quarantined(_));
            let why = match hold {
                Hold::Quota => "waiting for the sender's sending quota".to_owned(),
                // Gmail's pauses carry its reason (`rateLimitExceeded`, …); an operator's
                // says so itself.
                Hold::Paused(reason) if reason.starts_with(OPERATOR_PAUSE) => {
                    format!("sender {reason}")
                }
                Hold::Paused(reason) => format!("sender paused by Gmail: {reason}"),
                Hold::Quarantined(reason) => format!("sender quarantined: {reason}"),
            };
            (
                Pass::Wait {
                    at: at_ms(until_ms),
                    why,
                    quarantined,
                },
                minute_left,
                day_left,
            )
        }
    }
}

/// How soon a pool's job is given a member again when the one chosen for it was paused or
/// quarantined between the choice and its admission.
const CHOOSE_AGAIN: chrono::TimeDelta = chrono::TimeDelta::seconds(1);

/// The pass of a pool's job from its chosen member's admission. A member that was paused or
/// quarantined after the choice (another worker's send just failed) does not hold the job
/// for its own pause: the job waits a moment (no attempt spent) and is given a member again
/// from the members' state then.
fn member_pass(member: String, admission: Admission) -> PoolPass {
    let member_held = matches!(
        &admission,
        Admission::Wait {
            hold: Hold::Paused(_) | Hold::Quarantined(_),
            ..
        }
    );
    match pass(admission) {
        (Pass::Wait { why, .. }, _, _) if member_held => PoolPass {
            pass: Pass::Wait {
                at: Utc::now() + CHOOSE_AGAIN,
                why: format!("pool member {member} became unavailable ({why}); choosing again"),
                quarantined: false,
            },
            member: None,
            left: None,
            quarantined: Vec::new(),
        },
        (pass, minute_left, day_left) => PoolPass {
            pass,
            member: Some(member),
            left: Some((minute_left, day_left)),
            quarantined: Vec::new(),
        },
    }
}

/// A time in ms since the epoch (now if out of range).
fn at_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_else(Utc::now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(hold: Hold) -> Admission {
        Admission::Wait {
            until_ms: Utc::now().timestamp_millis() + 3_600_000,
            hold,
            minute_left: 5,
            day_left: 100,
        }
    }

    #[test]
    fn a_member_held_since_its_choice_makes_the_job_choose_again_soon() {
        for hold in [
            Hold::Quarantined("invalid_grant".into()),
            Hold::Paused("rateLimitExceeded".into()),
        ] {
            let p = member_pass("n2@example.com".into(), held(hold));
            assert_eq!(p.member, None);
            let Pass::Wait {
                at,
                why,
                quarantined,
            } = p.pass
            else {
                panic!("{p:?}")
            };
            assert!(at <= Utc::now() + CHOOSE_AGAIN, "{at}");
            assert!(
                why.contains("n2@example.com") && why.contains("choosing again"),
                "{why}"
            );
            assert!(!quarantined);
        }
    }

    #[test]
    fn a_member_out_of_quota_keeps_the_job_until_its_slot() {
        let p = member_pass("n1@example.com".into(), held(Hold::Quota));
        assert_eq!(p.member.as_deref(), Some("n1@example.com"));
        assert!(
            matches!(p.pass, Pass::Wait { at, .. } if at > Utc::now() + chrono::TimeDelta::minutes(30))
        );
    }
}
