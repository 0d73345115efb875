//! Every key of a test's Redis and its value, as text: what a test looks through to prove a
//! secret is not stored in clear.

use std::collections::HashMap;
use std::fmt::Write as _;

use redis::AsyncCommands as _;
use redis::aio::ConnectionLike;

/// Every key and its value, one `name = value` line each (hashes and sets in debug form,
/// other types by their type name). Panics on a Redis error: it is for tests.
pub async fn redis_dump<C: ConnectionLike + Send + Sync>(conn: &mut C) -> String {
    let names: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(conn)
        .await
        .expect("KEYS");
    let mut dump = String::new();
    for name in names {
        let kind: String = redis::cmd("TYPE")
            .arg(&name)
            .query_async(conn)
            .await
            .expect("TYPE");
        let value = match kind.as_str() {
            "hash" => format!(
                "{:?}",
                conn.hgetall::<_, HashMap<String, String>>(&name)
                    .await
                    .expect("HGETALL")
            ),
            "set" => format!(
                "{:?}",
                conn.smembers::<_, Vec<String>>(&name)
                    .await
                    .expect("SMEMBERS")
            ),
            "string" => conn.get::<_, String>(&name).await.expect("GET"),
            other => format!("({other})"),
        };
        let _ = writeln!(dump, "{name} = {value}");
    }
    dump
}
