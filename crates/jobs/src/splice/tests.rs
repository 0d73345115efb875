//! The spliced message is byte for byte lettre's own.

use chrono::{DateTime, TimeZone, Utc};

use super::{Bodies, placeholder, splice, wrapped_len};
use crate::{Address, Attachment, EmailJobV1, message_id_for};

fn date() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 4, 3, 2, 1).unwrap()
}

/// Bytes that are not text, `len` of them.
fn content(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 256) as u8).collect()
}

fn job(attachments: Vec<Attachment>, html: bool) -> EmailJobV1 {
    let mut builder = EmailJobV1::builder(Address::parse("Zoë <zoe@example.com>").unwrap())
        .to(Address::parse("b@example.com").unwrap())
        .subject("Grüße")
        .text("Hello,\nthe files.\n");
    if html {
        builder = builder.html("<p>Hello, <img src=\"cid:logo\"></p>");
    }
    for attachment in attachments {
        builder = builder.attachment(attachment);
    }
    builder.build_v1()
}

/// `job` formatted three ways with the same MIME boundaries (lettre draws them from
/// fastrand's thread-local generator): rendered, spliced here from its placeholders, and by
/// lettre with the bodies encoded by lettre.
fn rendered_spliced_and_lettres(job: &EmailJobV1) -> [Vec<u8>; 3] {
    let message_id = message_id_for(&job.id, &job.from);
    let lettre = |bodies: &Bodies| job.message(date(), &message_id, bodies).unwrap();
    fastrand::seed(17);
    let rendered = job.render(date()).unwrap().bytes;
    fastrand::seed(17);
    let skeleton = lettre(&Bodies::Placeholders { nonce: "N".into() });
    let contents: Vec<&[u8]> = job.attachments.iter().map(|a| &a.content[..]).collect();
    let spliced = splice(&skeleton, "N", &contents).expect("every placeholder once");
    fastrand::seed(17);
    [rendered, spliced, lettre(&Bodies::Encoded)]
}

#[test]
fn a_message_with_attachments_of_any_size_is_lettres_own_byte_for_byte() {
    let sizes = [
        0, 1, 2, 3, 4, 56, 57, 58, 113, 114, 115, 171, 1_000, 5_701, 57_000, 100_003,
    ];
    let single = sizes.iter().map(|&n| {
        job(
            vec![Attachment::new(
                "f.bin",
                "application/octet-stream",
                content(n),
            )],
            false,
        )
    });
    let several = job(
        sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| Attachment::new(format!("f{i}.bin"), "application/pdf", content(n)))
            .collect(),
        false,
    );
    let inline_and_attached = job(
        vec![
            Attachment::new("logo.png", "image/png", content(4_001)).inline("logo"),
            Attachment::new("résumé.pdf", "application/pdf", content(58)),
            Attachment::new("notes.txt", "text/plain", "a,b\n1,2\n"),
        ],
        true,
    );
    let none = job(Vec::new(), true);
    for job in single.chain([several, inline_and_attached, none]) {
        let [rendered, spliced, whole] = rendered_spliced_and_lettres(&job);
        assert!(
            spliced == whole,
            "{} attachments: spliced\n{}\nlettre\n{}",
            job.attachments.len(),
            String::from_utf8_lossy(&spliced),
            String::from_utf8_lossy(&whole)
        );
        assert!(rendered == whole, "{} attachments", job.attachments.len());
        assert_eq!(
            spliced.capacity(),
            spliced.len(),
            "one buffer of the exact size"
        );
    }
}

#[test]
fn the_wrapped_length_is_that_of_the_encoding() {
    for len in 0..400 {
        let mut out = Vec::new();
        super::encode_wrapped(&content(len), &mut out);
        assert_eq!(out.len(), wrapped_len(len), "{len} bytes");
    }
}

#[test]
fn a_placeholder_found_twice_or_not_at_all_is_not_spliced() {
    let mark = placeholder("N", 0);
    let twice = format!("a{mark}b{mark}c");
    assert_eq!(splice(twice.as_bytes(), "N", &[b"x"]), None);
    assert_eq!(splice(b"abc", "N", &[b"x"]), None);
    let once = format!("a{mark}b");
    assert_eq!(
        splice(once.as_bytes(), "N", &[b"xyz"]),
        Some(b"aeHl6b".to_vec())
    );
}
