//! Looking many jobs' recipients up in the suppression list at once: one pipeline with one
//! `HMGET` of the global scope for every distinct address of the batch and one per list the
//! batch names, however many jobs ask. A worker's handlers ask through one task that gathers
//! their questions, so a fetch round's screening costs one round trip, not one per job.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use mailroom_jobs::EmailJob;

use crate::suppression::{
    SuppressReason, SuppressScope, Suppression, normalize_address, parse_value,
};
use crate::{Queue, QueueError};

/// What one job asks: its recipients, and the list it is mail of, if any.
#[derive(Debug, Clone, Default)]
pub struct Screening {
    /// The recipients' addresses, as the job gives them.
    pub addresses: Vec<String>,
    /// The job's `list.id`.
    pub list: Option<String>,
}

impl Screening {
    /// What screening `job` asks: its recipients and its list; `None` for a `transactional`
    /// job, which skips the suppression list.
    #[must_use]
    pub fn of(job: &EmailJob) -> Option<Self> {
        let v1 = job.v1();
        (!v1.transactional).then(|| Self {
            addresses: v1.recipients().map(|a| a.email().to_owned()).collect(),
            list: v1.list.as_ref().map(|l| l.id.clone()),
        })
    }
}

/// The distinct addresses asked about in one scope, and what Redis answered for each.
#[derive(Default)]
struct Scope {
    addresses: Vec<String>,
    asked: HashSet<String>,
    found: HashMap<String, (SuppressReason, DateTime<Utc>)>,
}

impl Scope {
    fn ask(&mut self, address: &str) {
        if self.asked.insert(address.to_owned()) {
            self.addresses.push(address.to_owned());
        }
    }
}

impl Queue {
    /// For each screening, its suppressed recipients (lower case, in the order asked): the
    /// global entries first, then its list's; an address suppressed in both is named once,
    /// with its global entry. One pipelined round trip for the whole batch.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn suppressed_among_many(
        &self,
        screenings: &[Screening],
    ) -> Result<Vec<Vec<Suppression>>, QueueError> {
        let normalized: Vec<Vec<String>> = screenings
            .iter()
            .map(|s| s.addresses.iter().map(|a| normalize_address(a)).collect())
            .collect();
        let mut global = Scope::default();
        let mut lists: Vec<(String, Scope)> = Vec::new();
        for (s, addresses) in screenings.iter().zip(&normalized) {
            for a in addresses {
                global.ask(a);
            }
            if let Some(id) = &s.list {
                let at = match lists.iter().position(|(l, _)| l == id) {
                    Some(at) => at,
                    None => {
                        lists.push((id.clone(), Scope::default()));
                        lists.len() - 1
                    }
                };
                for a in addresses {
                    lists[at].1.ask(a);
                }
            }
        }
        if global.addresses.is_empty() {
            return Ok(vec![Vec::new(); screenings.len()]);
        }
        self.look_up(&mut global, &mut lists).await?;
        Ok(screenings
            .iter()
            .zip(&normalized)
            .map(|(s, addresses)| {
                let list = s
                    .list
                    .as_ref()
                    .and_then(|id| lists.iter().find(|(l, _)| l == id));
                answer(addresses, &global, list)
            })
            .collect())
    }

    /// Fills each scope's `found` with one pipeline.
    async fn look_up(
        &self,
        global: &mut Scope,
        lists: &mut [(String, Scope)],
    ) -> Result<(), QueueError> {
        let mut pipe = redis::pipe();
        pipe.cmd("HMGET")
            .arg(self.suppress_key(&SuppressScope::Global))
            .arg(&global.addresses);
        for (id, scope) in lists.iter() {
            pipe.cmd("HMGET")
                .arg(self.suppress_key(&SuppressScope::List(id.clone())))
                .arg(&scope.addresses);
        }
        let answers: Vec<Vec<Option<String>>> = pipe.query_async(&mut self.conn()).await?;
        let scopes = std::iter::once(global).chain(lists.iter_mut().map(|(_, s)| s));
        for (scope, values) in scopes.zip(answers) {
            for (address, value) in scope.addresses.iter().zip(values) {
                if let Some(found) = value.as_deref().and_then(parse_value) {
                    scope.found.insert(address.clone(), found);
                }
            }
        }
        Ok(())
    }
}

/// One job's suppressed recipients from what the scopes found.
fn answer(
    addresses: &[String],
    global: &Scope,
    list: Option<&(String, Scope)>,
) -> Vec<Suppression> {
    let mut out: Vec<Suppression> = Vec::new();
    let scopes = std::iter::once((SuppressScope::Global, global))
        .chain(list.map(|(id, s)| (SuppressScope::List(id.clone()), s)));
    for (scope, found) in scopes {
        for address in addresses {
            let Some(&(reason, at)) = found.found.get(address) else {
                continue;
            };
            if out.iter().any(|s| &s.address == address) {
                continue;
            }
            out.push(Suppression {
                address: address.clone(),
                scope: scope.clone(),
                reason,
                at,
            });
        }
    }
    out
}
