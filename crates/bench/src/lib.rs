//! Message formatting and process figures shared by mailroom's benchmark
//! contenders (`mailroom-bench-floor`).
//!
//! The message is a plain RFC 5322 `multipart/alternative` built by string
//! formatting; the upload body is the `uploadType=multipart` form that
//! google-gmail1 sends to Gmail's `users.messages.send`.
//!
//! # Layout
//!
//! * `lib.rs`: this crate: the message, the upload body and a process's peak RSS and CPU time.
//! * `bin/mailroom-bench/`: `make bench`, the harness writing `BENCHMARKS.md` (modules: `main.rs`).
//! * `bin/mailroom-bench-floor.rs`: the floor, a minimal Redis-to-Gmail send loop.

use std::fmt::Write as _;

use serde::Deserialize;

/// The boundary google-apis-common's `MultiPartReader` puts between the
/// metadata and the media parts of an upload.
pub const UPLOAD_BOUNDARY: &str = "MDuXWGyeE33QFXGchb2VFWc4Z7945d";
/// The upload's Content-Type, as `MultiPartReader::mime_type` writes it.
pub const UPLOAD_CONTENT_TYPE: &str = "multipart/related;boundary=MDuXWGyeE33QFXGchb2VFWc4Z7945d";

/// The fields of a mailroom job the message is built from; the others
/// (`version`, `tags`, ...) are ignored.
#[derive(Deserialize)]
pub struct Job {
    /// The `From` mailbox, e.g. `Notifications <noreply@example.com>`.
    pub from: String,
    /// The `To` mailboxes.
    pub to: Vec<String>,
    /// The `Subject`.
    pub subject: String,
    /// The plain-text alternative.
    pub text: Option<String>,
    /// The HTML alternative.
    pub html: Option<String>,
}

/// The RFC 5322 message for `job`; `unique` (unique per message) is the
/// local part of its Message-ID and names its MIME boundary.
///
/// Header values are written as given (UTF-8 allowed, RFC 6532; no RFC 2047
/// encoding) and must not contain line breaks. Text and HTML are sent as
/// 8bit with CRLF line ends, which is valid while no line exceeds 998
/// octets (true of the benchmark's jobs).
pub fn message(job: &Job, unique: &str) -> Result<String, String> {
    let headers = [&job.from, &job.subject].into_iter().chain(&job.to);
    if headers.clone().any(|v| v.contains(['\r', '\n'])) {
        return Err("a header value contains a line break".to_owned());
    }
    if job.to.is_empty() {
        return Err("no recipients".to_owned());
    }
    let domain = job.from.rsplit('@').next().unwrap_or_default();
    let domain = domain.trim_end_matches('>');
    let boundary = format!("alt-{unique}");
    let size = headers.map(String::len).sum::<usize>()
        + job.text.as_ref().map_or(0, String::len)
        + job.html.as_ref().map_or(0, String::len);
    let mut m = String::with_capacity(size + 600);
    let _ = write!(
        m,
        "From: {}\r\nTo: {}\r\nSubject: {}\r\nDate: {}\r\nMessage-ID: <{unique}@{domain}>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n",
        job.from,
        job.to.join(",\r\n "),
        job.subject,
        chrono::Utc::now().to_rfc2822(),
    );
    for (media_type, content) in [("text/plain", &job.text), ("text/html", &job.html)] {
        if let Some(content) = content {
            let _ = write!(
                m,
                "--{boundary}\r\nContent-Type: {media_type}; charset=utf-8\r\n\
                 Content-Transfer-Encoding: 8bit\r\n\r\n"
            );
            push_crlf_lines(&mut m, content);
        }
    }
    let _ = write!(m, "--{boundary}--\r\n");
    Ok(m)
}

/// Appends `text` with every line ended by CRLF.
fn push_crlf_lines(out: &mut String, text: &str) {
    let mut rest = text;
    while let Some(end) = rest.find('\n') {
        let line = &rest[..end];
        out.push_str(line.strip_suffix('\r').unwrap_or(line));
        out.push_str("\r\n");
        rest = &rest[end + 1..];
    }
    if !rest.is_empty() {
        out.push_str(rest);
        out.push_str("\r\n");
    }
}

/// The `uploadType=multipart` body exactly as google-apis-common's
/// `MultiPartReader` writes it: `{}` metadata, then the message.
pub fn upload_body(raw: &str) -> Vec<u8> {
    let b = UPLOAD_BOUNDARY;
    let mut body = Vec::with_capacity(raw.len() + 256);
    let _ = std::io::Write::write_fmt(
        &mut body,
        format_args!(
            "\r\n--{b}\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{{}}\
             \r\n--{b}\r\ncontent-type: message/rfc822\r\ncontent-length: {}\r\n\r\n{raw}\
             \r\n--{b}--\r\n",
            raw.len()
        ),
    );
    body
}

/// Peak resident set size (`VmHWM`) in KiB and user plus system CPU time
/// (`utime` + `stime`) in milliseconds of process `pid` (`"self"` for this
/// one), read from /proc; 0 for what cannot be read.
pub fn usage(pid: &str) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let max_rss_kb = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the parenthesised command name start at field 3.
    let after_name = stat.rfind(')').map_or("", |i| &stat[i + 1..]);
    let ticks: u64 = after_name
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|f| f.parse::<u64>().ok())
        .sum();
    (max_rss_kb, ticks * 1000 / clock_ticks())
}

/// `CLK_TCK` as `getconf` reports it (sysconf needs unsafe code), else 100.
fn clock_ticks() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&ticks| ticks > 0)
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Job {
        serde_json::from_str(
            r#"{"version":"v1","from":"Notifications <noreply@example.com>",
                "to":["Customer 7 <customer7@example.org>"],"subject":"Your order #7 has shipped",
                "text":"Hello\nthere","html":"<p>Hello</p>\n","tags":["shipping"]}"#,
        )
        .unwrap()
    }

    #[test]
    fn message_has_headers_and_both_alternatives() {
        let m = message(&job(), "7.abc").unwrap();
        assert!(m.starts_with("From: Notifications <noreply@example.com>\r\nTo: Customer 7 <customer7@example.org>\r\nSubject: Your order #7 has shipped\r\nDate: "));
        assert!(m.contains("\r\nMessage-ID: <7.abc@example.com>\r\nMIME-Version: 1.0\r\n"));
        assert!(m.contains("8bit\r\n\r\nHello\r\nthere\r\n--alt-7.abc\r\n"));
        assert!(m.ends_with("<p>Hello</p>\r\n--alt-7.abc--\r\n"));
        assert!(!m.replace("\r\n", "").contains('\n'));
    }

    #[test]
    fn header_line_breaks_are_refused() {
        let mut job = job();
        job.subject.push_str("\r\nBcc: x@y.z");
        assert!(message(&job, "1").is_err());
    }

    #[test]
    fn upload_body_is_google_apis_commons_form() {
        let body = upload_body("To: a@b.c\r\n\r\nhi\r\n");
        let expected = format!(
            "\r\n--{b}\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{{}}\r\n--{b}\r\ncontent-type: message/rfc822\r\ncontent-length: 17\r\n\r\nTo: a@b.c\r\n\r\nhi\r\n\r\n--{b}--\r\n",
            b = UPLOAD_BOUNDARY
        );
        assert_eq!(String::from_utf8(body).unwrap(), expected);
    }

    #[test]
    fn process_figures_are_read() {
        let (rss, before) = usage("self");
        assert!(rss > 0);
        // Busy for about 100 ms of CPU: the reading must move.
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < std::time::Duration::from_millis(150) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let (_, after) = usage("self");
        assert!(after > before, "CPU time {before} ms → {after} ms");
    }
}
