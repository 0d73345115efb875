//! Ambiguous sends: Gmail accepts 5 % of the sends and then drops the connection, so mailroom
//! cannot know they went out. The same run twice, `gmail.check_before_resend` off then on:
//! off, each dropped answer makes a duplicate (the retry sends the message again); on, the
//! retry finds the message in the sender's SENT and records it as sent, and no recipient gets
//! a message twice.

use std::time::{Duration, Instant};

use mailroom_jobs::JobId;
use mailroom_queue::JobState;
use mailroom_testkit::RedisServer;
use mailroom_testkit::google::{FakeGoogle, Fault, FaultRule};

use crate::common::google::Tally;
use crate::common::report::Report;
use crate::common::{self, Backing, eventually};
use crate::{enqueue, gmail_world, senders};

/// The share of sends Gmail accepts and then answers with a dropped connection.
const DROPPED: f64 = 0.05;

/// How many mails, from how many senders: 1,000 by default, 10,000 with
/// `MAILROOM_FAULTS=full`.
pub fn size() -> (usize, usize) {
    if common::faults_full() {
        (10_000, 100)
    } else {
        (1_000, 20)
    }
}

/// The duplicates of one run of `mails` mails with the check off or on.
async fn run(mails: usize, senders_n: usize, check: bool) -> usize {
    let started = Instant::now();
    let redis = Backing::Server(RedisServer::start());
    let scenario = format!(
        "Gmail drops {:.0} % after accepting, check_before_resend {}",
        DROPPED * 100.0,
        if check { "on" } else { "off" }
    );
    let mut report = Report::start(&scenario, &redis);
    report.set("jobs", mails);
    let google = FakeGoogle::start();
    google.inject(FaultRule::send(Fault::DropConnection).with_probability(DROPPED));
    let senders = senders(senders_n);
    let mut env = gmail_world(&google, redis, &senders, 20);
    env.vars.push((
        "MAILROOM__GMAIL__CHECK_BEFORE_RESEND".to_owned(),
        check.to_string(),
    ));
    let queue = env.queue().await;
    let enqueued = enqueue(&queue, &senders, mails, "ambiguous").await;
    let mut worker = env.worker("w1", &[]);
    eventually(
        Duration::from_secs(600),
        &format!("{mails} mails accepted"),
        || {
            worker.assert_running();
            let unique = Tally::of(&google).unique();
            async move { unique >= mails }
        },
    )
    .await;
    eventually(Duration::from_secs(60), "every outcome recorded", || {
        common::idle(&queue)
    })
    .await;
    worker.stop();
    let tally = Tally::of(&google);
    report.tally(&tally);
    let stats = common::stats(&queue).await;
    report.set("dead", stats.dead);
    let ids: Vec<JobId> = enqueued.iter().map(|m| m.id).collect();
    let sent = common::states(&queue, &ids)
        .await
        .into_iter()
        .filter(|s| *s == Some(JobState::Sent))
        .count();
    let dropped = google
        .send_log()
        .iter()
        .filter(|a| a.status.is_none())
        .count();
    let reads = google.read_calls();
    report.set(
        "notes",
        format!(
            "{dropped} answers dropped; {} messages.list and {} messages.get calls",
            reads.lists, reads.gets
        ),
    );
    eprintln!(
        "{scenario}: {mails} mails from {senders_n} senders, {dropped} answers dropped after \
         accepting, {} received, {} duplicates, {} list and {} get calls, {:?}",
        tally.received,
        tally.duplicates(),
        reads.lists,
        reads.gets,
        started.elapsed()
    );
    assert_eq!(sent, mails, "every job recorded as sent");
    assert_eq!(tally.unique(), mails, "every mail went out");
    assert_eq!(stats.dead, 0, "nothing dead-lettered");
    assert!(dropped > 0, "the fault came up");
    if !check {
        assert_eq!(
            reads,
            Default::default(),
            "no look into SENT with the check off"
        );
    }
    tally.duplicates()
}

/// The run with the check off, then on: on, no duplicate.
pub async fn ambiguous_sends() {
    let (mails, senders) = size();
    let off = run(mails, senders, false).await;
    let on = run(mails, senders, true).await;
    println!(
        "duplicates after answers dropped after accepting ({mails} mails): \
         {off} with gmail.check_before_resend off, {on} with it on"
    );
    assert!(
        off > 0,
        "with the check off the dropped answers make duplicates"
    );
    assert_eq!(on, 0, "with the check on no mail goes out twice");
}
