//! Which pool member sends each job: the member with the most quota left across replicas
//! (the smaller of what is left in its minute and day windows, as Redis counts them), skipping
//! paused and quarantined members. Jobs asked about together are spread as if sent one after
//! another, each taking one send from its member's room. When no member has room, the job
//! waits for the earliest moment one will.
//!
//! Within a worker the choice is exact (the worker's admissions are one task, and each
//! choice's sends are counted in Redis before the next read). Two replicas reading at the same
//! moment may pick the same member; the sender gate then holds the job that finds it full
//! until its slot, spending no attempt.

use mailroom_queue::MemberView;

/// What becomes of one job sent through a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// Send as this member (its gate still admits the send).
    Member(String),
    /// No member can send now.
    Wait(PoolWait),
}

/// Why and until when a pool's job waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolWait {
    /// When the first member will have room (ms since the epoch).
    pub until_ms: i64,
    /// Why, for the job's status and the log.
    pub why: String,
    /// Members that are quarantined (their credentials may be looked at again).
    pub quarantined: Vec<String>,
    /// True when every member is quarantined.
    pub all_quarantined: bool,
}

/// The choices for `jobs` jobs, in order, given `views` of every member; `recheck_ms` is when
/// a quarantined member is looked at again. `start` rotates which member wins a tie, so
/// replicas do not all favour the first.
#[must_use]
pub fn assign(
    views: &[MemberView],
    jobs: usize,
    now_ms: i64,
    recheck_ms: i64,
    start: usize,
) -> Vec<Choice> {
    let mut left: Vec<(i64, i64)> = views.iter().map(|v| (v.minute_left, v.day_left)).collect();
    let usable = |v: &MemberView| v.quarantined.is_none() && v.paused_until_ms.is_none();
    let n = views.len();
    (0..jobs)
        .map(|_| {
            // The most left wins; a tie goes to the earlier member in the rotated order.
            let best = (0..n)
                .map(|k| (start + k) % n)
                .filter(|&i| usable(&views[i]) && left[i].0.min(left[i].1) > 0)
                .fold(None::<usize>, |best, i| match best {
                    Some(b) if key(&left, b) >= key(&left, i) => Some(b),
                    _ => Some(i),
                });
            match best {
                Some(i) => {
                    left[i].0 -= 1;
                    left[i].1 -= 1;
                    Choice::Member(views[i].sender.clone())
                }
                None => Choice::Wait(wait(views, &left, now_ms, recheck_ms)),
            }
        })
        .collect()
}

/// How much room member `i` has: the smaller window's, then the day's.
fn key(left: &[(i64, i64)], i: usize) -> (i64, i64) {
    (left[i].0.min(left[i].1), left[i].1)
}

/// The earliest moment a member has room again.
fn wait(views: &[MemberView], left: &[(i64, i64)], now_ms: i64, recheck_ms: i64) -> PoolWait {
    let quarantined: Vec<String> = views
        .iter()
        .filter(|v| v.quarantined.is_some())
        .map(|v| v.sender.clone())
        .collect();
    let until_ms = views
        .iter()
        .zip(left)
        .map(|(v, &(minute, day))| {
            if v.quarantined.is_some() {
                now_ms + recheck_ms
            } else if let Some(paused) = v.paused_until_ms {
                paused
            } else if v.next_slot_ms > now_ms || day <= 0 {
                v.next_slot_ms.max(now_ms + 1000)
            } else if minute <= 0 {
                // Filled by the jobs just given to it: room comes back as its oldest send
                // leaves the minute.
                v.minute_frees_ms.max(now_ms)
            } else {
                now_ms
            }
        })
        .min()
        .unwrap_or(now_ms + recheck_ms);
    let paused = views.iter().filter(|v| v.paused_until_ms.is_some()).count();
    let why = format!(
        "every member of the sender pool is busy ({} quarantined, {paused} paused, the others \
         out of quota)",
        quarantined.len()
    );
    PoolWait {
        until_ms,
        why,
        all_quarantined: !views.is_empty() && quarantined.len() == views.len(),
        quarantined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(sender: &str, minute_left: i64) -> MemberView {
        MemberView {
            sender: sender.to_owned(),
            minute_left,
            day_left: 2000,
            paused_until_ms: None,
            quarantined: None,
            next_slot_ms: 0,
            minute_frees_ms: 60_000,
        }
    }

    fn members(choices: &[Choice]) -> Vec<&str> {
        choices
            .iter()
            .map(|c| match c {
                Choice::Member(m) => m.as_str(),
                Choice::Wait(_) => "wait",
            })
            .collect()
    }

    #[test]
    fn jobs_go_to_the_member_with_most_left_and_spread_evenly() {
        let views = [view("a", 5), view("b", 5), view("c", 5)];
        let choices = assign(&views, 15, 0, 300_000, 0);
        for m in ["a", "b", "c"] {
            assert_eq!(members(&choices).iter().filter(|c| **c == m).count(), 5);
        }
        let views = [view("a", 1), view("b", 4)];
        assert_eq!(members(&assign(&views, 3, 0, 1, 0)), ["b", "b", "b"]);
    }

    #[test]
    fn paused_and_quarantined_members_are_skipped() {
        let mut paused = view("a", 5);
        paused.paused_until_ms = Some(50_000);
        let mut quarantined = view("b", 5);
        quarantined.quarantined = Some("invalid_grant".into());
        let views = [paused, quarantined, view("c", 1)];
        let choices = assign(&views, 2, 0, 300_000, 0);
        assert_eq!(members(&choices)[0], "c");
        let Choice::Wait(wait) = &choices[1] else {
            panic!("{choices:?}")
        };
        // The pause ends (50 s) before c's oldest send leaves its minute (60 s).
        assert_eq!(wait.until_ms, 50_000);
        assert_eq!(wait.quarantined, ["b"]);
        assert!(!wait.all_quarantined);
    }

    #[test]
    fn a_pool_whose_members_are_all_paused_waits_for_the_first_to_resume() {
        let mut a = view("a", 5);
        a.paused_until_ms = Some(9_000);
        let mut b = view("b", 5);
        b.paused_until_ms = Some(7_000);
        let choices = assign(&[a, b], 1, 0, 300_000, 0);
        assert!(
            matches!(&choices[0], Choice::Wait(w) if w.until_ms == 7_000),
            "{choices:?}"
        );
    }
}
