//! Finished jobs' records. A job that ends `sent` or `expired` keeps its status for the
//! retention period as one field of a bucket hash, `{NAME}:v2:done:SECOND`, instead of a hash
//! of its own: SECOND is the unix second of the job id's ULID timestamp, so a reader computes
//! the key from the id and needs no index. The field is the job id, the value a compact JSON
//! array:
//!
//! `[state, finished_at, deliveries, attempts, created_at, transport_id, thread_id, extras?]`
//!
//! `state` is 1 (`sent`) or 2 (`expired`); `finished_at` and `created_at` are ms after the
//! id's ULID timestamp (so a few digits; ms since the epoch for an id that is not a ULID);
//! `thread_id` is a string (empty when there is none) or `0` when it is the transport id (a
//! message that starts a Gmail thread); `extras`, an object present only when one of its
//! members is set, holds `a` (`sent_as`), `s` (`suppressed`), `d` (`duplicate_ids`), `m`
//! (`meta`), `x` (`expires_at`, ms since the epoch) and `b` (`bounced`). An expired job's
//! `last_error` is implied by its state. The bucket expires
//! `retention` after its newest record was written (`EXPIRE … NX`, then `EXPIRE … GT`).
//!
//! Readers see a record in either layout: [`read_job`] (status) and [`Queue::record_fields`]
//! turn a done record into the fields its job hash would have held.

use std::collections::HashMap;

use redis::Value;
use serde_json::Value as Json;

use crate::QueueError;
use crate::conn::Conn;
use crate::keys::Keys;
use crate::queue::Queue;
#[cfg(feature = "worker")]
use crate::status::Meta;

/// The state code of a sent job.
pub(crate) const SENT: u8 = 1;
/// The state code of a job that expired before it could be sent.
pub(crate) const EXPIRED: u8 = 2;
/// The `last_error` an expired job shows.
const EXPIRED_ERROR: &str = "expired before it could be sent";

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A job id's ULID timestamp in ms (its first 10 Crockford base32 characters); 0 for an id
/// that is not a ULID. `enqueue.lua` and `finish.lua` compute the same.
pub(crate) fn ulid_ms(id: &str) -> i64 {
    let b = id.as_bytes();
    if b.len() != 26 {
        return 0;
    }
    let mut ms: i64 = 0;
    for c in &b[..10] {
        let Some(d) = CROCKFORD.iter().position(|x| *x == c.to_ascii_uppercase()) else {
            return 0;
        };
        ms = ms * 32 + d as i64;
    }
    ms
}

/// The unix second of a job id's ULID timestamp: its done bucket's.
pub(crate) fn second_of(id: &str) -> u64 {
    u64::try_from(ulid_ms(id) / 1000).unwrap_or(0)
}

/// The bucket key of job `id`'s done record.
pub(crate) fn bucket(keys: &Keys, id: &str) -> String {
    keys.done(second_of(id))
}

/// What a delivery knows of its job beside the record's counts, kept in its done record: the
/// job's metadata and tags (as `meta`, serialised once when the job starts) and its expiry.
#[cfg(feature = "worker")]
#[derive(Debug, Clone, Default)]
pub(crate) struct Kept {
    /// The JSON text of `meta`, as [`Meta::json_of`] writes it.
    pub meta: Option<String>,
    pub expires_ms: Option<i64>,
}

#[cfg(feature = "worker")]
impl Kept {
    /// From the decoded job.
    pub fn of(job: &mailroom_jobs::EmailJob) -> Self {
        Self {
            meta: Meta::json_of(job),
            expires_ms: job.expires_at().map(|t| t.timestamp_millis()),
        }
    }
}

/// A sent job's done record.
#[cfg(feature = "worker")]
#[derive(Debug)]
pub(crate) struct SentRecord<'a> {
    pub id: &'a str,
    pub finished_ms: i64,
    pub deliveries: u32,
    pub attempts: u32,
    pub created_ms: i64,
    pub transport_id: &'a str,
    pub thread_id: &'a str,
    pub sent_as: &'a str,
    /// JSON of the recipients the suppression list dropped.
    pub suppressed: Option<&'a str>,
    pub kept: &'a Kept,
}

#[cfg(feature = "worker")]
impl SentRecord<'_> {
    /// The record's value, as stored. Written directly rather than through a
    /// [`serde_json::Value`] tree: this runs once per sent job, and the tree (with a copy of
    /// the job's metadata) cost more than the rest of recording the outcome.
    pub fn encode(&self) -> String {
        let base = ulid_ms(self.id);
        // Sized for the usual record up front: the counts are a few digits each.
        let mut out = String::with_capacity(
            48 + self.transport_id.len()
                + self.thread_id.len()
                + self.sent_as.len()
                + self.kept.meta.as_ref().map_or(0, String::len),
        );
        let mut digits = itoa::Buffer::new();
        out.push('[');
        out.push_str(digits.format(SENT));
        let counts = [
            self.finished_ms - base,
            self.deliveries.into(),
            self.attempts.into(),
            self.created_ms - base,
        ];
        for n in counts {
            out.push(',');
            out.push_str(digits.format(n));
        }
        out.push(',');
        push_json_str(&mut out, self.transport_id);
        if !self.thread_id.is_empty() && self.thread_id == self.transport_id {
            out.push_str(",0");
        } else {
            out.push(',');
            push_json_str(&mut out, self.thread_id);
        }
        // The extras' members in key order, as a JSON object writes them.
        let mut first = true;
        let mut member = |out: &mut String, key: &str| {
            out.push_str(if std::mem::take(&mut first) {
                ",{\""
            } else {
                ",\""
            });
            out.push_str(key);
            out.push_str("\":");
        };
        if !self.sent_as.is_empty() {
            member(&mut out, "a");
            push_json_str(&mut out, self.sent_as);
        }
        if let Some(m) = &self.kept.meta {
            member(&mut out, "m");
            out.push_str(m);
        }
        if let Some(s) = self.suppressed {
            let v = serde_json::from_str(s).unwrap_or_else(|_| Json::String(s.to_owned()));
            member(&mut out, "s");
            out.push_str(&v.to_string());
        }
        if let Some(x) = self.kept.expires_ms {
            member(&mut out, "x");
            out.push_str(digits.format(x));
        }
        if !first {
            out.push('}');
        }
        out.push(']');
        out
    }
}

/// Appends `text` as a JSON string: as it is between quotes when nothing in it needs an
/// escape (what serde_json escapes: `"`, `\\` and control characters), else as serde_json
/// writes it.
#[cfg(feature = "worker")]
fn push_json_str(out: &mut String, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        out.push_str(&serde_json::to_string(text).expect("a string serialises to JSON"));
    }
}

/// The state a done record's value names (`sent`, `expired`), if it is one.
#[cfg(feature = "worker")]
pub(crate) fn state_of(value: &[u8]) -> Option<&'static str> {
    let rest = value.strip_prefix(b"[")?;
    match rest.split(|c| *c == b',').next()? {
        b"1" => Some("sent"),
        b"2" => Some("expired"),
        _ => None,
    }
}

/// The fields job `id`'s done record `value` stands for, named as in a job hash; empty when
/// the value is not a done record.
pub(crate) fn fields(id: &str, value: &[u8]) -> HashMap<String, String> {
    let mut h = HashMap::new();
    let Ok(Json::Array(rec)) = serde_json::from_slice::<Json>(value) else {
        return h;
    };
    let state = match rec.first().and_then(Json::as_u64) {
        Some(c) if c == u64::from(SENT) => "sent",
        Some(c) if c == u64::from(EXPIRED) => "expired",
        _ => return h,
    };
    h.insert("state".into(), state.into());
    if state == "expired" {
        h.insert("last_error".into(), EXPIRED_ERROR.into());
    }
    let base = ulid_ms(id);
    let names = [
        ("finished_at", base),
        ("deliveries", 0),
        ("attempts", 0),
        ("created_at", base),
    ];
    for ((name, from), v) in names.iter().zip(rec.iter().skip(1)) {
        if let Some(n) = v.as_i64() {
            h.insert((*name).into(), (from + n).to_string());
        }
    }
    let transport = text(rec.get(5));
    if let Some(t) = transport {
        h.insert("transport_id".into(), t.into());
    }
    let thread = match rec.get(6) {
        Some(Json::Number(_)) => transport,
        other => text(other),
    };
    if let Some(t) = thread {
        h.insert("thread_id".into(), t.into());
    }
    if let Some(Json::Object(x)) = rec.get(7) {
        let extras = [
            ("a", "sent_as"),
            ("s", "suppressed"),
            ("d", "duplicate_ids"),
            ("m", "meta"),
            ("x", "expires_at"),
            ("b", "bounced"),
        ];
        for (short, name) in extras {
            match x.get(short) {
                Some(Json::String(s)) => h.insert(name.into(), s.clone()),
                Some(Json::Number(n)) => h.insert(name.into(), n.to_string()),
                Some(v @ (Json::Array(_) | Json::Object(_))) => {
                    h.insert(name.into(), v.to_string())
                }
                _ => None,
            };
        }
    }
    h
}

/// A hash as `HGETALL` answers it, bytes as stored.
type RawHash = HashMap<Vec<u8>, Vec<u8>>;

/// The fields of job `id`'s record in either layout, in one round trip: its job hash, or else
/// its done record. Bytes that are not UTF-8 read as U+FFFD (see [`crate::status`]).
pub(crate) async fn read_job(
    conn: &mut Conn,
    keys: &Keys,
    id: &str,
) -> Result<HashMap<String, String>, QueueError> {
    let (raw, done): (RawHash, Option<Vec<u8>>) = redis::pipe()
        .cmd("HGETALL")
        .arg(keys.job(id))
        .cmd("HGET")
        .arg(bucket(keys, id))
        .arg(id)
        .query_async(conn)
        .await?;
    if raw.is_empty()
        && let Some(done) = done
    {
        return Ok(fields(id, &done));
    }
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Ok(raw.iter().map(|(k, v)| (text(k), text(v))).collect())
}

/// A non-empty string of a record.
fn text(v: Option<&Json>) -> Option<&str> {
    v.and_then(Json::as_str).filter(|s| !s.is_empty())
}

/// Replaces an all-absent `HMGET` answer of `names` by the done record's fields, if any.
fn overlay(
    id: &str,
    row: Vec<Option<String>>,
    done: Option<&[u8]>,
    names: &[&str],
) -> Vec<Option<String>> {
    match done {
        Some(d) if row.iter().all(Option::is_none) => {
            let h = fields(id, d);
            names.iter().map(|n| h.get(*n).cloned()).collect()
        }
        _ => row,
    }
}

impl Queue {
    /// `names` of each job's record, in either layout (a job hash or a done record; a record
    /// that is gone reads as all `None`), in pipelined reads. For tests and tools that look at
    /// Redis.
    ///
    /// # Errors
    /// Redis unreachable.
    #[doc(hidden)]
    pub async fn record_fields(
        &self,
        ids: &[mailroom_jobs::JobId],
        names: &[&str],
    ) -> Result<Vec<Vec<Option<String>>>, QueueError> {
        let keys = self.keys();
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(2000) {
            let mut pipe = redis::pipe();
            for id in chunk {
                let id = id.to_string();
                pipe.cmd("HMGET").arg(keys.job(&id)).arg(names);
                pipe.cmd("HGET").arg(bucket(keys, &id)).arg(&id);
            }
            let answers: Vec<Value> = pipe.query_async(&mut self.conn()).await?;
            for (id, pair) in chunk.iter().zip(answers.chunks_exact(2)) {
                let row: Vec<Option<String>> =
                    redis::from_redis_value_ref(&pair[0]).unwrap_or_default();
                let done: Option<Vec<u8>> =
                    redis::from_redis_value_ref(&pair[1]).unwrap_or_default();
                out.push(overlay(&id.to_string(), row, done.as_deref(), names));
            }
        }
        Ok(out)
    }
}

// Most of them read back the sent records only a worker writes.
#[cfg(all(test, feature = "worker"))]
mod tests;
