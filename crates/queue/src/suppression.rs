//! The suppression list: addresses mail must not go to, per scope (everything, or one mailing
//! list), each with a reason and a time. One hash per scope, `{name}:suppress:global` and
//! `{name}:suppress:list:ID`, address (lower case) to `REASON:MS`; the set
//! `{name}:suppress:lists` names the lists that have entries. A worker looks a job's
//! recipients up in one pipelined round trip ([`Queue::suppressed_among`]), a batch of
//! jobs' in one too ([`Queue::suppressed_among_many`]).

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::queue::now_ms;
use crate::status::ms_to_time;
use crate::{Queue, QueueError};

/// Why an address is suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SuppressReason {
    /// The recipient unsubscribed (one-click unsubscribe, or an operator on their behalf).
    Unsubscribed,
    /// A permanent (5.x.x) delivery failure.
    HardBounce,
    /// The recipient marked mail as spam.
    Complaint,
    /// An operator added it.
    Manual,
}

impl SuppressReason {
    /// Every reason.
    pub const ALL: [Self; 4] = [
        Self::Unsubscribed,
        Self::HardBounce,
        Self::Complaint,
        Self::Manual,
    ];

    /// The name stored and shown.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unsubscribed => "unsubscribed",
            Self::HardBounce => "hard_bounce",
            Self::Complaint => "complaint",
            Self::Manual => "manual",
        }
    }
}

impl fmt::Display for SuppressReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SuppressReason {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("unknown reason {s:?}: one of unsubscribed, hard_bounce, complaint, manual")
            })
    }
}

/// Where a suppression applies: to every message, or to the messages of one list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "scope", content = "list")]
pub enum SuppressScope {
    /// Every message, whatever its list.
    Global,
    /// The messages that name this list id (`list.id` of a job).
    List(String),
}

impl fmt::Display for SuppressScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Global => f.write_str("global"),
            Self::List(id) => write!(f, "list {id}"),
        }
    }
}

/// One suppressed address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// The address, lower case.
    pub address: String,
    /// Where it applies.
    #[serde(flatten)]
    pub scope: SuppressScope,
    /// Why.
    pub reason: SuppressReason,
    /// Since when.
    pub at: DateTime<Utc>,
}

/// The form every address is stored and looked up in: trimmed, lower case.
#[must_use]
pub fn normalize_address(address: &str) -> String {
    address.trim().to_lowercase()
}

/// Reads a stored `REASON:MS` value; `None` for anything else.
pub(crate) fn parse_value(value: &str) -> Option<(SuppressReason, DateTime<Utc>)> {
    let (reason, ms) = value.rsplit_once(':')?;
    Some((reason.parse().ok()?, ms_to_time(ms.parse().ok()?)))
}

impl Queue {
    pub(crate) fn suppress_key(&self, scope: &SuppressScope) -> String {
        match scope {
            SuppressScope::Global => self.key("suppress:global"),
            SuppressScope::List(id) => self.key(&format!("suppress:list:{id}")),
        }
    }

    /// Suppresses `address` in `scope` for `reason`, now. An address already suppressed
    /// there keeps its first reason and time (so a replayed unsubscribe changes nothing);
    /// returns whether it was new.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn suppress(
        &self,
        scope: &SuppressScope,
        address: &str,
        reason: SuppressReason,
    ) -> Result<bool, QueueError> {
        let value = format!("{}:{}", reason.as_str(), now_ms());
        let mut pipe = redis::pipe();
        pipe.cmd("HSETNX")
            .arg(self.suppress_key(scope))
            .arg(normalize_address(address))
            .arg(value);
        if let SuppressScope::List(id) = scope {
            pipe.cmd("SADD")
                .arg(self.key("suppress:lists"))
                .arg(id)
                .ignore();
        }
        let (added,): (i64,) = pipe.query_async(&mut self.conn()).await?;
        Ok(added == 1)
    }

    /// Lifts the suppression of `address` in `scope`; returns whether there was one.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn unsuppress(
        &self,
        scope: &SuppressScope,
        address: &str,
    ) -> Result<bool, QueueError> {
        let removed: i64 = redis::cmd("HDEL")
            .arg(self.suppress_key(scope))
            .arg(normalize_address(address))
            .query_async(&mut self.conn())
            .await?;
        Ok(removed == 1)
    }

    /// Every suppression in `scope`, sorted by address. Reads the whole hash: meant for an
    /// operator's listing, not for the send path.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn suppressions(
        &self,
        scope: &SuppressScope,
    ) -> Result<Vec<Suppression>, QueueError> {
        let all: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(self.suppress_key(scope))
            .query_async(&mut self.conn())
            .await?;
        let mut out: Vec<Suppression> = all
            .into_iter()
            .filter_map(|(address, value)| {
                let (reason, at) = parse_value(&value)?;
                Some(Suppression {
                    address,
                    scope: scope.clone(),
                    reason,
                    at,
                })
            })
            .collect();
        out.sort_by(|a, b| a.address.cmp(&b.address));
        Ok(out)
    }

    /// The list ids that have (or had) suppressed addresses, sorted.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn suppression_lists(&self) -> Result<Vec<String>, QueueError> {
        let mut ids: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.key("suppress:lists"))
            .query_async(&mut self.conn())
            .await?;
        ids.sort();
        Ok(ids)
    }

    /// The suppressions that apply to `addresses` on a message of `list` (or of no list):
    /// global ones, and the list's own; an address suppressed in both is named once, with
    /// its global entry. One pipelined round trip, whatever the number of addresses.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn suppressed_among(
        &self,
        addresses: &[&str],
        list: Option<&str>,
    ) -> Result<Vec<Suppression>, QueueError> {
        let screening = crate::Screening {
            addresses: addresses.iter().map(|a| (*a).to_owned()).collect(),
            list: list.map(str::to_owned),
        };
        let mut found = self.suppressed_among_many(&[screening]).await?;
        Ok(found.pop().unwrap_or_default())
    }
}
