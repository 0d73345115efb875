//! What an operator sees of the Gmail side: the scrape (errors, refreshes, quarantine,
//! quota) and readiness when every token fails.

use std::time::Duration;

use mailroom_queue::JobState;
use mailroom_testkit::google::{FakeGoogle, Fault, FaultRule};

use crate::common::google::{SENDER, gmail_env};
use crate::common::{self, eventually, job};
use crate::{enqueue, wait_state};

#[tokio::test(flavor = "multi_thread")]
async fn the_scrape_shows_gmail_errors_refreshes_quarantine_and_quota() {
    use common::http::{get, listen_addr, sample};

    let google = FakeGoogle::start();
    google.inject(FaultRule::send(Fault::unavailable()).times(1));
    let env = gmail_env(
        &google,
        "[jobs]\nallowed_senders = [\"noreply@example.com\", \"ghost@example.com\"]\n\n\
         [credentials]\nquarantine_recheck = \"1h\"\n\n[http]\nrefresh = \"200ms\"\n",
    );
    let queue = env.queue().await;
    let good = enqueue(&queue, &job(SENDER, "ann@example.org", "hello")).await;
    let ghost = enqueue(&queue, &job("ghost@example.com", "bob@example.org", "boo")).await;
    let mut worker = env.worker("w1", &[]);
    let addr = listen_addr(&mut worker);
    wait_state(&queue, good, JobState::Sent, Duration::from_secs(20)).await;
    eventually(
        Duration::from_secs(20),
        "the ghost to be quarantined",
        || async {
            queue
                .status(ghost)
                .await
                .unwrap()
                .unwrap()
                .last_error
                .is_some()
        },
    )
    .await;
    let mut scrape = String::new();
    eventually(Duration::from_secs(10), "the quarantine gauge", || {
        scrape = get(&addr, "/metrics").body;
        let up = sample(
            &scrape,
            "mailroom_sender_quarantined{sender=\"ghost@example.com\"}",
        );
        async move { up == Some(1.0) }
    })
    .await;
    let value = |name: &str| sample(&scrape, name).unwrap_or_else(|| panic!("{name}:\n{scrape}"));
    assert_eq!(
        value("mailroom_gmail_errors_total{reason=\"backend_error\"}"),
        1.0
    );
    assert_eq!(
        value("mailroom_gmail_errors_total{reason=\"invalid_grant\"}"),
        1.0
    );
    assert_eq!(
        value("mailroom_gmail_errors_total{reason=\"daily_limit\"}"),
        0.0
    );
    assert_eq!(
        value("mailroom_sender_quarantined{sender=\"noreply@example.com\"}"),
        0.0
    );
    assert!(value("mailroom_oauth_token_refreshes_total{outcome=\"ok\"}") >= 1.0);
    assert!(value("mailroom_oauth_token_refreshes_total{outcome=\"error\"}") >= 1.0);
    // Two sends admitted for noreply@ this minute (the 503 and the retry): 148 left.
    assert_eq!(
        value("mailroom_sender_quota_remaining{sender=\"noreply@example.com\",window=\"minute\"}"),
        148.0
    );
    assert_eq!(
        value("mailroom_jobs_completed_total{outcome=\"sent\"}"),
        1.0
    );
    assert!(!scrape.contains("ann@example.org") && !scrape.contains("bob@example.org"));
    // One sender's revoked credentials do not make the worker unready.
    assert_eq!(get(&addr, "/readyz").status, 200);
    worker.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_whose_tokens_all_fail_is_not_ready() {
    use common::http::{get, listen_addr};

    let google = FakeGoogle::start();
    let env = gmail_env(&google, "[credentials]\nquarantine_recheck = \"1h\"\n");
    let queue = env.queue().await;
    let mut worker = env.worker("w1", &[]);
    let addr = listen_addr(&mut worker);
    // The listener serves before the worker has registered, and /readyz says 503 until then;
    // once started, with nothing tried yet, it is ready.
    eventually(
        Duration::from_secs(20),
        "readyz to turn 200 once started",
        || {
            let status = get(&addr, "/readyz").status;
            async move { status == 200 }
        },
    )
    .await;
    enqueue(&queue, &job("ghost@example.com", "ann@example.org", "boo")).await;
    let mut answer = get(&addr, "/readyz");
    eventually(Duration::from_secs(20), "readyz to turn 503", || {
        answer = get(&addr, "/readyz");
        let status = answer.status;
        async move { status == 503 }
    })
    .await;
    assert!(answer.body.contains("credentials"), "{}", answer.body);
    worker.stop();
}
