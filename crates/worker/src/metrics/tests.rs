use mailroom_jobs::SenderAllowlist;

use super::*;

fn metrics() -> Metrics {
    let allowlist = SenderAllowlist::new(["Ops@Example.com", "*@example.org"]).unwrap();
    Metrics::new(Some(&allowlist), TransportKind::Outbox)
}

/// The value of the sample `name` (with its labels, as printed), if present.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

/// Asserts the value of every sample `name` in `text`.
fn assert_samples(text: &str, expected: &[(&str, f64)]) {
    for (name, value) in expected {
        assert_eq!(sample(text, name), Some(*value), "{name}\n{text}");
    }
}

#[test]
fn known_label_values_start_at_zero() {
    let text = metrics().render();
    for outcome in Outcome::ALL.map(Outcome::as_str) {
        let name = format!("mailroom_jobs_completed_total{{outcome=\"{outcome}\"}}");
        assert_eq!(sample(&text, &name), Some(0.0), "{name}\n{text}");
    }
    for reason in FailureReason::ALL.map(FailureReason::as_str) {
        let name = format!("mailroom_gmail_errors_total{{reason=\"{reason}\"}}");
        assert_eq!(sample(&text, &name), Some(0.0), "{name}");
    }
    for state in QueueState::ALL.map(QueueState::as_str) {
        let name = format!("mailroom_queue_jobs{{state=\"{state}\"}}");
        assert_eq!(sample(&text, &name), Some(0.0), "{name}");
    }
    assert_eq!(
        sample(
            &text,
            "mailroom_oauth_token_refreshes_total{outcome=\"error\"}"
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &text,
            "mailroom_send_duration_seconds_count{transport=\"outbox\"}"
        ),
        Some(0.0)
    );
    assert_eq!(sample(&text, "mailroom_duplicate_sends_total"), Some(0.0));
    assert!(
        !text.contains("mailroom_jobs_enqueued_total "),
        "absent until read from Redis"
    );
    let info = format!(
        "mailroom_build_info{{revision=\"{REVISION}\",version=\"{}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(sample(&text, &info), Some(1.0), "{text}");
}

#[test]
fn outcomes_attempts_and_in_flight_are_recorded() {
    let m = metrics();
    m.job_started();
    let guard = m.in_flight();
    m.job_finished(Outcome::Sent, 1);
    m.job_finished(Outcome::Retried, 1);
    m.job_finished(Outcome::Dead, 4);
    m.send_duration(TransportKind::Outbox, 0.003);
    let text = m.render();
    assert_eq!(sample(&text, "mailroom_jobs_in_flight"), Some(1.0));
    drop(guard);
    let text = m.render();
    assert_samples(
        &text,
        &[
            ("mailroom_jobs_in_flight", 0.0),
            ("mailroom_jobs_started_total", 1.0),
            ("mailroom_jobs_completed_total{outcome=\"retried\"}", 1.0),
            ("mailroom_job_attempts_count", 2.0),
            ("mailroom_job_attempts_bucket{le=\"3\"}", 1.0),
            ("mailroom_job_attempts_bucket{le=\"5\"}", 2.0),
            (
                "mailroom_send_duration_seconds_bucket{transport=\"outbox\",le=\"0.005\"}",
                1.0,
            ),
        ],
    );
    assert!(
        !text.contains("transport=\"gmail\""),
        "only the configured transport"
    );
}

#[test]
fn only_exactly_listed_senders_become_labels() {
    let m = metrics();
    assert_eq!(m.sender_label("OPS@example.com"), "ops@example.com");
    assert_eq!(m.sender_label("Ops <ops@example.com>"), "ops@example.com");
    assert_eq!(m.sender_label("news@example.org"), OTHER_SENDER);
    m.sender_quarantined("ops@example.com", true);
    m.sender_quarantined("a@example.org", true);
    m.sender_quarantined("b@example.org", true);
    m.sender_quarantined("a@example.org", false);
    m.sender_quota_remaining("Ops <ops@example.com>", QuotaWindow::Minute, 149.0);
    m.sender_quota_remaining("news@example.org", QuotaWindow::Day, 1.0);
    m.gmail_error(FailureReason::Other);
    m.gmail_error(FailureReason::InvalidGrant);
    m.token_refresh(TokenOutcome::Error);
    let text = m.render();
    assert_eq!(
        sample(
            &text,
            "mailroom_sender_quarantined{sender=\"ops@example.com\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "mailroom_sender_quarantined{sender=\"other\"}"),
        Some(1.0),
        "b@example.org is still quarantined"
    );
    m.sender_quarantined("b@example.org", false);
    assert_eq!(
        sample(&m.render(), "mailroom_sender_quarantined{sender=\"other\"}"),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &text,
            "mailroom_sender_quota_remaining{sender=\"ops@example.com\",window=\"minute\"}"
        ),
        Some(149.0)
    );
    assert!(!text.contains("example.org"));
    assert_eq!(
        sample(
            &text,
            "mailroom_sender_quota_remaining{sender=\"other\",window=\"day\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "mailroom_gmail_errors_total{reason=\"other\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "mailroom_gmail_errors_total{reason=\"invalid_grant\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "mailroom_oauth_token_refreshes_total{outcome=\"error\"}"
        ),
        Some(1.0)
    );
}

#[test]
fn queue_stats_set_the_gauges_and_the_mirrored_counter() {
    let m = metrics();
    let at = chrono::DateTime::from_timestamp_millis(1_700_000_000_500).unwrap();
    let stats = QueueStats {
        ready: 3,
        scheduled: 2,
        in_flight: 1,
        dead: 4,
        oldest_ready_age: None,
        oldest_ready_at: Some(at),
        workers: 1,
        enqueued: 42,
    };
    m.queue_stats(&stats);
    m.queue_stats(&stats);
    assert_samples(
        &m.render(),
        &[
            ("mailroom_jobs_enqueued_total", 42.0),
            ("mailroom_queue_jobs{state=\"dead\"}", 4.0),
            (
                "mailroom_queue_oldest_ready_timestamp_seconds",
                1_700_000_000.5,
            ),
        ],
    );
}
