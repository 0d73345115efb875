//! The markdown report: the machine, then one table per section.

use std::fmt::Write as _;

/// One section's result: a table and the notes below it.
pub struct Table {
    pub header: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
    pub notes: Vec<String>,
}

impl Table {
    pub fn new(header: &[&'static str]) -> Self {
        Self {
            header: header.to_vec(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }
}

pub struct Report {
    machine: Vec<(String, String)>,
    sections: Vec<(&'static str, Table)>,
}

impl Report {
    pub fn new(machine: Vec<(String, String)>) -> Self {
        Self {
            machine,
            sections: Vec::new(),
        }
    }

    pub fn section(&mut self, title: &'static str, table: Table) {
        self.sections.push((title, table));
    }

    pub fn markdown(&self) -> String {
        let mut out = String::from(
            "# Benchmarks\n\nWritten by `make bench` (`mailroom-bench`, release build). Every figure \
             below comes from one run on the machine described here; rerun `make bench` to \
             reproduce them on yours.\n\n## Machine\n\n",
        );
        for (key, value) in &self.machine {
            let _ = writeln!(out, "- {key}: {value}");
        }
        for (title, table) in &self.sections {
            let _ = write!(out, "\n## {title}\n\n| {} |\n|", table.header.join(" | "));
            for (i, _) in table.header.iter().enumerate() {
                out.push_str(if i == 0 { " --- |" } else { " ---: |" });
            }
            out.push('\n');
            for row in &table.rows {
                let _ = writeln!(out, "| {} |", row.join(" | "));
            }
            for note in &table.notes {
                let _ = write!(out, "\n{note}\n");
            }
        }
        out
    }
}

/// `n` with thousands separators, no decimals.
pub fn thousands(n: f64) -> String {
    if !n.is_finite() {
        return "∞".to_owned();
    }
    let s = format!("{n:.0}");
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::from(sign);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The value at quantile `q` of sorted samples.
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}
