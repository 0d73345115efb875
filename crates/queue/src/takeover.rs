//! Taking over deliveries whose lease ran out: `reclaim.lua` claims them for this consumer
//! (and dead-letters those delivered too often without an outcome, as poison), and they start
//! again like new reads.

use redis::Value;

use crate::QueueError;
use crate::activity::Event;
use crate::fetch_conn::FetchConn;
use crate::keys::GROUP;
use crate::queue::{Queue, ms, now_ms};
use crate::scripts::{call, run};
use crate::start::Read;

/// Claims for `consumer` the deliveries whose lease ran out, at most a batch.
pub(crate) async fn takeover(
    q: &Queue,
    conn: &mut FetchConn,
    consumer: &str,
) -> Result<Vec<Read>, QueueError> {
    let cfg = q.config();
    let mut inv = call(&q.inner.scripts.reclaim, q.keys());
    inv.arg(&q.keys().prefix)
        .arg(now_ms())
        .arg(GROUP)
        .arg(consumer)
        .arg(ms(cfg.lease))
        .arg(cfg.max_deliveries)
        .arg(cfg.batch);
    let flat: Vec<Value> = run(&inv, conn).await?;
    let mut flat = flat.into_iter();
    let poisoned = flat
        .next()
        .and_then(|v| redis::from_redis_value::<u64>(v).ok())
        .unwrap_or(0);
    if poisoned > 0 {
        q.record(Event::Poisoned, poisoned);
        tracing::warn!(
            count = poisoned,
            "dead-lettered jobs delivered too often without an outcome (poison)"
        );
    }
    let rest: Vec<Value> = flat.collect();
    let text = |v: &Value| redis::from_redis_value_ref::<String>(v).unwrap_or_default();
    let claimed: Vec<Read> = rest
        .chunks_exact(4)
        .map(|q| Read {
            entry: text(&q[0]),
            id: text(&q[1]),
            delivered: redis::from_redis_value_ref::<u32>(&q[2]).unwrap_or(2),
            fresh: None,
            payload: match &q[3] {
                Value::BulkString(b) => Some(b.clone()),
                _ => None,
            },
        })
        .collect();
    if !claimed.is_empty() {
        tracing::info!(
            count = claimed.len(),
            "took over deliveries whose lease ran out"
        );
    }
    Ok(claimed)
}
