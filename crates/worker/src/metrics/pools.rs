//! The families of sender pools: members by state, and the sends the pool has left in each
//! window (the sum over its available members), read from Redis at each refresh, so every
//! replica reports the same figures. Pools are few and named in the config, so their
//! addresses are label values.

use std::sync::OnceLock;

use mailroom_queue::{Queue, SenderLimits};
use prometheus::{GaugeVec, IntGaugeVec, Opts};

use super::labels::QuotaWindow;
use super::{gauge_vec, register};
use crate::pools::Pools;

/// A member's state as `mailroom_pool_members{state}` counts it.
const STATES: [&str; 3] = ["available", "paused", "quarantined"];

pub(super) struct PoolFamilies {
    members: IntGaugeVec,
    quota: GaugeVec,
    /// The pools and the limits they are read under, once the worker knows them.
    watched: OnceLock<(Pools, SenderLimits)>,
}

impl PoolFamilies {
    pub(super) fn register(r: &prometheus::Registry) -> Self {
        Self {
            members: gauge_vec(
                r,
                "mailroom_pool_members",
                "Members of each sender pool by state: available, paused (a Gmail limit) or quarantined (credentials).",
                &["pool", "state"],
            ),
            quota: register(
                r,
                GaugeVec::new(
                    Opts::new(
                        "mailroom_pool_quota_remaining",
                        "Sends a sender pool has left in the sliding window (minute, day): the sum over its available members.",
                    ),
                    &["pool", "window"],
                )
                .expect("a valid gauge"),
            ),
            watched: OnceLock::new(),
        }
    }

    /// Reports `pools` from now on (the first call wins), every member available until the
    /// first refresh.
    pub(super) fn watch(&self, pools: Pools, limits: SenderLimits) {
        for pool in pools.iter() {
            for state in STATES {
                let n = if state == "available" {
                    pool.members.len()
                } else {
                    0
                };
                self.members
                    .with_label_values(&[pool.address.as_str(), state])
                    .set(i64::try_from(n).unwrap_or(i64::MAX));
            }
        }
        let _ = self.watched.set((pools, limits));
    }

    /// Reads every pool's members from Redis into the gauges.
    pub(super) async fn refresh(&self, queue: &Queue) -> Result<(), mailroom_queue::QueueError> {
        let Some((pools, limits)) = self.watched.get() else {
            return Ok(());
        };
        for pool in pools.iter() {
            let views = queue.pool_view(&pool.members, limits).await?;
            let mut counts = [0_i64; 3];
            let (mut minute, mut day) = (0_i64, 0_i64);
            for v in &views {
                let state = if v.quarantined.is_some() {
                    2
                } else if v.paused_until_ms.is_some() {
                    1
                } else {
                    minute += v.minute_left.max(0);
                    day += v.day_left.max(0);
                    0
                };
                counts[state] += 1;
            }
            for (state, n) in STATES.iter().zip(counts) {
                self.members
                    .with_label_values(&[pool.address.as_str(), state])
                    .set(n);
            }
            #[allow(clippy::cast_precision_loss)]
            for (window, left) in [(QuotaWindow::Minute, minute), (QuotaWindow::Day, day)] {
                self.quota
                    .with_label_values(&[pool.address.as_str(), window.as_str()])
                    .set(left as f64);
            }
        }
        Ok(())
    }
}
