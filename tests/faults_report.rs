//! Prints the fault suite's summary table as Markdown: one row per scenario and Redis (single
//! server or cluster), from the JSON lines the scenarios append to the file named by
//! `MAILROOM_FAULTS_REPORT` (see `common/report.rs`). `make test-faults` runs it after the
//! suites, whether they passed or not; a scenario that failed shows as `FAILED` with the
//! figures it had gathered.
//!
//! Usage: `mailroom-faults-report [FILE]` (default: `$MAILROOM_FAULTS_REPORT`).

use std::process::ExitCode;

use serde_json::Value;

/// The columns: header, then the JSON field it shows.
const COLUMNS: [(&str, &str); 9] = [
    ("jobs", "jobs"),
    ("received", "received"),
    ("unique", "unique"),
    ("duplicates", "duplicates"),
    ("in flight at kill", "in_flight_at_kill"),
    ("dead letters", "dead"),
    ("time", "seconds"),
    ("result", "passed"),
    ("notes", "notes"),
];

fn main() -> ExitCode {
    let Some(path) = std::env::args_os()
        .nth(1)
        .or_else(|| std::env::var_os("MAILROOM_FAULTS_REPORT"))
    else {
        eprintln!("usage: mailroom-faults-report FILE (or set MAILROOM_FAULTS_REPORT)");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("{}: {e}", path.to_string_lossy());
            return ExitCode::FAILURE;
        }
    };
    let mut rows: Vec<Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| match serde_json::from_str(l) {
            Ok(row) => Some(row),
            Err(e) => {
                eprintln!("skipping a line that is not JSON ({e}): {l}");
                None
            }
        })
        .collect();
    if rows.is_empty() {
        println!("no fault scenario reported to {}", path.to_string_lossy());
        return ExitCode::SUCCESS;
    }
    // Each scenario on one Redis, then on a cluster; scenarios in the order they finished.
    let first_seen = |row: &Value| {
        rows.iter()
            .position(|r| r["scenario"] == row["scenario"])
            .unwrap_or(usize::MAX)
    };
    let mut keyed: Vec<(usize, bool, Value)> = rows
        .iter()
        .map(|r| (first_seen(r), r["redis"] != "single", r.clone()))
        .collect();
    keyed.sort_by_key(|(seen, cluster, _)| (*seen, *cluster));
    rows = keyed.into_iter().map(|(_, _, r)| r).collect();

    let mut header = vec!["scenario".to_owned(), "redis".to_owned()];
    header.extend(COLUMNS.iter().map(|(name, _)| (*name).to_owned()));
    let mut table = vec![header];
    for row in &rows {
        let mut cells = vec![text_of(&row["scenario"]), text_of(&row["redis"])];
        cells.extend(COLUMNS.iter().map(|(_, field)| cell(field, &row[*field])));
        table.push(cells);
    }
    let failed = rows.iter().filter(|r| r["passed"] != true).count();
    println!();
    println!(
        "## Fault suite: {} scenario runs, {failed} failed",
        rows.len()
    );
    println!();
    print_markdown(&table);
    ExitCode::SUCCESS
}

/// One cell: counts with thousands separators, seconds with one decimal, the result as a
/// word, anything missing as a dash.
fn cell(field: &str, value: &Value) -> String {
    match (field, value) {
        (_, Value::Null) => "–".to_owned(),
        ("passed", Value::Bool(true)) => "passed".to_owned(),
        ("passed", _) => "**FAILED**".to_owned(),
        ("seconds", Value::Number(n)) => format!("{:.1} s", n.as_f64().unwrap_or(0.0)),
        (_, Value::Number(n)) => n.as_u64().map_or_else(|| n.to_string(), thousands),
        ("notes", other) => group_digits(&text_of(other)),
        (_, other) => text_of(other),
    }
}

/// Whole numbers of four digits or more in `text` with thousands separators (`1873 jobs` as
/// `1,873 jobs`); decimals are left alone.
fn group_digits(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        let run: String = chars[start..i].iter().collect();
        let decimal = (start > 0 && chars[start - 1] == '.') || chars.get(i) == Some(&'.');
        match run.parse::<u64>() {
            Ok(n) if !decimal => out.push_str(&thousands(n)),
            _ => out.push_str(&run),
        }
    }
    out
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.replace('|', "\\|"),
        Value::Null => "–".to_owned(),
        other => other.to_string(),
    }
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Prints `rows` (the first is the header) as a Markdown table with aligned columns; number
/// columns are right-aligned.
fn print_markdown(rows: &[Vec<String>]) {
    let columns = rows[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    // Columns 2..=8 hold figures (jobs … time).
    let numeric = |c: usize| (2..=8).contains(&c);
    let line = |r: &[String]| {
        let cells: Vec<String> = r
            .iter()
            .enumerate()
            .map(|(c, text)| {
                if numeric(c) {
                    format!("{text:>w$}", w = widths[c])
                } else {
                    format!("{text:<w$}", w = widths[c])
                }
            })
            .collect();
        format!("| {} |", cells.join(" | "))
    };
    println!("{}", line(&rows[0]));
    let rule: Vec<String> = (0..columns)
        .map(|c| {
            let dashes = "-".repeat(widths[c].max(3));
            if numeric(c) {
                format!("{}:", &dashes[1..])
            } else {
                dashes
            }
        })
        .collect();
    println!("| {} |", rule.join(" | "));
    for row in &rows[1..] {
        println!("{}", line(row));
    }
}
