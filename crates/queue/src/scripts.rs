//! The Lua scripts of the protocol. Each takes the queue's five keys (so Redis Cluster routes it
//! to the queue's slot: the v2 ready stream, scheduled, dead, workers, and the v1 ready stream)
//! and the key prefix as its first argument where it builds job keys.

use redis::aio::ConnectionLike;
use redis::{FromRedisValue, Script, ScriptInvocation};

use crate::QueueError;
use crate::keys::Keys;

/// Every script, loaded once per queue handle (EVALSHA, reloaded after a Redis restart).
#[cfg_attr(not(feature = "worker"), allow(dead_code))]
pub(crate) struct Scripts {
    pub enqueue: Script,
    pub promote: Script,
    pub finish: Script,
    pub reclaim: Script,
    pub cancel: Script,
    pub stats: Script,
    pub dead: Script,
    pub dead_scan: Script,
    pub maintain: Script,
    pub deregister: Script,
    pub admit: Script,
    pub token_mark: Script,
    pub token_swap: Script,
    pub renew: Script,
    pub resume: Script,
    pub send_slot: Script,
    pub bounce: Script,
    pub bounce_reader: Script,
}

impl Scripts {
    pub fn new() -> Self {
        Self {
            enqueue: Script::new(include_str!("lua/enqueue.lua")),
            promote: Script::new(include_str!("lua/promote.lua")),
            finish: Script::new(concat!(
                include_str!("lua/done_record.lua"),
                include_str!("lua/finish.lua")
            )),
            reclaim: Script::new(include_str!("lua/reclaim.lua")),
            cancel: Script::new(include_str!("lua/cancel.lua")),
            stats: Script::new(include_str!("lua/stats.lua")),
            dead: Script::new(include_str!("lua/dead.lua")),
            dead_scan: Script::new(include_str!("lua/dead_scan.lua")),
            maintain: Script::new(include_str!("lua/maintain.lua")),
            deregister: Script::new(include_str!("lua/deregister.lua")),
            admit: Script::new(include_str!("lua/admit.lua")),
            token_mark: Script::new(include_str!("lua/token_mark.lua")),
            token_swap: Script::new(include_str!("lua/token_swap.lua")),
            renew: Script::new(include_str!("lua/renew.lua")),
            resume: Script::new(include_str!("lua/resume.lua")),
            send_slot: Script::new(include_str!("lua/send_slot.lua")),
            bounce: Script::new(concat!(
                include_str!("lua/done_record.lua"),
                include_str!("lua/bounce.lua")
            )),
            bounce_reader: Script::new(include_str!("lua/bounce_reader.lua")),
        }
    }
}

/// Prepares `script` with the queue's keys.
pub(crate) fn call<'a>(script: &'a Script, keys: &Keys) -> ScriptInvocation<'a> {
    let mut inv = script.prepare_invoke();
    inv.key(&keys.ready)
        .key(&keys.scheduled)
        .key(&keys.dead)
        .key(&keys.workers)
        .key(&keys.ready_v1);
    inv
}

/// Runs a prepared invocation.
pub(crate) async fn run<T: FromRedisValue>(
    inv: &ScriptInvocation<'_>,
    conn: &mut impl ConnectionLike,
) -> Result<T, QueueError> {
    Ok(inv.invoke_async(conn).await?)
}
