//! The token endpoint down longer than a token's life while mail is queued.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

use mailroom_testkit::google::{FakeGoogle, Fault, FaultRule};
use mailroom_worker::credentials::REFRESH_RETRY;

use crate::common::google::wait_tokens_expired;
use crate::common::report::Report;
use crate::common::{self, eventually, stats};
use crate::{
    Received, Size, assert_all_delivered_once, backing, enqueue, gmail_world, report_received,
    senders, wait_accepted,
};

/// The refused token requests of each sender (the impersonated user) since `since`.
fn refused_since(google: &FakeGoogle, since: SystemTime) -> BTreeMap<String, usize> {
    let mut refused = BTreeMap::new();
    for grant in google.token_grants() {
        if grant.at >= since
            && !grant.ok
            && let Some(subject) = grant.subject
        {
            *refused.entry(subject).or_default() += 1;
        }
    }
    refused
}

/// How long access tokens live in the token-outage scenario; mailroom refreshes a token once
/// three quarters of its life have passed.
const TOKEN_LIFETIME: Duration = Duration::from_secs(2);

/// The token endpoint down, longer than [`TOKEN_LIFETIME`], while mail is queued and every
/// access token expires; it comes back once every sender's refresh has been refused twice.
pub async fn token_outage(cluster: bool, size: Size) {
    let started = Instant::now();
    let redis = backing(cluster);
    let mut report = Report::start("token endpoint outage", &redis);
    let google = FakeGoogle::start();
    google.set_token_lifetime(TOKEN_LIFETIME);
    let senders = senders(size.senders);
    // The default twelve attempts: a token outage spends none of them.
    let env = gmail_world(&google, redis, &senders, 12);
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
    wait_tokens_expired(&google, TOKEN_LIFETIME).await;
    mails.extend(enqueue(&queue, &senders, during - during / 2, "late").await);
    report.set("jobs", mails.len());
    // Every sender has mail waiting for a token now. The outage lasts until each one's
    // refresh has been refused twice: the worker tried again after a refusal, for every
    // sender, while its mail waited.
    eventually(
        Duration::from_secs(60),
        "every sender's refresh refused twice during the outage",
        || {
            worker.assert_running();
            let refused = refused_since(&google, down);
            let all = senders
                .iter()
                .all(|s| refused.get(s.as_str()).copied().unwrap_or(0) >= 2);
            async move { all }
        },
    )
    .await;
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
    report_received(&mut report, &google);
    report.set("dead", stats(&queue).await.dead);

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
    report.set(
        "notes",
        format!(
            "{held_back} mails held back; {refused} token requests refused in \
             {outage_secs:.1} s, at most {most} for one sender"
        ),
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
