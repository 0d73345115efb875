//! Waiting on what a test can observe: a probe that finds something, a fetcher blocked in its
//! read, a job's status, the clock the scripts are given.

use std::time::Duration;

use mailroom_jobs::JobId;
use mailroom_queue::{JobStatus, Queue};

use super::Redis;

/// How often the waits below look again.
const POLL: Duration = Duration::from_millis(10);

/// Polls `probe` until it finds something, failing with `what` after `within`.
pub async fn eventually<T>(
    within: Duration,
    what: &str,
    mut probe: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {within:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

/// Waits until a client of the test's Redis is blocked in `XREADGROUP` (`CLIENT LIST` shows
/// `cmd=xreadgroup` with flag `b`): a worker's fetcher waiting for new stream entries.
pub async fn wait_for_blocked_read(redis: &Redis) {
    let clients: Vec<redis::Client> = redis
        .node_urls()
        .iter()
        .map(|url| redis::Client::open(url.as_str()).expect("a node URL"))
        .collect();
    eventually(
        Duration::from_secs(10),
        "a read blocked in XREADGROUP",
        async || {
            for client in &clients {
                let mut c = client.get_multiplexed_async_connection().await.ok()?;
                let list: String = redis::cmd("CLIENT")
                    .arg("LIST")
                    .query_async(&mut c)
                    .await
                    .ok()?;
                if list.lines().any(is_blocked_read) {
                    return Some(());
                }
            }
            None
        },
    )
    .await;
}

/// A `CLIENT LIST` line of a client blocked in `XREADGROUP`.
fn is_blocked_read(line: &str) -> bool {
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    };
    field("cmd") == Some("xreadgroup") && field("flags").is_some_and(|f| f.contains('b'))
}

/// Waits until the status of job `id` is `wanted` (its outcome recorded, say) and returns it.
pub async fn status_when(
    q: &Queue,
    id: JobId,
    within: Duration,
    wanted: impl Fn(&JobStatus) -> bool,
) -> JobStatus {
    eventually(
        within,
        &format!("the awaited status of job {id}"),
        async || q.status(id).await.unwrap().filter(&wanted),
    )
    .await
}

/// Waits until the clock the queue's scripts are given (ms since the epoch, from the client)
/// has passed `at_ms`.
pub async fn wait_until_past(at_ms: i64) {
    loop {
        let left = at_ms + 1 - chrono::Utc::now().timestamp_millis();
        if left <= 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(left.unsigned_abs())).await;
    }
}
