//! Key names. Every key of a queue carries the queue's hash tag, so a queue lives in one Redis
//! Cluster slot and every script may touch all of its keys.

/// The keys of one queue.
#[derive(Debug, Clone)]
pub(crate) struct Keys {
    /// `{name}`: the prefix of every key.
    pub prefix: String,
    /// Stream of ready jobs (protocol v2: `{name}:v2:ready`), read through the consumer group:
    /// field `id`, and `p` (the payload) unless the payload waits in the job's record.
    pub ready: String,
    /// The stream of protocol v1 (`{name}:ready`, field `id` only), where clients that still
    /// run v1's `enqueue.lua` (and v1 workers' promotions) add jobs; v2 workers move its
    /// entries into `ready` (`migrate.lua`).
    pub ready_v1: String,
    /// Sorted set of scheduled and retrying job ids, scored by due time (ms).
    pub scheduled: String,
    /// Sorted set of dead-lettered job ids, scored by the time they died (ms).
    pub dead: String,
    /// Hash of live worker consumers to their last heartbeat (ms).
    pub workers: String,
    /// Hash of queue-wide counters (`enqueued`: jobs ever created).
    pub counters: String,
}

/// The consumer group every worker reads through.
pub(crate) const GROUP: &str = "workers";

impl Keys {
    pub fn new(name: &str) -> Self {
        let prefix = format!("{{{name}}}");
        Self {
            ready: format!("{prefix}:v2:ready"),
            ready_v1: format!("{prefix}:ready"),
            scheduled: format!("{prefix}:scheduled"),
            dead: format!("{prefix}:dead"),
            workers: format!("{prefix}:workers"),
            counters: format!("{prefix}:counters"),
            prefix,
        }
    }

    /// The job's record while it waits, runs, is dead or cancelled: `{name}:job:ID`.
    pub fn job(&self, id: &str) -> String {
        // Joined rather than formatted (as `done` is written into a buffer of its size): both
        // are built per finished job.
        [&self.prefix, ":job:", id].concat()
    }

    /// Where a large payload waits for its `enqueue.lua` call: `{name}:v2:staged:TOKEN`, a
    /// hash with field `payload` and a TTL (see [`crate::staging`]).
    pub fn staged(&self, token: &str) -> String {
        [&self.prefix, ":v2:staged:", token].concat()
    }

    /// The bucket of done records (sent and expired jobs) of jobs whose ULID timestamp falls in
    /// unix second `second`: `{name}:v2:done:SECOND`, a hash of job id to record (see
    /// [`crate::done`]).
    pub fn done(&self, second: u64) -> String {
        let mut key = String::with_capacity(self.prefix.len() + ":v2:done:".len() + 20);
        key.push_str(&self.prefix);
        key.push_str(":v2:done:");
        key.push_str(itoa::Buffer::new().format(second));
        key
    }
}
