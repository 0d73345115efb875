//! Starting delivered stream entries, without a script: one pipelined read of the jobs'
//! status records per fetch round, but for first deliveries whose entry says what their
//! record would ([`crate::fresh`]) (plus one for the done records of jobs whose record is
//! gone, and one for payloads that wait in their records, both rare), then a verdict per
//! entry, each judged on its own.
//!
//! An entry runs unless its job is finished or cancelled (`skip`), has no record (`missing`),
//! is past its expiry (`expired`) or has a malformed record (dead-lettered alone, naming the
//! field). Entries that carry their payload (protocol v2, at most 64 KiB) always start; a job
//! whose payload waits in its record starts while its bytes fit in what is left of the
//! worker's budget (or alone, when the worker holds nothing), and once one does not, it and
//! every later such job are deferred, still pending under the worker, to start in order as
//! leases end.

use redis::aio::ConnectionLike;
use redis::{Pipeline, Value};

use crate::QueueError;
use crate::fresh::{Fresh, Marks};
use crate::keys::Keys;
use crate::verdict::{FIELDS, Verdict, verdict};

/// A delivery read from the stream (or taken over), before it starts.
#[derive(Debug)]
pub(crate) struct Read {
    pub entry: String,
    pub id: String,
    /// The payload the entry carries, or `None` when it waits in the job's record.
    pub payload: Option<Vec<u8>>,
    /// Times delivered, this delivery included.
    pub delivered: u32,
    /// For a first delivery of an entry `enqueue.lua` marked, what its record says.
    pub fresh: Option<Fresh>,
}

/// The deliveries of an `XREADGROUP` reply (RESP2 arrays or RESP3 maps), read straight from
/// the reply: redis-rs's `StreamReadReply` copies every field into a map of its own, which
/// cost more than the rest of a fetch's parsing.
pub(crate) fn stream_reads(reply: Value) -> Vec<Read> {
    // Each stream's entries: RESP2 answers `[[key, entries], …]`, RESP3 `{key: entries, …}`.
    let lists: Vec<Value> = match reply {
        Value::Array(streams) => streams
            .into_iter()
            .filter_map(|stream| match stream {
                Value::Array(mut pair) if pair.len() == 2 => pair.pop(),
                _ => None,
            })
            .collect(),
        Value::Map(streams) => streams.into_iter().map(|(_, entries)| entries).collect(),
        _ => return Vec::new(),
    };
    let mut reads = Vec::new();
    for list in lists {
        if let Value::Array(entries) = list {
            reads.extend(entries.into_iter().filter_map(stream_read));
        }
    }
    reads
}

/// One stream entry (`[entry id, [field, value, …]]`) as a delivery: its job id (field `id`)
/// and its payload (field `p`), if any.
fn stream_read(entry: Value) -> Option<Read> {
    let Value::Array(entry) = entry else {
        return None;
    };
    let mut entry = entry.into_iter();
    let id = redis::from_redis_value::<String>(entry.next()?).ok()?;
    let fields = match entry.next()? {
        Value::Array(fields) => fields,
        Value::Map(fields) => fields.into_iter().flat_map(|(k, v)| [k, v]).collect(),
        _ => return None,
    };
    let mut read = Read {
        entry: id,
        id: String::new(),
        payload: None,
        delivered: 1,
        fresh: None,
    };
    let mut marks = Marks::default();
    let mut fields = fields.into_iter();
    while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
        match (&name, value) {
            (Value::BulkString(n), value) if n == b"id" => {
                read.id = redis::from_redis_value(value).unwrap_or_default();
            }
            (Value::BulkString(n), Value::BulkString(p)) if n == b"p" => read.payload = Some(p),
            (Value::BulkString(n), Value::BulkString(v)) => marks.take(n, v),
            _ => {}
        }
    }
    // Only an entry carrying its payload starts without its record.
    read.fresh = read.payload.as_ref().and_then(|_| marks.fresh());
    Some(read)
}

/// Judges one delivery at `now_ms`: a fresh one ([`crate::fresh`]) from its entry's marks, any
/// other from its record's [`FIELDS`].
pub(crate) fn judge(r: &Read, record: &[Option<Vec<u8>>], now_ms: i64) -> Verdict {
    match r.fresh {
        Some(fresh) => fresh.verdict(now_ms),
        None => verdict(record, now_ms),
    }
}

/// The pipeline reading the records of `reads` but the fresh ones ([`crate::fresh`]): per
/// entry, `HMGET` of [`FIELDS`] of its job hash and, for an entry without a payload,
/// `HSTRLEN` of the record's `payload` and `meta`.
fn read_records(keys: &Keys, reads: &[Read]) -> Pipeline {
    let mut pipe = redis::pipe();
    for r in reads.iter().filter(|r| r.fresh.is_none()) {
        let jk = keys.job(&r.id);
        pipe.cmd("HMGET").arg(&jk).arg(&FIELDS[..]);
        if r.payload.is_none() {
            pipe.cmd("HSTRLEN").arg(&jk).arg("payload");
            pipe.cmd("HSTRLEN").arg(&jk).arg("meta");
        }
    }
    pipe
}

/// An entry's record fields and, for an entry without a payload, the bytes of its record.
pub(crate) type Record = (Vec<Option<Vec<u8>>>, Option<usize>);

/// One entry's answers from [`read_records`]: its record's [`FIELDS`], and the bytes its
/// record holds (`payload` plus `meta`) for an entry without a payload.
fn next_record(r: &Read, answers: &mut impl Iterator<Item = Value>) -> Record {
    if r.fresh.is_some() {
        // Judged from its entry ([`judge`]): no record was read.
        return (Vec::new(), None);
    }
    let record = fields(answers.next().unwrap_or(Value::Nil));
    let stored = r.payload.is_none().then(|| {
        let mut n = || {
            answers
                .next()
                .and_then(|v| redis::from_redis_value::<usize>(v).ok())
                .unwrap_or(0)
        };
        n() + n()
    });
    (record, stored)
}

/// The entries whose job hash was read and is gone (a finished job's, or none at all), by
/// index: their done records decide, read by [`read_done`] in a second round trip that a
/// fetch of new jobs never needs. A job's done record is written before its hash is deleted,
/// so a hash found missing has its done record already, unless it never had one.
fn without_record(reads: &[Read], records: &[Record]) -> Vec<usize> {
    (0..records.len())
        .filter(|&i| reads[i].fresh.is_none() && records[i].0.first().is_none_or(Option::is_none))
        .collect()
}

/// The pipeline of `HGET`s of the done records of `reads` at `at`.
fn read_done(keys: &Keys, reads: &[Read], at: &[usize]) -> Pipeline {
    let mut pipe = redis::pipe();
    for &i in at {
        pipe.cmd("HGET")
            .arg(crate::done::bucket(keys, &reads[i].id))
            .arg(&reads[i].id);
    }
    pipe
}

/// A record taken from a done record's value: the state it names, if any.
fn done_record(value: &Value) -> Option<Vec<Option<Vec<u8>>>> {
    let Value::BulkString(d) = value else {
        return None;
    };
    crate::done::state_of(d).map(|state| vec![Some(state.as_bytes().to_vec())])
}

/// The records of `reads` and the bytes each holds in its record: the job hashes' fields
/// ([`read_records`]), or a done record's state where the hash is gone ([`read_done`]).
///
/// # Errors
/// Redis unreachable.
pub(crate) async fn records(
    conn: &mut impl ConnectionLike,
    keys: &Keys,
    reads: &[Read],
) -> Result<Vec<Record>, QueueError> {
    let answers: Vec<Value> = if reads.iter().all(|r| r.fresh.is_some()) {
        Vec::new()
    } else {
        read_records(keys, reads).query_async(conn).await?
    };
    let mut answers = answers.into_iter();
    let mut records: Vec<Record> = reads.iter().map(|r| next_record(r, &mut answers)).collect();
    let gone = without_record(reads, &records);
    if !gone.is_empty() {
        let done: Vec<Value> = read_done(keys, reads, &gone).query_async(conn).await?;
        for (&i, value) in gone.iter().zip(&done) {
            if let Some(record) = done_record(value) {
                records[i].0 = record;
            }
        }
    }
    Ok(records)
}

/// Reads a `HMGET` answer as optional byte strings.
pub(crate) fn fields(value: Value) -> Vec<Option<Vec<u8>>> {
    match value {
        Value::Array(items) => items
            .into_iter()
            .map(|v| match v {
                Value::BulkString(b) => Some(b),
                Value::SimpleString(s) => Some(s.into_bytes()),
                Value::Int(n) => Some(n.to_string().into_bytes()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// A payload as text, or the reason it is not.
pub(crate) fn utf8(payload: Vec<u8>) -> Result<String, String> {
    String::from_utf8(payload).map_err(|e| {
        format!(
            "malformed payload: not UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Reads the payloads that wait in their records, for those of `reads` that carry none.
pub(crate) async fn load_payloads<'a>(
    conn: &mut impl ConnectionLike,
    keys: &Keys,
    reads: impl Iterator<Item = &'a mut Read>,
) -> Result<(), QueueError> {
    let waiting: Vec<&mut Read> = reads.filter(|r| r.payload.is_none()).collect();
    if waiting.is_empty() {
        return Ok(());
    }
    let mut pipe = redis::pipe();
    for r in &waiting {
        pipe.cmd("HGET").arg(keys.job(&r.id)).arg("payload");
    }
    let payloads: Vec<Option<Vec<u8>>> = pipe.query_async(conn).await?;
    for (r, payload) in waiting.into_iter().zip(payloads) {
        r.payload = Some(payload.unwrap_or_default());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &[u8]) -> Value {
        Value::BulkString(s.to_vec())
    }

    fn entries() -> Value {
        Value::Array(vec![
            Value::Array(vec![
                bulk(b"1-0"),
                Value::Array(vec![bulk(b"id"), bulk(b"A"), bulk(b"p"), bulk(b"{}")]),
            ]),
            Value::Array(vec![
                bulk(b"2-0"),
                Value::Array(vec![bulk(b"id"), bulk(b"B")]),
            ]),
        ])
    }

    #[test]
    fn a_stream_reply_gives_each_entry_with_its_job_and_payload() {
        let seen = |reads: Vec<Read>| -> Vec<(String, String, Option<Vec<u8>>)> {
            reads
                .into_iter()
                .map(|r| (r.entry, r.id, r.payload))
                .collect()
        };
        let want = vec![
            ("1-0".to_owned(), "A".to_owned(), Some(b"{}".to_vec())),
            ("2-0".to_owned(), "B".to_owned(), None),
        ];
        let resp2 = Value::Array(vec![Value::Array(vec![bulk(b"q:ready"), entries()])]);
        assert_eq!(seen(stream_reads(resp2)), want);
        let resp3 = Value::Map(vec![(bulk(b"q:ready"), entries())]);
        assert_eq!(seen(stream_reads(resp3)), want);
        assert!(stream_reads(Value::Nil).is_empty());
    }

    #[test]
    fn a_payload_that_is_not_utf8_is_refused_with_its_offset() {
        assert_eq!(
            utf8(b"{\"text\":\"caf\xe9\"}".to_vec()).unwrap_err(),
            "malformed payload: not UTF-8 (invalid byte at offset 12)"
        );
    }
}
