//! Google misbehaving under load, end to end: the real `mailroom` binary, a real Redis (a
//! single server, then a 3-node cluster) and the fake Google with faults injected.
//!
//! * Gmail failing 30 % of the sends with 503 and 10 % with 429 + `Retry-After`: every mail
//!   goes out exactly once, none is dead-lettered, a 503 spends one of the job's attempts, a
//!   429 none, and no send is retried before the `Retry-After` it was given.
//! * The token endpoint down for several seconds while mail is queued and the access tokens
//!   expire: sends wait and resume, nothing is dead-lettered or sent twice, the endpoint sees
//!   a bounded number of retries, and the worker stays up.
//!
//! The sizes are small enough for every CI run in a debug build; `MAILROOM_FAULTS=full`
//! runs them at full size (see [`Size`]).

#[path = "../common/mod.rs"]
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime};

use common::google::gmail_env_on;
use common::{Backing, Env, eventually, stats};
use mailroom_jobs::{EmailJob, JobId, message_id_for};
use mailroom_queue::{JobState, Queue};
use mailroom_testkit::google::{Endpoint, FakeGoogle, Fault, FaultRule, Quota, SendAttempt};
use mailroom_testkit::{RedisCluster, RedisServer};
use mailroom_worker::credentials::REFRESH_RETRY;

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

/// The Retry-After the fake answers its 429s with.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// How much earlier than `t + Retry-After` a retry may arrive and still count as on time.
/// The fake stamps an attempt when the request arrives, before it answers; mailroom reads the
/// clock after the answer, so its `t` is later, and schedules the retry in whole
/// milliseconds (the due time is truncated to the millisecond). Both read the same system
/// clock, so a few milliseconds cover the truncation and nothing else.
const CLOCK_TOLERANCE: Duration = Duration::from_millis(5);

/// Gmail answering 30 % of the sends with 503 and 10 % with 429 + `Retry-After: 1`.
async fn flaky_gmail(cluster: bool, size: Size) {
    let started = Instant::now();
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
    let env = gmail_world(&google, backing(cluster), &senders, 20);
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

/// How long access tokens live in the token-outage scenario; mailroom refreshes a token once
/// three quarters of its life have passed.
const TOKEN_LIFETIME: Duration = Duration::from_secs(2);

/// The token endpoint down for `outage` (longer than [`TOKEN_LIFETIME`]) while mail is queued
/// and every access token expires.
async fn token_outage(cluster: bool, size: Size, outage: Duration) {
    let started = Instant::now();
    let google = FakeGoogle::start();
    google.set_token_lifetime(TOKEN_LIFETIME);
    let senders = senders(size.senders);
    // The default twelve attempts: a token outage spends none of them.
    let env = gmail_world(&google, backing(cluster), &senders, 12);
    let queue = env.queue().await;
    let mut worker = env.worker("w1", &[]);

    // Every sender has a token before the outage.
    let mut mails = enqueue(&queue, &senders, size.senders, "before").await;
    wait_accepted(&google, &mut worker, mails.len(), Duration::from_secs(30)).await;

    google.inject(FaultRule::token(Fault::unavailable()));
    let down = SystemTime::now();
    // Half the mail is queued as the outage begins (some of it may still go out with the
    // tokens minted before), half once those tokens have expired: the worker has to refresh
    // them, and cannot.
    let during = size.mails - size.senders;
    mails.extend(enqueue(&queue, &senders, during / 2, "early").await);
    tokio::time::sleep(TOKEN_LIFETIME).await;
    mails.extend(enqueue(&queue, &senders, during - during / 2, "late").await);
    let remaining = outage.saturating_sub(down.elapsed().unwrap_or_default());
    eventually(remaining, "a refresh refused during the outage", || {
        let refused = google.token_grants().iter().any(|g| g.at >= down && !g.ok);
        async move { refused }
    })
    .await;
    let remaining = outage.saturating_sub(down.elapsed().unwrap_or_default());
    tokio::time::sleep(remaining).await;
    worker.assert_running();
    let held_back = mails.len() - Received::of(&google).accepted;
    google.clear_faults();
    let up = SystemTime::now();
    assert!(held_back > 0, "the outage held mail back");
    let stuck = stats(&queue).await;
    assert_eq!(stuck.dead, 0, "dead letters during the outage: {stuck:?}");

    wait_accepted(&google, &mut worker, mails.len(), Duration::from_secs(60)).await;
    eventually(Duration::from_secs(20), "every outcome recorded", || {
        common::idle(&queue)
    })
    .await;
    worker.assert_running();
    worker.stop();
    let elapsed = started.elapsed();

    assert_all_delivered_once(&google, &queue, &mails).await;
    let grants = google.token_grants();
    let during: Vec<_> = grants
        .iter()
        .filter(|g| g.at >= down && g.at < up)
        .collect();
    let refused = during.iter().filter(|g| g.status == Some(503)).count();
    assert_eq!(
        refused,
        during.len(),
        "every token request in the outage was refused"
    );
    // Refused refreshes are retried, but however many of a sender's jobs are waiting, at most
    // once per REFRESH_RETRY for that sender (plus the one a period that began before the
    // outage may add).
    let mut per_sender: BTreeMap<&str, usize> = BTreeMap::new();
    for grant in &during {
        *per_sender
            .entry(grant.subject.as_deref().expect("the impersonated sender"))
            .or_default() += 1;
    }
    let most = per_sender.values().copied().max().unwrap_or(0);
    let outage_secs = up.duration_since(down).unwrap().as_secs_f64();
    let periods = (outage_secs / REFRESH_RETRY.as_secs_f64()).ceil() as usize;
    assert!(
        most >= 2 && most <= periods + 1,
        "a sender's refresh was tried {most} times in a {outage_secs:.1} s outage (at most \
         {}): {per_sender:?}",
        periods + 1
    );
    assert!(
        refused <= size.senders * (periods + 1),
        "{refused} token requests"
    );
    assert!(
        grants.iter().filter(|g| g.at >= up).all(|g| g.ok),
        "every refresh after the outage succeeded"
    );
    let mut spent = Vec::with_capacity(mails.len());
    for mail in &mails {
        spent.push(
            queue
                .status(mail.id)
                .await
                .unwrap()
                .expect("a status")
                .attempts,
        );
    }
    assert!(
        spent.iter().all(|&n| n == 0),
        "a token outage spends no attempt: {spent:?}"
    );
    eprintln!(
        "token outage ({}, {} mails, {} senders): {held_back} mails held back, {refused} token \
         requests refused in {outage_secs:.1} s, {} token requests in all, attempts spent: \
         {} in all, at most {} by one job, {elapsed:?}",
        if cluster { "cluster" } else { "single Redis" },
        mails.len(),
        size.senders,
        grants.len(),
        spent.iter().sum::<u32>(),
        spent.iter().max().unwrap(),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn gmail_failing_often_delivers_everything_once_and_honours_retry_after() {
    flaky_gmail(false, sizes().0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn token_endpoint_outage_holds_sends_then_resumes() {
    token_outage(false, sizes().0, Duration::from_secs(4)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_cluster_gmail_failing_often_delivers_everything_once() {
    flaky_gmail(true, sizes().1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_a_cluster_a_token_endpoint_outage_holds_sends_then_resumes() {
    token_outage(true, sizes().1, Duration::from_secs(4)).await;
}
