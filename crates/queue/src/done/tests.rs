//! The done records' encoding, read back as their hash fields.

use super::*;

/// A job id of 2025-12-03.
const ID: &str = "01KBH9Z0000000000000000000";

#[test]
fn the_bucket_is_the_second_of_the_ulid() {
    let id = mailroom_jobs::JobId::new();
    assert_eq!(second_of(&id.to_string()), id.timestamp_ms() / 1000);
    assert_eq!(
        second_of(&id.to_string().to_lowercase()),
        id.timestamp_ms() / 1000
    );
    assert_eq!(second_of("not-a-ulid"), 0);
}

#[test]
fn a_sent_record_reads_back_as_its_hash_fields() {
    let kept = Kept {
        meta: Some(r#"{"tags":["t"]}"#.to_owned()),
        expires_ms: Some(9),
    };
    let rec = SentRecord {
        id: ID,
        finished_ms: 1_764_748_543_123,
        deliveries: 2,
        attempts: 1,
        created_ms: 1_764_748_540_000,
        transport_id: "m1",
        thread_id: "",
        sent_as: "b@example.com",
        suppressed: Some(r#"[{"address":"x@example.com"}]"#),
        kept: &kept,
    };
    let v = rec.encode();
    assert_eq!(
        v,
        r#"[1,9847955,2,1,9844832,"m1","",{"a":"b@example.com","m":{"tags":["t"]},"s":[{"address":"x@example.com"}],"x":9}]"#
    );
    assert_eq!(state_of(v.as_bytes()), Some("sent"));
    let h = fields(ID, v.as_bytes());
    assert_eq!(h["state"], "sent");
    assert_eq!(h["finished_at"], "1764748543123");
    assert_eq!(h["deliveries"], "2");
    assert_eq!(h["attempts"], "1");
    assert_eq!(h["transport_id"], "m1");
    assert!(!h.contains_key("thread_id"));
    assert_eq!(h["sent_as"], "b@example.com");
    assert_eq!(h["suppressed"], r#"[{"address":"x@example.com"}]"#);
    assert_eq!(h["meta"], r#"{"tags":["t"]}"#);
    assert_eq!(h["expires_at"], "9");
}

#[test]
fn a_plain_sent_record_is_short() {
    let base = ulid_ms(ID);
    let rec = SentRecord {
        id: ID,
        finished_ms: base + 1523,
        deliveries: 1,
        attempts: 0,
        created_ms: base + 12,
        transport_id: "18c2f3a4b5c6d7e8",
        thread_id: "18c2f3a4b5c6d7e8",
        sent_as: "",
        suppressed: None,
        kept: &Kept::default(),
    };
    let v = rec.encode();
    assert_eq!(v, r#"[1,1523,1,0,12,"18c2f3a4b5c6d7e8",0]"#);
    let h = fields(ID, v.as_bytes());
    assert_eq!(h["thread_id"], "18c2f3a4b5c6d7e8");
    assert_eq!(h["created_at"], (base + 12).to_string());
}

#[test]
fn ids_that_need_escapes_read_back_as_written() {
    for odd in ["a\"b", "back\\slash", "line\nend", "tab\there", "é\u{1}"] {
        let rec = SentRecord {
            id: ID,
            finished_ms: 0,
            deliveries: 1,
            attempts: 0,
            created_ms: 0,
            transport_id: odd,
            thread_id: "t",
            sent_as: odd,
            suppressed: None,
            kept: &Kept::default(),
        };
        let v = rec.encode();
        assert!(serde_json::from_str::<Json>(&v).is_ok(), "{v}");
        let h = fields(ID, v.as_bytes());
        assert_eq!(h["transport_id"], odd);
        assert_eq!(h["sent_as"], odd);
    }
}

#[test]
fn an_expired_record_names_its_error() {
    let h = fields(ID, br#"[2,5,1,0,4,"","",{"x":3}]"#);
    assert_eq!(h["state"], "expired");
    assert_eq!(h["last_error"], EXPIRED_ERROR);
    assert_eq!(h["expires_at"], "3");
    assert_eq!(h["finished_at"], (ulid_ms(ID) + 5).to_string());
    assert!(fields(ID, b"nonsense").is_empty());
}
