//! Job records with one malformed field each, as a producer in another language might write
//! them, pushed straight into Redis amid valid jobs.

use mailroom_jobs::JobId;

use super::malformed::{Broken, broken_amid_valid, payload};
use crate::common::Backing;

/// A payload that is not UTF-8, and `expires_at`, `deliveries`, `attempts` and `created_at`
/// that are not numbers: each record is dead-lettered alone with a reason naming its field,
/// every valid job of the same fetch batches is received exactly once.
pub async fn malformed_fields_amid_valid_jobs(redis: Backing, valid: usize) {
    let mut latin1 = payload("caf\u{e9}");
    // "é" in Latin-1: one byte that cannot start a UTF-8 character.
    let at = latin1.windows(2).position(|w| w == "é".as_bytes()).unwrap();
    latin1.splice(at..at + 2, [0xe9]);
    let shapes: [(&'static str, &[u8], &'static str); 5] = [
        ("payload", &latin1, "malformed payload: not UTF-8"),
        (
            "expires_at",
            b"tomorrow",
            "field expires_at is not a whole number",
        ),
        (
            "deliveries",
            b"two",
            "field deliveries is not a whole number",
        ),
        ("attempts", b"1.5", "field attempts is not a whole number"),
        (
            "created_at",
            b"2026-12-02T10:00:00Z",
            "field created_at is not a whole number",
        ),
    ];
    let now = chrono::Utc::now()
        .timestamp_millis()
        .to_string()
        .into_bytes();
    let records = shapes
        .into_iter()
        .map(|(field, value, why)| {
            let mut fields = vec![
                ("payload", payload("Hi")),
                ("attempts", b"0".to_vec()),
                ("deliveries", b"0".to_vec()),
                ("created_at", now.clone()),
            ];
            fields.retain(|(f, _)| *f != field);
            fields.push((field, value.to_vec()));
            Broken {
                id: JobId::new().to_string(),
                fields,
                why,
            }
        })
        .collect::<Vec<_>>();
    let notes = format!("{} records with a malformed field", records.len());
    broken_amid_valid(
        redis,
        valid,
        "malformed fields amid valid jobs",
        &notes,
        records,
    )
    .await;
}
