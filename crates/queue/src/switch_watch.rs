//! Watching the Sentinels for `+switch-master`, the message a Sentinel publishes when it has
//! promoted a new primary, so a connection moves before its next command fails on the old one.

use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::StreamExt;
use futures::future::BoxFuture;

/// The Sentinels' channel for a completed failover. Its messages read
/// `MASTER_NAME OLD_IP OLD_PORT NEW_IP NEW_PORT`.
const CHANNEL: &str = "+switch-master";
/// The pause before subscribing again after every Sentinel failed or a subscription ended.
const RESUBSCRIBE_AFTER: Duration = Duration::from_secs(1);

/// What follows the primary when a Sentinel announces a new one.
pub(crate) trait Follow: Send + Sync {
    /// Looks the primary up again and moves to it if it changed.
    fn follow(self: Arc<Self>) -> BoxFuture<'static, ()>;
}

/// Subscribes to `+switch-master` on the first Sentinel that answers (the next one when it goes
/// away) and calls `follower` for each switch of `master`, until `stop` fires or its sender is
/// dropped, or the follower is gone.
pub(crate) fn spawn(
    sentinels: Vec<redis::Client>,
    master: String,
    follower: Weak<dyn Follow>,
    stop: tokio::sync::oneshot::Receiver<()>,
) {
    tokio::spawn(async move {
        tokio::select! {
            () = watch(&sentinels, &master, &follower) => {}
            _ = stop => {}
        }
    });
}

async fn watch(sentinels: &[redis::Client], master: &str, follower: &Weak<dyn Follow>) {
    loop {
        for sentinel in sentinels {
            if let Err(e) = listen(sentinel, master, follower).await {
                tracing::debug!(error = %e, "sentinel subscription to +switch-master ended");
            }
            if follower.strong_count() == 0 {
                return;
            }
        }
        tokio::time::sleep(RESUBSCRIBE_AFTER).await;
    }
}

/// Listens on one Sentinel until its connection ends.
async fn listen(
    sentinel: &redis::Client,
    master: &str,
    follower: &Weak<dyn Follow>,
) -> redis::RedisResult<()> {
    let mut pubsub = sentinel.get_async_pubsub().await?;
    pubsub.subscribe(CHANNEL).await?;
    let mut messages = pubsub.on_message();
    while let Some(msg) = messages.next().await {
        let payload: String = msg.get_payload()?;
        if payload.split(' ').next() != Some(master) {
            continue;
        }
        tracing::info!(switch = %payload, "sentinel announced a new primary");
        match follower.upgrade() {
            Some(f) => f.follow().await,
            None => return Ok(()),
        }
    }
    Ok(())
}
