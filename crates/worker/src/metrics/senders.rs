//! The families of senders: quarantined now, and sends left in their quota windows. A sender
//! is its own label value only when `jobs.allowed_senders` lists it exactly; every other
//! sender shares [`OTHER_SENDER`].

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use mailroom_jobs::{Address, SenderAllowlist};
use mailroom_queue::normalize_sender;
use prometheus::{Gauge, GaugeVec, IntGaugeVec, Opts};

use super::labels::{OTHER_SENDER, QuotaWindow};
use super::{gauge_vec, lock, register};

pub(super) struct Senders {
    quarantined: IntGaugeVec,
    quota: GaugeVec,
    /// Addresses listed exactly in `jobs.allowed_senders`, normalised.
    listed: HashSet<String>,
    /// Unlisted senders quarantined now (they share the label `other`).
    quarantined_others: Mutex<HashSet<String>>,
    /// The `quota` gauges of each sender seen lately, in [`QuotaWindow::ALL`]'s order, so
    /// that a send does not look its labels up; emptied when it holds
    /// [`QUOTA_CACHE_SENDERS`].
    quota_by_sender: Mutex<HashMap<String, [Gauge; QuotaWindow::ALL.len()]>>,
}

/// Senders whose quota gauges are kept at hand.
const QUOTA_CACHE_SENDERS: usize = 4096;

impl Senders {
    /// Registers the families; every listed sender starts out not quarantined.
    pub(super) fn register(r: &prometheus::Registry, allowlist: Option<&SenderAllowlist>) -> Self {
        let senders = Self {
            quarantined: gauge_vec(
                r,
                "mailroom_sender_quarantined",
                "1 while a sender is quarantined (revoked token, delegation not granted); sender is `other` for senders not listed exactly in jobs.allowed_senders (1 while any of them is).",
                &["sender"],
            ),
            quota: register(
                r,
                GaugeVec::new(
                    Opts::new(
                        "mailroom_sender_quota_remaining",
                        "Sends a sender has left in the sliding window (minute, day), as last seen by this worker; `other` holds the last value seen for any unlisted sender.",
                    ),
                    &["sender", "window"],
                )
                .expect("a valid gauge"),
            ),
            listed: allowlist
                .map(|list| list.addresses().map(normalize_sender).collect())
                .unwrap_or_default(),
            quarantined_others: Mutex::new(HashSet::new()),
            quota_by_sender: Mutex::new(HashMap::new()),
        };
        for sender in &senders.listed {
            senders.quarantined.with_label_values(&[sender]).set(0);
        }
        senders
    }

    pub(super) fn listed(&self) -> usize {
        self.listed.len()
    }

    /// The label value for `sender` (an address, with or without a display name).
    pub(super) fn label(&self, sender: &str) -> String {
        let address = address_of(sender);
        if self.listed.contains(&address) {
            address
        } else {
            OTHER_SENDER.to_owned()
        }
    }

    pub(super) fn quarantined(&self, sender: &str, quarantined: bool) {
        let label = self.label(sender);
        let value = if label == OTHER_SENDER {
            let mut others = lock(&self.quarantined_others);
            if quarantined {
                others.insert(address_of(sender));
            } else {
                others.remove(&address_of(sender));
            }
            i64::from(!others.is_empty())
        } else {
            i64::from(quarantined)
        };
        self.quarantined.with_label_values(&[&label]).set(value);
    }

    pub(super) fn quota_remaining(&self, sender: &str, window: QuotaWindow, remaining: f64) {
        let i = QuotaWindow::ALL.iter().position(|w| *w == window);
        let i = i.expect("ALL lists every window");
        let mut cache = lock(&self.quota_by_sender);
        if let Some(gauges) = cache.get(sender) {
            gauges[i].set(remaining);
            return;
        }
        let label = self.label(sender);
        let gauges = QuotaWindow::ALL.map(|w| self.quota.with_label_values(&[&label, w.as_str()]));
        gauges[i].set(remaining);
        if cache.len() >= QUOTA_CACHE_SENDERS {
            cache.clear();
        }
        cache.insert(sender.to_owned(), gauges);
    }
}

/// The address of `sender` (`Name <a@b>` or `a@b`), normalised.
fn address_of(sender: &str) -> String {
    Address::parse(sender).map_or_else(
        |_| normalize_sender(sender),
        |address| normalize_sender(address.email()),
    )
}
