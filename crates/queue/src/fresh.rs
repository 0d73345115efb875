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

use crate::verdict::{Verdict, expired, whole_number};

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
    /// Keeps `value` when `name` is one of the marks.
    pub fn take(&mut self, name: &[u8], value: Vec<u8>) {
        match name {
            b"c" => self.created = Some(value),
            b"x" => self.expires = Some(value),
            _ => {}
        }
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

/// A time in ms since the epoch, as a record's times are written (at most 15 digits).
fn number(digits: &[u8]) -> Option<i64> {
    whole_number(digits, 15)
}

impl Fresh {
    /// The verdict on a fresh job at `now_ms`: it runs as a job with no attempts and no
    /// deliveries, unless it is past its expiry.
    pub fn verdict(self, now_ms: i64) -> Verdict {
        if expired(self.expires_ms, now_ms) {
            return Verdict::Expired;
        }
        Verdict::Run {
            attempts: 0,
            deliveries: 0,
            created_ms: self.created_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks(fields: &[(&str, &str)]) -> Marks {
        let mut m = Marks::default();
        for (name, value) in fields {
            m.take(name.as_bytes(), value.as_bytes().to_vec());
        }
        m
    }

    #[test]
    fn a_marked_entry_runs_as_a_new_job_until_it_expires() {
        let fresh = marks(&[("c", "1000"), ("x", "5000")]).fresh().unwrap();
        assert_eq!(
            fresh.verdict(4999),
            Verdict::Run {
                attempts: 0,
                deliveries: 0,
                created_ms: 1000
            }
        );
        assert_eq!(fresh.verdict(5001), Verdict::Expired);
        let forever = marks(&[("c", "1000")]).fresh().unwrap();
        assert_eq!(forever.expires_ms, 0);
        assert!(matches!(forever.verdict(i64::MAX), Verdict::Run { .. }));
    }

    #[test]
    fn an_entry_without_marks_or_with_bad_ones_reads_its_record() {
        assert_eq!(marks(&[]).fresh(), None);
        assert_eq!(marks(&[("x", "5000")]).fresh(), None);
        assert_eq!(marks(&[("c", "soon")]).fresh(), None);
        assert_eq!(marks(&[("c", "1000"), ("x", "-1")]).fresh(), None);
        assert_eq!(marks(&[("c", "")]).fresh(), None);
        assert_eq!(marks(&[("p", "{}"), ("id", "1000")]).fresh(), None);
    }
}
