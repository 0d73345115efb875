//! The answer of `begin.lua`, read row by row: a row that cannot be read (a payload that is not
//! UTF-8, say, as a producer in another language might write it) is dead-lettered on its own,
//! never failing the rest of its batch.

use redis::{FromRedisValue, Value};

/// One entry of `begin.lua`'s answer.
#[derive(Debug)]
pub(crate) struct Row {
    pub entry: String,
    pub id: String,
    pub verdict: String,
    /// The payload for `run`, the reason or the state otherwise.
    pub detail: String,
    pub attempts: u32,
    pub deliveries: u32,
    pub created_ms: i64,
    /// The job's bytes as stored (payload, metadata and tags), for `run`.
    pub bytes: usize,
}

/// A row that could not be read: its entry and job id when those could be, and why.
#[derive(Debug)]
pub(crate) struct Unreadable {
    pub entry_and_id: Option<(String, String)>,
    pub reason: String,
}

/// Reads the rows of `begin.lua`'s answer, each on its own.
pub(crate) fn rows(reply: &[Value]) -> Vec<Result<Row, Unreadable>> {
    reply.iter().map(row).collect()
}

fn row(value: &Value) -> Result<Row, Unreadable> {
    type Fields = (String, String, String, Vec<u8>, u32, u32, i64, usize);
    let (entry, id, verdict, detail, attempts, deliveries, created_ms, bytes): Fields =
        FromRedisValue::from_redis_value_ref(value).map_err(|e| Unreadable {
            entry_and_id: first_two(value),
            reason: format!("malformed record: {e}"),
        })?;
    let detail = String::from_utf8(detail).map_err(|e| Unreadable {
        entry_and_id: Some((entry.clone(), id.clone())),
        reason: format!(
            "malformed payload: not UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ),
    })?;
    Ok(Row {
        entry,
        id,
        verdict,
        detail,
        attempts,
        deliveries,
        created_ms,
        bytes,
    })
}

/// The entry and job id at the head of a row whose other fields did not read.
fn first_two(value: &Value) -> Option<(String, String)> {
    let Value::Array(items) = value else {
        return None;
    };
    let text = |i: usize| String::from_redis_value_ref(items.get(i)?).ok();
    Some((text(0)?, text(1)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(b: &[u8]) -> Value {
        Value::BulkString(b.to_vec())
    }

    fn run_row(payload: &[u8]) -> Value {
        Value::Array(vec![
            bulk(b"1-0"),
            bulk(b"job"),
            bulk(b"run"),
            bulk(payload),
            Value::Int(0),
            Value::Int(1),
            Value::Int(5),
            Value::Int(2),
        ])
    }

    #[test]
    fn a_payload_that_is_not_utf8_spoils_only_its_own_row() {
        let reply = [
            run_row(b"{}"),
            run_row(b"{\"text\":\"caf\xe9\"}"),
            run_row(b"{}"),
        ];
        let rows = rows(&reply);
        assert!(rows[0].is_ok() && rows[2].is_ok(), "{rows:?}");
        let bad = rows[1].as_ref().unwrap_err();
        assert_eq!(bad.entry_and_id, Some(("1-0".into(), "job".into())));
        assert_eq!(
            bad.reason,
            "malformed payload: not UTF-8 (invalid byte at offset 12)"
        );
    }

    #[test]
    fn a_row_of_the_wrong_shape_keeps_its_entry_and_id() {
        let reply = [Value::Array(vec![bulk(b"1-0"), bulk(b"job"), bulk(b"run")])];
        let rows = rows(&reply);
        let bad = rows[0].as_ref().unwrap_err();
        assert_eq!(bad.entry_and_id, Some(("1-0".into(), "job".into())));
        assert!(
            bad.reason.starts_with("malformed record: "),
            "{}",
            bad.reason
        );
    }
}
