//! The figures of one fault scenario for the suite's summary table: a [`Report`] gathers them
//! while the scenario runs and, when it is dropped (at the end, or while a failed assertion
//! unwinds), appends them as one JSON line to the file named by `MAILROOM_FAULTS_REPORT`, with
//! whether the scenario passed and how long it took. Without the variable nothing is written.
//! `make test-faults` sets it and prints the table with `mailroom-faults-report`.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::sync::LazyLock;
use std::time::Instant;

use serde_json::{Map, Value};

use super::Backing;
use super::google::Tally;

/// The variable naming the file the figures are appended to.
pub const REPORT_VAR: &str = "MAILROOM_FAULTS_REPORT";

/// One scenario's figures; written when dropped.
pub struct Report {
    fields: Map<String, Value>,
    started: Instant,
}

impl Report {
    /// A report for `scenario` on `redis` (single server or cluster), timed from now.
    pub fn start(scenario: &str, redis: &Backing) -> Self {
        // The first scenario of a run has cargo build the binary: not the scenario's time.
        LazyLock::force(&super::MAILROOM);
        let mut fields = Map::new();
        fields.insert("scenario".into(), scenario.into());
        fields.insert("redis".into(), redis.kind().into());
        Self {
            fields,
            started: Instant::now(),
        }
    }

    /// Sets one figure: `jobs`, `received`, `unique`, `duplicates`, `in_flight_at_kill`,
    /// `dead` (a count) or `notes` (text).
    pub fn set(&mut self, field: &str, value: impl Into<Value>) {
        self.fields.insert(field.to_owned(), value.into());
    }

    /// Sets `received`, `unique` and `duplicates` from what the fake Google accepted.
    pub fn tally(&mut self, tally: &Tally) {
        self.set("received", tally.received);
        self.set("unique", tally.unique());
        self.set("duplicates", tally.duplicates());
    }
}

impl Drop for Report {
    fn drop(&mut self) {
        let Some(path) = std::env::var_os(REPORT_VAR) else {
            return;
        };
        self.fields
            .insert("passed".into(), (!std::thread::panicking()).into());
        self.fields.insert(
            "seconds".into(),
            self.started.elapsed().as_secs_f64().into(),
        );
        let mut line = Value::Object(std::mem::take(&mut self.fields)).to_string();
        line.push('\n');
        // One append of one whole line, so scenarios finishing together never mix their lines.
        let written = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut file| file.write_all(line.as_bytes()));
        if let Err(e) = written {
            eprintln!("{REPORT_VAR}={}: {e}", path.to_string_lossy());
        }
    }
}
