//! Gmail answering 30 % of the sends with 503 and 10 % with 429 + `Retry-After`.

use std::time::{Duration, Instant};

use mailroom_testkit::google::{Endpoint, FakeGoogle, Fault, FaultRule};

use crate::common::report::Report;
use crate::common::{self, eventually};
use crate::{
    Size, assert_all_delivered_once, attempts_by_message, backing, enqueue, gmail_world,
    report_received, senders, wait_accepted,
};

/// The Retry-After the fake answers its 429s with.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// How much earlier than `t + Retry-After` a retry may arrive and still count as on time.
/// The fake stamps an attempt when the request arrives, before it answers; mailroom reads the
/// clock after the answer, so its `t` is later, and schedules the retry in whole
/// milliseconds (the due time is truncated to the millisecond). Both read the same system
/// clock, so a few milliseconds cover the truncation and nothing else.
const CLOCK_TOLERANCE: Duration = Duration::from_millis(5);

/// Gmail answering 30 % of the sends with 503 and 10 % with 429 + `Retry-After: 1`.
pub async fn flaky_gmail(cluster: bool, size: Size) {
    let started = Instant::now();
    let redis = backing(cluster);
    let mut report = Report::start("Gmail 503 / 429 + Retry-After", &redis);
    report.set("jobs", size.mails);
    let google = FakeGoogle::start();
    google.inject_all(FaultRule::one_of(
        Endpoint::Send,
        [
            (0.3, Fault::unavailable()),
            (0.1, Fault::rate_limited(RETRY_AFTER)),
        ],
    ));
    let senders = senders(size.senders);
    // A mail fails with 503 at one attempt in three that reach a verdict (0.3 of 0.9): twelve
    // in a row, and so a dead letter by the default `max_attempts`, would come once in
    // 3^12 ≈ 530,000 mails. Twenty attempts make that one in 3.5 billion, so a dead letter
    // here is a fault of mailroom's, not bad luck.
    let env = gmail_world(&google, redis, &senders, 20);
    let queue = env.queue().await;
    let mails = enqueue(&queue, &senders, size.mails, "flaky").await;
    let mut worker = env.worker("w1", &[]);
    wait_accepted(&google, &mut worker, mails.len(), Duration::from_secs(240)).await;
    // Nothing more may arrive: wait until Redis has recorded every outcome.
    eventually(Duration::from_secs(20), "every outcome recorded", || {
        common::idle(&queue)
    })
    .await;
    worker.stop();
    let elapsed = started.elapsed();
    report_received(&mut report, &google);
    report.set("dead", common::stats(&queue).await.dead);

    assert_all_delivered_once(&google, &queue, &mails).await;
    let log = google.send_log();
    let statuses = google.responses_by_status();
    let count = |code| statuses.get(&code).copied().unwrap_or(0);
    let (ok, unavailable, limited) = (count(200), count(503), count(429));
    assert_eq!(
        ok + unavailable + limited,
        log.len() as u64,
        "every attempt was answered 200, 503 or 429: {statuses:?}"
    );
    assert!(
        unavailable > 0 && limited > 0,
        "both faults came up: {statuses:?}"
    );

    // A 503 spends one of the job's attempts, a 429 none; a job held while its sender was
    // paused spends none either.
    let by_message = attempts_by_message(&log);
    for mail in &mails {
        let attempts = &by_message[mail.message_id.as_str()];
        let failed = attempts.iter().filter(|a| a.status == Some(503)).count();
        let status = queue.status(mail.id).await.unwrap().expect("a status");
        assert_eq!(status.attempts as usize, failed, "{}", mail.message_id);
        assert_eq!(attempts.last().unwrap().status, Some(200));
    }

    // No retry before the Retry-After a 429 gave.
    let mut min_gap: Option<Duration> = None;
    for attempts in by_message.values() {
        for pair in attempts.windows(2) {
            let (refused, next) = (pair[0], pair[1]);
            if refused.status != Some(429) {
                continue;
            }
            let after = refused.retry_after.expect("a 429 with Retry-After");
            assert_eq!(after, RETRY_AFTER);
            let gap = next.at.duration_since(refused.at).unwrap_or_default();
            assert!(
                gap + CLOCK_TOLERANCE >= after,
                "{} was retried {gap:?} after a 429 with Retry-After {after:?}",
                refused.message_id.as_deref().unwrap_or_default()
            );
            min_gap = Some(min_gap.map_or(gap, |m| m.min(gap)));
        }
    }
    report.set(
        "notes",
        format!(
            "{} attempts: {unavailable} × 503, {limited} × 429",
            log.len()
        ),
    );
    eprintln!(
        "flaky gmail ({}, {} mails, {} senders): {} attempts, {ok} accepted, {unavailable} × 503, \
         {limited} × 429, shortest retry after a 429 {min_gap:?} (Retry-After {RETRY_AFTER:?}), \
         {elapsed:?}",
        if cluster { "cluster" } else { "single Redis" },
        size.mails,
        size.senders,
        log.len(),
    );
}
