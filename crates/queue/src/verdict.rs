//! The verdict on a delivered entry from its job's record: run it (with its attempts,
//! deliveries and enqueue time), skip it (finished or cancelled), drop it (no record), record it
//! expired, or dead-letter it (a field is not what the protocol says, named in the reason).

/// The status fields read for each entry, in this order.
pub(crate) const FIELDS: [&str; 5] = [
    "state",
    "attempts",
    "deliveries",
    "created_at",
    "expires_at",
];

/// The numeric fields of a record, with the most digits each may have: counts fit a u32,
/// times (ms since the epoch) an i64 with room to spare. Absent fields are fine.
const DIGITS: [usize; 4] = [9, 9, 15, 15];

/// What one entry's record says.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Runs, with its attempts, its deliveries before this entry's and its enqueue time.
    Run {
        attempts: u32,
        deliveries: u32,
        created_ms: i64,
    },
    /// Its job is finished or cancelled: acknowledged only.
    Skip(String),
    /// No job record.
    Missing,
    /// Past its expiry.
    Expired,
    /// A field is not what the protocol says: dead-lettered with this reason.
    Malformed(String),
}

/// Judges one entry from its record's [`FIELDS`] at `now_ms`.
pub(crate) fn verdict(fields: &[Option<Vec<u8>>], now_ms: i64) -> Verdict {
    let Some(Some(state)) = fields.first() else {
        return Verdict::Missing;
    };
    let state = String::from_utf8_lossy(state);
    if matches!(
        &*state,
        "sent" | "cancelled" | "expired" | "dead" | "suppressed"
    ) {
        return Verdict::Skip(state.into_owned());
    }
    let mut numbers = [0_i64; 4];
    for (k, max) in DIGITS.iter().enumerate() {
        let Some(Some(v)) = fields.get(k + 1) else {
            continue;
        };
        let Some(n) = whole_number(v, *max) else {
            let shown: String = String::from_utf8_lossy(&v[..v.len().min(40)])
                .chars()
                .map(|c| {
                    if c.is_ascii_graphic() || c == ' ' {
                        c
                    } else {
                        '?'
                    }
                })
                .collect();
            return Verdict::Malformed(format!(
                "malformed record: field {} is not a whole number of at most {max} digits: \"{shown}\"",
                FIELDS[k + 1]
            ));
        };
        numbers[k] = n;
    }
    let [attempts, deliveries, created_ms, expires] = numbers;
    if expired(expires, now_ms) {
        return Verdict::Expired;
    }
    Verdict::Run {
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        deliveries: u32::try_from(deliveries).unwrap_or(u32::MAX),
        created_ms,
    }
}

/// A whole number written as at most `max` decimal digits.
pub(crate) fn whole_number(digits: &[u8], max: usize) -> Option<i64> {
    if digits.is_empty() || digits.len() > max || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Whether a job that expires at `expires_ms` (0: never) is past it at `now_ms`.
pub(crate) fn expired(expires_ms: i64, now_ms: i64) -> bool {
    expires_ms > 0 && expires_ms < now_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: &[Option<&str>]) -> Vec<Option<Vec<u8>>> {
        v.iter().map(|o| o.map(|s| s.as_bytes().to_vec())).collect()
    }

    #[test]
    fn a_waiting_job_runs_with_its_attempts_and_enqueue_time() {
        let v = verdict(
            &f(&[Some("queued"), Some("2"), Some("3"), Some("5"), None]),
            10,
        );
        assert_eq!(
            v,
            Verdict::Run {
                attempts: 2,
                deliveries: 3,
                created_ms: 5
            }
        );
    }

    #[test]
    fn finished_missing_and_expired_jobs_do_not_run() {
        assert_eq!(
            verdict(&f(&[None, None, None, None, None]), 1),
            Verdict::Missing
        );
        assert_eq!(
            verdict(&f(&[Some("cancelled"), None, None, None, None]), 1),
            Verdict::Skip("cancelled".into())
        );
        assert_eq!(
            verdict(&f(&[Some("queued"), None, None, None, Some("9")]), 10),
            Verdict::Expired
        );
    }

    #[test]
    fn a_malformed_field_is_named() {
        let v = verdict(&f(&[Some("queued"), Some("1.5"), None, None, None]), 1);
        assert_eq!(
            v,
            Verdict::Malformed(
                "malformed record: field attempts is not a whole number of at most 9 digits: \"1.5\""
                    .into()
            )
        );
        assert!(matches!(
            verdict(&f(&[Some("queued"), None, Some("two"), None, None]), 1),
            Verdict::Malformed(r) if r.contains("field deliveries")
        ));
    }
}
