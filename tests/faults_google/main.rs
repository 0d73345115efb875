//! Google misbehaving under load, end to end: the real `mailroom` binary, a real Redis (a
//! single server, then a 3-node cluster) and the fake Google with faults injected.
//!
//! * Gmail failing 30 % of the sends with 503 and 10 % with 429 + `Retry-After`: every mail
//!   goes out exactly once, none is dead-lettered, a 503 spends one of the job's attempts, a
//!   429 none, and no send is retried before the `Retry-After` it was given.
//! * The token endpoint down for several seconds while mail is queued and the access tokens
//!   expire: sends wait and resume, nothing is dead-lettered or sent twice, the endpoint sees
//!   a bounded number of retries, and the worker stays up.
//! * Gmail accepting 5 % of the sends and dropping the connection before answering, with
//!   `gmail.check_before_resend` off (each such send goes out twice) and on (none does):
//!   1,000 mails, 10,000 at full size.
//!
//! The sizes are small enough for every CI run in a debug build; `MAILROOM_FAULTS=full`
//! runs them at full size (see [`Size`]).

mod ambiguous;
#[path = "../common/mod.rs"]
mod common;
mod flaky;
mod token_outage;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::google::gmail_env_on;
use common::report::Report;
use common::{Backing, Env, eventually, stats};
use flaky::flaky_gmail;
use mailroom_jobs::{EmailJob, JobId, message_id_for};
use mailroom_queue::{JobState, Queue};
use mailroom_testkit::google::{FakeGoogle, Quota, SendAttempt};
use mailroom_testkit::{RedisCluster, RedisServer};
use token_outage::token_outage;

/// How many mails a scenario sends, and from how many senders.
#[derive(Debug, Clone, Copy)]
struct Size {
    mails: usize,
    senders: usize,
}

/// The sizes for a single Redis and for a cluster: small by default, large with
/// `MAILROOM_FAULTS=full`.
///
/// A 429 pauses its sender for the `Retry-After` (one second), so one sender delivers only a
/// handful of mails a second under 10 % of 429s; the mails are spread over many senders, so
/// the pauses overlap.
fn sizes() -> (Size, Size) {
    if common::faults_full() {
        (
            Size {
                mails: 5_000,
                senders: 50,
            },
            Size {
                mails: 1_500,
                senders: 25,
            },
        )
    } else {
        (
            Size {
                mails: 400,
                senders: 20,
            },
            Size {
                mails: 150,
                senders: 10,
            },
        )
    }
}

/// The Redis of a world: its own single server, or its own 3-node cluster.
fn backing(cluster: bool) -> Backing {
    if cluster {
        Backing::Cluster(RedisCluster::start())
    } else {
        Backing::Server(RedisServer::start())
    }
}

/// The senders of a world: `sender0@example.com`, `sender1@…`, …
fn senders(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("sender{i}@example.com")).collect()
}

/// A Gmail world on `redis` whose worker also sends as `senders` (Workspace users of the
/// fake) and gives a failing job `max_attempts`. Neither the fake nor mailroom limits the
/// senders' quota: these scenarios are about the faults injected.
fn gmail_world(google: &FakeGoogle, redis: Backing, senders: &[String], max_attempts: u32) -> Env {
    for sender in senders {
        google.add_domain_user(sender);
    }
    google.set_quota(Quota::unlimited());
    let mut env = gmail_env_on(
        redis,
        google,
        "[quota]\nsender_per_minute = 100000\nsender_per_day = 1000000\n\
         project_per_minute = 1000000\n",
    );
    env.vars.push((
        "MAILROOM__RETRY__MAX_ATTEMPTS".to_owned(),
        max_attempts.to_string(),
    ));
    env
}

/// One enqueued mail: its job id and the `Message-ID` every attempt carries (without the
/// angle brackets, as the fake logs it).
struct Mail {
    id: JobId,
    message_id: String,
}

/// Enqueues `n` mails spread round-robin over `senders`, in batches.
async fn enqueue(queue: &Queue, senders: &[String], n: usize, tag: &str) -> Vec<Mail> {
    let jobs: Vec<EmailJob> = (0..n)
        .map(|i| {
            common::job(
                &senders[i % senders.len()],
                &format!("{tag}{i}@example.org"),
                tag,
            )
        })
        .collect();
    let mut mails = Vec::with_capacity(n);
    for chunk in jobs.chunks(500) {
        let enqueued = queue.enqueue_many(chunk).await.expect("enqueue");
        for (job, e) in chunk.iter().zip(enqueued) {
            let id = message_id_for(&e.id, &job.v1().from);
            mails.push(Mail {
                id: e.id,
                message_id: id.trim_start_matches('<').trim_end_matches('>').to_owned(),
            });
        }
    }
    mails
}

/// What the fake accepted, counted by `Message-ID`.
struct Received {
    accepted: usize,
    unique: usize,
}

impl Received {
    fn of(google: &FakeGoogle) -> Self {
        let ids: Vec<String> = google
            .send_log()
            .into_iter()
            .filter(|a| a.status == Some(200))
            .map(|a| a.message_id.expect("every accepted mail has a Message-ID"))
            .collect();
        let unique = ids.iter().collect::<BTreeSet<_>>().len();
        Self {
            accepted: ids.len(),
            unique,
        }
    }
}

/// Sets what the fake accepted in a scenario's report: received, unique, duplicates.
fn report_received(report: &mut Report, google: &FakeGoogle) {
    let received = Received::of(google);
    report.set("received", received.accepted);
    report.set("unique", received.unique);
    report.set("duplicates", received.accepted - received.unique);
}

/// Waits until the fake has accepted `n` sends (failing early if the worker exits).
async fn wait_accepted(
    google: &FakeGoogle,
    worker: &mut common::Worker,
    n: usize,
    within: Duration,
) {
    eventually(within, &format!("{n} mails accepted"), || {
        worker.assert_running();
        let accepted = Received::of(google).accepted;
        async move { accepted >= n }
    })
    .await;
}

/// The exact outcome every scenario ends with: each mail accepted exactly once (the same
/// `Message-ID` never twice, none missing), nothing dead, nothing left in Redis, every job
/// recorded as sent.
async fn assert_all_delivered_once(google: &FakeGoogle, queue: &Queue, mails: &[Mail]) {
    let received = Received::of(google);
    assert_eq!(received.accepted, mails.len(), "mails accepted by Gmail");
    assert_eq!(
        received.unique,
        mails.len(),
        "distinct Message-IDs accepted"
    );
    assert_eq!(received.accepted - received.unique, 0, "duplicates");
    let expected: BTreeSet<&str> = mails.iter().map(|m| m.message_id.as_str()).collect();
    let accepted: BTreeSet<String> = google
        .sent()
        .iter()
        .map(|m| {
            mail_parser::MessageParser::default()
                .parse(&m.raw)
                .and_then(|p| p.message_id().map(str::to_owned))
                .expect("a Message-ID")
        })
        .collect();
    assert_eq!(
        accepted.iter().map(String::as_str).collect::<BTreeSet<_>>(),
        expected,
        "exactly the enqueued mails went out"
    );
    let stats = stats(queue).await;
    assert_eq!(
        (stats.ready, stats.scheduled, stats.in_flight, stats.dead),
        (0, 0, 0, 0),
        "nothing ready, scheduled, in flight or dead: {stats:?}"
    );
    let ids: Vec<JobId> = mails.iter().map(|m| m.id).collect();
    let sent = common::states(queue, &ids)
        .await
        .into_iter()
        .filter(|s| *s == Some(JobState::Sent))
        .count();
    assert_eq!(sent, mails.len(), "jobs recorded as sent");
}

/// The send attempts of each `Message-ID`, in the order they arrived.
fn attempts_by_message(log: &[SendAttempt]) -> BTreeMap<&str, Vec<&SendAttempt>> {
    let mut by_message: BTreeMap<&str, Vec<&SendAttempt>> = BTreeMap::new();
    for attempt in log {
        let id = attempt
            .message_id
            .as_deref()
            .expect("every attempt carries a Message-ID");
        by_message.entry(id).or_default().push(attempt);
    }
    by_message
}

#[tokio::test(flavor = "multi_thread")]
async fn gmail_failing_often_delivers_everything_once_and_honours_retry_after() {
    flaky_gmail(false, sizes().0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn token_endpoint_outage_holds_sends_then_resumes() {
    token_outage(false, sizes().0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_cluster_gmail_failing_often_delivers_everything_once() {
    flaky_gmail(true, sizes().1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_cluster_a_token_endpoint_outage_holds_sends_then_resumes() {
    token_outage(true, sizes().1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_dropped_after_accepting_make_no_duplicate_with_the_check_before_resend() {
    ambiguous::ambiguous_sends().await;
}
