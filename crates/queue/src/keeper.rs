//! The keeper: one task per worker that renews the leases of the deliveries it holds, writes
//! its heartbeat and runs the queue's housekeeping now and then.

use std::time::Duration;

use redis::AsyncCommands;

use crate::QueueError;
use crate::activity::Event;
use crate::keys::GROUP;
use crate::queue::{Queue, now_ms};
use crate::scripts::{call, run};
use crate::tracker::Tracker;

/// Most entries renewed by one script call.
const RENEW_BATCH: usize = 200;

/// Writes the worker's heartbeat (ms) into `{NAME}:workers`.
pub(crate) async fn heartbeat(queue: &Queue, consumer: &str) -> Result<(), QueueError> {
    let () = queue
        .conn()
        .hset(&queue.keys().workers, consumer, now_ms())
        .await?;
    Ok(())
}

/// Renews the leases of held deliveries and the worker's heartbeat every `lease / 3` (10 s at
/// most); runs housekeeping once a minute. Runs until aborted.
pub(crate) async fn keep(queue: Queue, consumer: String, tracker: Tracker) {
    let every = (queue.config().lease / 3).min(Duration::from_secs(10));
    let mut last_maintenance = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(every).await;
        let entries = tracker.renewable();
        let result = async {
            heartbeat(&queue, &consumer).await?;
            for chunk in entries.chunks(RENEW_BATCH) {
                let lost = renew(&queue, &consumer, chunk).await?;
                if !lost.is_empty() {
                    tracing::info!(
                        count = lost.len(),
                        "deliveries taken over by another worker after their lease ran out; no longer renewed"
                    );
                }
                for entry in &lost {
                    tracker.remove(entry);
                }
            }
            if last_maintenance.elapsed() >= Duration::from_secs(60) {
                last_maintenance = tokio::time::Instant::now();
                let (trimmed, forgotten) = queue.maintain().await?;
                tracing::debug!(trimmed, forgotten, "queue housekeeping done");
            }
            Ok::<_, QueueError>(())
        }
        .await;
        if let Err(e) = result {
            queue.record(Event::RedisError, 1);
            tracing::warn!(error = %e, "renewing leases failed");
        }
    }
}

/// Renews the deliveries among `entries` that `consumer` still holds (`renew.lua`); returns
/// the others, which another worker took over or which were settled meanwhile.
async fn renew(
    queue: &Queue,
    consumer: &str,
    entries: &[String],
) -> Result<Vec<String>, QueueError> {
    let mut inv = call(&queue.scripts().renew, queue.keys());
    inv.arg(GROUP).arg(consumer);
    for entry in entries {
        inv.arg(entry);
    }
    run(&inv, &mut queue.conn()).await
}
