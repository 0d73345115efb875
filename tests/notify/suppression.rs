//! The suppression list end to end: `mailroom suppress add|check|list|rm`, then a worker that
//! drops suppressed recipients, finishes a job left with nobody as `suppressed` (shown by
//! `mailroom status`, counted in `/metrics`), and still sends transactional mail.

use std::time::Duration;

use mail_parser::MessageParser;
use mailroom_jobs::{EmailJob, JobId, MailingList};
use mailroom_queue::JobState;

use crate::common::http::{get, listen_addr, sample};
use crate::common::{Env, enqueue_all, eventually, job, states};

const FROM: &str = "noreply@example.com";
const LIST: &str = "news.example.com";

fn on_list(mut j: EmailJob) -> EmailJob {
    j.v1_mut().list = Some(MailingList::new(LIST));
    j
}

/// The `To` addresses of the outbox message of `id`.
fn sent_to(env: &Env, id: JobId) -> Vec<String> {
    let bytes = std::fs::read(env.outbox.join(format!("{id}.eml"))).expect("the .eml file");
    let msg = MessageParser::default().parse(&bytes).expect("a message");
    msg.to()
        .map(|a| {
            a.iter()
                .filter_map(|a| a.address().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn suppressed_recipients_are_dropped_and_a_job_left_with_nobody_says_why() {
    let env = Env::new("");
    let out = env.run(&[
        "suppress",
        "add",
        "Gone <GONE@example.org>",
        "--reason",
        "hard_bounce",
    ]);
    let out = out.ok();
    assert!(
        out.contains("suppressed gone@example.org (global): hard_bounce"),
        "{out}"
    );
    env.run(&[
        "suppress",
        "add",
        "reader@example.org",
        "--list",
        LIST,
        "--reason",
        "unsubscribed",
    ])
    .ok();
    let again = env.run(&["suppress", "add", "gone@example.org"]).ok();
    assert!(again.contains("already suppressed"), "{again}");
    let check = env
        .run(&["suppress", "check", "reader@example.org", "--list", LIST])
        .ok();
    assert!(
        check.contains("is suppressed (list news.example.com): unsubscribed"),
        "{check}"
    );
    let check = env.run(&["suppress", "check", "reader@example.org"]).ok();
    assert!(check.contains("is not suppressed"), "{check}");
    let bad = env.run(&["suppress", "add", "x@example.org", "--list", "no spaces"]);
    assert_eq!(bad.code(), Some(2), "{}", bad.stderr());
    assert!(bad.stderr().contains("--list"), "{}", bad.stderr());

    let mut partly = job(FROM, "gone@example.org", "partly");
    partly.v1_mut().to.push("ok@example.org".parse().unwrap());
    let mut transactional = job(FROM, "gone@example.org", "your password reset");
    transactional.v1_mut().transactional = true;
    let jobs = [
        job(FROM, "Gone <gone@example.org>", "to a bounced address"),
        on_list(job(FROM, "reader@example.org", "newsletter")),
        job(FROM, "reader@example.org", "not on the list"),
        partly,
        transactional,
    ];
    let queue = env.queue().await;
    let ids = enqueue_all(&queue, &jobs).await;

    let mut worker = env.worker("w1", &[]);
    let addr = listen_addr(&mut worker);
    let want = [
        Some(JobState::Suppressed),
        Some(JobState::Suppressed),
        Some(JobState::Sent),
        Some(JobState::Sent),
        Some(JobState::Sent),
    ];
    eventually(Duration::from_secs(30), "every job settled", || {
        let (queue, ids) = (queue.clone(), ids.clone());
        async move { states(&queue, &ids).await == want }
    })
    .await;

    // Nothing went out for the suppressed jobs; the others went to whom they may.
    assert!(!env.outbox.join(format!("{}.eml", ids[0])).exists());
    assert!(!env.outbox.join(format!("{}.eml", ids[1])).exists());
    assert_eq!(sent_to(&env, ids[2]), ["reader@example.org"]);
    assert_eq!(sent_to(&env, ids[3]), ["ok@example.org"]);
    assert_eq!(sent_to(&env, ids[4]), ["gone@example.org"]);

    // The status says who was suppressed and why; it is no dead letter.
    let status = queue.status(ids[1]).await.unwrap().unwrap();
    assert_eq!(status.suppressed.len(), 1);
    assert_eq!(status.suppressed[0].address, "reader@example.org");
    assert_eq!(status.suppressed[0].reason.as_str(), "unsubscribed");
    let shown = env.run(&["status", &ids[0].to_string()]).ok();
    assert!(shown.contains("suppressed"), "{shown}");
    assert!(
        shown.contains("gone@example.org (global): hard_bounce"),
        "{shown}"
    );
    assert_eq!(queue.stats().await.unwrap().dead, 0);

    // A job sent to the rest of its recipients names the one it left out, and why: in its
    // status, in `mailroom status` and in `GET /v1/messages/{id}`'s schema field.
    let partly = queue.status(ids[3]).await.unwrap().unwrap();
    assert_eq!(partly.state, JobState::Sent);
    let dropped: Vec<_> = partly
        .suppressed
        .iter()
        .map(|s| (s.address.as_str(), s.reason.as_str(), s.scope.to_string()))
        .collect();
    assert_eq!(
        dropped,
        [("gone@example.org", "hard_bounce", "global".to_owned())]
    );
    let shown = env.run(&["status", &ids[3].to_string(), "--json"]).ok();
    let json: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(json["state"], "sent");
    assert_eq!(json["suppressed"][0]["address"], "gone@example.org");
    assert_eq!(json["suppressed"][0]["reason"], "hard_bounce");
    // A job none of whose recipients was suppressed lists nobody.
    assert!(
        queue
            .status(ids[2])
            .await
            .unwrap()
            .unwrap()
            .suppressed
            .is_empty()
    );

    let scrape = get(&addr, "/metrics").body;
    assert_eq!(
        sample(
            &scrape,
            "mailroom_jobs_completed_total{outcome=\"suppressed\"}"
        ),
        Some(2.0),
        "{scrape}"
    );
    assert_eq!(
        sample(
            &scrape,
            "mailroom_suppressed_recipients_total{reason=\"hard_bounce\"}"
        ),
        Some(2.0),
        "{scrape}"
    );

    // Lifted, the address gets mail again.
    let rm = env.run(&["suppress", "rm", "gone@example.org"]).ok();
    assert!(rm.contains("no longer suppressed"), "{rm}");
    let list = env.run(&["suppress", "list", "--list", LIST]).ok();
    assert!(
        list.contains("reader@example.org") && list.contains("unsubscribed"),
        "{list}"
    );
    let again = enqueue_all(&queue, &[job(FROM, "gone@example.org", "welcome back")]).await;
    eventually(
        Duration::from_secs(30),
        "the job after the lift sent",
        || {
            let (queue, again) = (queue.clone(), again.clone());
            async move { states(&queue, &again).await == [Some(JobState::Sent)] }
        },
    )
    .await;
    worker.stop();
}
