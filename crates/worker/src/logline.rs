//! What a job's log line says about it: recipients masked, caller data (tags, metadata) cut
//! to [`ECHOED_BYTES`], an invalid job's reason cut to its field.

use mailroom_jobs::{Address, EmailJobV1};

/// Most bytes of a job's tags and metadata, together, that its log line carries: both are
/// the caller's data, and a producer must not be able to fill the logs with them.
pub const ECHOED_BYTES: usize = 256;

/// The job's tags and metadata for its log line: `a,b` and `k=v,k2=v2`, at most
/// [`ECHOED_BYTES`] in all (tags at most half of it), each cut with `…` when over.
pub fn echoed(v1: &EmailJobV1) -> (String, String) {
    let tags = clip(v1.tags.join(","), ECHOED_BYTES / 2);
    let metadata: Vec<String> = v1
        .metadata
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let metadata = clip(metadata.join(","), ECHOED_BYTES - tags.len());
    (tags, metadata)
}

/// `text` cut to at most `max` bytes on a character boundary, ending in `…` when cut.
fn clip(mut text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let ellipsis = '…'.len_utf8();
    if max < ellipsis {
        return String::new();
    }
    text.truncate(text.floor_char_boundary(max - ellipsis));
    text.push('…');
    text
}

/// Recipients for a log line: masked, at most three, then a count of the rest.
pub fn masked<'a>(recipients: impl Iterator<Item = &'a Address>) -> String {
    let all: Vec<String> = recipients.map(Address::masked).collect();
    match all.len() {
        0..=3 => all.join(","),
        n => format!("{},… (+{} more)", all[..3].join(","), n - 3),
    }
}

/// A dead-letter reason for logs: an invalid job's reason is cut to its field, since the
/// message may quote an address; the full reason is kept in the queue (`mailroom dead show`).
pub fn log_safe(reason: &str) -> String {
    match reason.strip_prefix("invalid job: ") {
        Some(rest) => format!("invalid job: {}", rest.split(": ").next().unwrap_or(rest)),
        None => reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_are_masked_and_capped() {
        let list: Vec<Address> = [
            "ann@a.example",
            "bob@b.example",
            "cy@c.example",
            "di@d.example",
            "ed@e.example",
        ]
        .iter()
        .map(|a| Address::parse(a).unwrap())
        .collect();
        assert_eq!(masked(list[..2].iter()), "a***@a.example,b***@b.example");
        assert_eq!(
            masked(list.iter()),
            "a***@a.example,b***@b.example,c***@c.example,… (+2 more)"
        );
    }

    #[test]
    fn invalid_job_reasons_are_cut_to_the_field_for_logs() {
        assert_eq!(
            log_safe("invalid job: from: sender eve@evil.example is not on the allowlist"),
            "invalid job: from"
        );
        assert_eq!(
            log_safe("gave up after 12 attempts: disk full"),
            "gave up after 12 attempts: disk full"
        );
    }

    #[test]
    fn tags_and_metadata_are_cut_to_256_bytes_in_all() {
        let job = mailroom_jobs::EmailJob::from_json(
            &serde_json::json!({
                "version": "v1", "from": "a@example.com", "to": ["b@example.com"], "subject": "s", "text": "t",
                "tags": ["é".repeat(100), "x".repeat(100)],
                "metadata": {"k": "v".repeat(1000)},
            })
            .to_string()
            .into_bytes(),
        )
        .unwrap();
        let (tags, metadata) = echoed(job.v1());
        assert!(tags.starts_with("éé") && tags.ends_with('…'), "{tags}");
        assert!(
            metadata.starts_with("k=vvv") && metadata.ends_with('…'),
            "{metadata}"
        );
        assert_eq!((tags.len(), metadata.len()), (127, 129));
        let small = mailroom_jobs::EmailJob::from_json(
            br#"{"version":"v1","from":"a@example.com","to":["b@example.com"],"subject":"s","text":"t","tags":["x"]}"#,
        )
        .unwrap();
        assert_eq!(echoed(small.v1()), ("x".to_owned(), String::new()));
    }
}
