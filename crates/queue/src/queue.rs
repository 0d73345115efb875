//! The queue handle: connect, status and cancel (enqueueing is in `enqueue`). Cheap to clone;
//! clones share one multiplexed connection.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use mailroom_jobs::JobId;

use crate::activity::{Activity, QueueActivity};

use crate::conn::{Conn, RedisTarget};
use crate::done::read_job;
use crate::keys::{GROUP, Keys};
use crate::scripts::{Scripts, call, run};
use crate::status::JobStatus;
use crate::{QueueConfig, QueueError};

/// What [`Queue::cancel`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancelled {
    /// The job was waiting and will not be sent.
    Cancelled,
    /// No such job (never enqueued, or trimmed after its retention).
    NotFound,
    /// Too late: the job is sending or finished, in this state.
    TooLate(crate::JobState),
}

pub(crate) struct Inner {
    pub conn: Conn,
    pub keys: Keys,
    pub config: QueueConfig,
    pub scripts: Scripts,
    pub target: RedisTarget,
    /// The certificates of a TLS target, read once at connect (for the worker's fetch
    /// connections).
    #[cfg_attr(not(feature = "worker"), allow(dead_code))]
    pub tls: Option<redis::TlsCertificates>,
    pub activity: Activity,
    /// Single-job enqueues waiting for a script call.
    pub gather: crate::gather::Gather,
}

/// A handle on one queue in Redis.
#[derive(Clone)]
pub struct Queue {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue")
            .field("name", &self.inner.config.name)
            .field("target", &self.inner.target)
            .finish_non_exhaustive()
    }
}

/// A duration in whole milliseconds, saturating.
pub(crate) fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, ms)
}

impl Queue {
    /// Connects to the queue described by `config` at `url` (see [`RedisTarget`]).
    ///
    /// # Errors
    /// A bad config or URL, or Redis unreachable.
    pub async fn connect(url: &str, config: QueueConfig) -> Result<Self, QueueError> {
        config.validate()?;
        let target = RedisTarget::parse(url)?;
        let tls = config.tls.load()?;
        if target.uses_tls() {
            crate::tls::install_provider();
        }
        let conn = Conn::open(&target, tls.as_ref(), Duration::from_secs(10))
            .await
            .map_err(|e| crate::tls::explain(e, &config.tls))?;
        let queue = Self {
            inner: Arc::new(Inner {
                conn,
                keys: Keys::new(&config.name),
                config,
                scripts: Scripts::new(),
                target,
                tls,
                activity: Activity::default(),
                gather: crate::gather::Gather::default(),
            }),
        };
        queue.ensure_group().await?;
        Ok(queue)
    }

    /// The queue's settings.
    #[must_use]
    pub fn config(&self) -> &QueueConfig {
        &self.inner.config
    }

    pub(crate) fn conn(&self) -> Conn {
        self.inner.conn.clone()
    }

    /// A connection to the queue's Redis (single server or cluster), for tests and tools that
    /// look at Redis directly. The product's crates never use it: every key they need is
    /// behind a typed function of this crate.
    #[doc(hidden)]
    #[must_use]
    pub fn connection(&self) -> Conn {
        self.inner.conn.clone()
    }

    /// The name of a key beside the queue's own: `{name}:<suffix>`, in the queue's hash slot,
    /// for tools and tests that look at Redis. Every key the product writes is written by a
    /// function of this crate (the crate's README lists them).
    #[must_use]
    pub fn key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.inner.keys.prefix)
    }

    pub(crate) fn scripts(&self) -> &Scripts {
        &self.inner.scripts
    }

    pub(crate) fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    /// What this handle's worker side did without a handler seeing it (skipped and expired
    /// deliveries, dead letters at fetch time, Redis errors), as running totals.
    #[must_use]
    pub fn activity(&self) -> QueueActivity {
        QueueActivity {
            redis_failovers: self.inner.conn.failovers(),
            ..self.inner.activity.snapshot()
        }
    }

    /// Sends `PING` to the queue's Redis (on a cluster, where the client routes it).
    ///
    /// # Errors
    /// Redis unreachable or answering with an error.
    pub async fn ping(&self) -> Result<(), QueueError> {
        let _: redis::Value = redis::cmd("PING").query_async(&mut self.conn()).await?;
        Ok(())
    }

    #[cfg_attr(not(feature = "worker"), allow(dead_code))]
    pub(crate) fn record(&self, event: crate::activity::Event, n: u64) {
        self.inner.activity.add(event, n);
    }

    /// Creates the consumer group (and the stream) if missing, e.g. after Redis lost its data.
    pub(crate) async fn ensure_group(&self) -> Result<(), QueueError> {
        let mut c = self.conn();
        let res: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.inner.keys.ready)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut c)
            .await;
        match res {
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            other => Ok(other?),
        }
    }

    /// The status record of a job (its job hash, or its done record once sent or expired);
    /// `None` if unknown or trimmed after its retention.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn status(&self, id: JobId) -> Result<Option<JobStatus>, QueueError> {
        let (keys, id_text) = (&self.inner.keys, id.to_string());
        let mut h = read_job(&mut self.conn(), keys, &id_text).await?;
        // A job whose delivery a worker holds is in flight: protocol v2 reads that from the
        // stream's pending entries rather than writing it into the record on each delivery.
        if h.get("state").map(String::as_str) == Some("queued")
            && let Some(entry) = h.get("entry")
        {
            let held: redis::Value = redis::cmd("XPENDING")
                .arg(&self.inner.keys.ready)
                .arg(GROUP)
                .arg(entry)
                .arg(entry)
                .arg(1)
                .query_async(&mut self.conn())
                .await
                .unwrap_or(redis::Value::Nil);
            if matches!(&held, redis::Value::Array(rows) if !rows.is_empty()) {
                h.insert("state".into(), "in_flight".into());
            } else {
                // Not pending: either not delivered yet, or its outcome landed between the two
                // reads (an outcome writes the record before it acknowledges the entry), so
                // the record read now is the one to show.
                h = read_job(&mut self.conn(), keys, &id_text).await?;
            }
        }
        JobStatus::from_hash(id, &h)
    }

    /// Cancels a job that has not started sending.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn cancel(&self, id: JobId) -> Result<Cancelled, QueueError> {
        let i = &self.inner;
        let mut inv = call(&i.scripts.cancel, &i.keys);
        inv.arg(&i.keys.prefix)
            .arg(now_ms())
            .arg(GROUP)
            .arg(id.to_string())
            .arg(i.config.retention.as_secs().max(1))
            .arg(crate::done::bucket(&i.keys, &id.to_string()));
        let reply: String = run(&inv, &mut self.conn()).await?;
        Ok(match reply.as_str() {
            "cancelled" => Cancelled::Cancelled,
            "not_found" => Cancelled::NotFound,
            "in_flight" => Cancelled::TooLate(crate::JobState::InFlight),
            _ => match self.status(id).await? {
                Some(s) => Cancelled::TooLate(s.state),
                None => Cancelled::NotFound,
            },
        })
    }

    #[cfg(feature = "worker")]
    /// Moves due scheduled jobs to ready (at most `promote_batch`); returns how many moved and
    /// when the next one is due (ms since the epoch).
    pub(crate) async fn promote(&self) -> Result<(usize, Option<i64>), QueueError> {
        let i = &self.inner;
        let mut inv = call(&i.scripts.promote, &i.keys);
        inv.arg(&i.keys.prefix)
            .arg(now_ms())
            .arg(i.config.promote_batch)
            .arg(GROUP)
            .arg(ms(i.config.lease));
        let (moved, next): (usize, i64) = run(&inv, &mut self.conn()).await?;
        Ok((moved, (next >= 0).then_some(next)))
    }

    /// Housekeeping, run by every worker once a minute: deletes up to 1,000 dead letters older
    /// than `dead_retention` and forgets workers that stopped heart-beating three leases ago and
    /// hold nothing. Jobs that wait (scheduled, retrying) or run are never touched. Returns
    /// `(dead letters deleted, workers forgotten)`.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn maintain(&self) -> Result<(u64, u64), QueueError> {
        let i = &self.inner;
        let now = now_ms();
        let mut inv = call(&i.scripts.maintain, &i.keys);
        inv.arg(&i.keys.prefix)
            .arg(now)
            .arg(GROUP)
            .arg(now - ms(i.config.dead_retention))
            .arg(now - 3 * ms(i.config.lease))
            .arg(1000);
        run(&inv, &mut self.conn()).await
    }
}
