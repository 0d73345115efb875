//! First deliveries that need no record read. `enqueue.lua` writes a job's entry and its
//! record in one call, and marks an entry that carries its payload with the two record fields
//! a worker needs: `c`, the enqueue time, and `x`, the expiry when the job has one (ms since
//! the epoch each). Read by `XREADGROUP … >`, such an entry has never been delivered: its
//! job has no attempts and no deliveries yet, and it is not cancelled (`cancel.lua` deletes an
//! entry no worker holds, and refuses one a worker holds). So its verdict comes from the entry
//! alone, and a fetch of new jobs reads no record at all.
//!
//! An entry without the marks (written by an earlier `enqueue.lua`, by `promote.lua` or a
//! retry, or by a producer that writes its own entries), or with marks that are not whole
//! numbers, has its record read as before.

/// What a marked entry says of its job's record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fresh {
    /// When the job was enqueued (field `c`).
    pub created_ms: i64,
    /// When it expires (field `x`), 0 for never.
    pub expires_ms: i64,
}

/// The marks read from an entry's fields, before they are checked.
#[derive(Debug, Default)]
pub(crate) struct Marks {
    created: Option<Vec<u8>>,
    expires: Option<Vec<u8>>,
}

impl Marks {
    /// Takes `value` when `name` is one of the marks; gives it back otherwise.
    pub fn take(&mut self, name: &[u8], value: Vec<u8>) -> Option<Vec<u8>> {
        match name {
            b"c" => self.created = Some(value),
            b"x" => self.expires = Some(value),
            _ => return Some(value),
        }
        None
    }

    /// The record the marks stand for, when `c` is there and both are whole numbers.
    pub fn fresh(&self) -> Option<Fresh> {
        let created_ms = number(self.created.as_deref()?)?;
        let expires_ms = match self.expires.as_deref() {
            Some(x) => number(x)?,
            None => 0,
        };
        Some(Fresh {
            created_ms,
            expires_ms,
        })
    }
}

/// A whole number of ms since the epoch, written as decimal digits (at most 15).
fn number(digits: &[u8]) -> Option<i64> {
    if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

impl Fresh {
    /// The record fields ([`crate::start::FIELDS`]) a fresh job has: queued, no attempts, no
    /// deliveries.
    pub fn record(self) -> Vec<Option<Vec<u8>>> {
        let expires = (self.expires_ms > 0).then(|| self.expires_ms.to_string().into_bytes());
        vec![
            Some(b"queued".to_vec()),
            Some(b"0".to_vec()),
            Some(b"0".to_vec()),
            Some(self.created_ms.to_string().into_bytes()),
            expires,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::start::{Verdict, verdict};

    fn marks(fields: &[(&str, &str)]) -> Marks {
        let mut m = Marks::default();
        for (name, value) in fields {
            assert!(m.take(name.as_bytes(), value.as_bytes().to_vec()).is_none());
        }
        m
    }

    #[test]
    fn a_marked_entry_runs_as_a_new_job_until_it_expires() {
        let fresh = marks(&[("c", "1000"), ("x", "5000")]).fresh().unwrap();
        assert_eq!(
            verdict(&fresh.record(), 4999),
            Verdict::Run {
                attempts: 0,
                deliveries: 0,
                created_ms: 1000
            }
        );
        assert_eq!(verdict(&fresh.record(), 5001), Verdict::Expired);
        let forever = marks(&[("c", "1000")]).fresh().unwrap();
        assert_eq!(forever.expires_ms, 0);
        assert!(matches!(
            verdict(&forever.record(), i64::MAX),
            Verdict::Run { .. }
        ));
    }

    #[test]
    fn an_entry_without_marks_or_with_bad_ones_reads_its_record() {
        assert_eq!(marks(&[]).fresh(), None);
        assert_eq!(marks(&[("x", "5000")]).fresh(), None);
        assert_eq!(marks(&[("c", "soon")]).fresh(), None);
        assert_eq!(marks(&[("c", "1000"), ("x", "-1")]).fresh(), None);
        assert_eq!(marks(&[("c", "")]).fresh(), None);
        assert!(Marks::default().take(b"p", b"{}".to_vec()).is_some());
    }
}
