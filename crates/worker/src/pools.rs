//! Sender pools as the worker knows them (`[[pools]]`): one visible From address (a verified
//! send-as alias of every member) over several member mailboxes. A job whose `from` is a
//! pool's address is sent by one of its members; [`crate::pool_choice`] says which.

use std::collections::HashMap;
use std::sync::Arc;

use mailroom_queue::normalize_sender;

use crate::config::PoolSection;

/// One pool: its address and members, normalised.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pool {
    /// The visible From address.
    pub address: String,
    /// The member mailboxes, in the config's order.
    pub members: Vec<String>,
}

/// Every configured pool, by address. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Pools(Arc<HashMap<String, Arc<Pool>>>);

impl Pools {
    /// The pools of `[[pools]]` (validated by `Config::validate`).
    #[must_use]
    pub fn from_config(sections: &[PoolSection]) -> Self {
        Self(Arc::new(
            sections
                .iter()
                .map(|p| {
                    let pool = Pool {
                        address: normalize_sender(address_of(&p.address)),
                        members: p
                            .members
                            .iter()
                            .map(|m| normalize_sender(address_of(m)))
                            .collect(),
                    };
                    (pool.address.clone(), Arc::new(pool))
                })
                .collect(),
        ))
    }

    /// The pool whose address is `from` (an address, any case), if one is.
    #[must_use]
    pub fn get(&self, from: &str) -> Option<&Arc<Pool>> {
        if self.0.is_empty() {
            return None;
        }
        self.0.get(&normalize_sender(from))
    }

    /// Every pool, by address.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Pool>> {
        let mut pools: Vec<&Arc<Pool>> = self.0.values().collect();
        pools.sort_by(|a, b| a.address.cmp(&b.address));
        pools.into_iter()
    }

    /// Whether there is none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The address part of `raw` (`Name <a@b>` or `a@b`).
fn address_of(raw: &str) -> &str {
    match (raw.rfind('<'), raw.rfind('>')) {
        (Some(open), Some(close)) if open < close => &raw[open + 1..close],
        _ => raw,
    }
}
