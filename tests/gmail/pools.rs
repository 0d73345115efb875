//! Sender pools: one visible From (`notifications@example.com`, a verified send-as alias of
//! each member) over three member mailboxes. The member with the most quota left sends;
//! paused and quarantined members are skipped; a pool with no member able to send holds its
//! jobs without spending an attempt; a member without the alias is caught.

use std::time::Duration;

use mailroom_queue::{JobState, Queue};
use mailroom_testkit::google::{FakeGoogle, Quota};

use crate::common::google::{gmail_env, wait_sent};
use crate::common::{eventually, job, states};
use crate::{enqueue, wait_state};

const POOL: &str = "notifications@example.com";
const MEMBERS: [&str; 3] = ["n1@example.com", "n2@example.com", "n3@example.com"];

/// The config of a pool of [`MEMBERS`] behind [`POOL`], and `extra`.
fn pool_toml(extra: &str) -> String {
    format!(
        "{extra}\n[[pools]]\naddress = \"{POOL}\"\nmembers = [\"n1@example.com\", \"n2@example.com\", \"n3@example.com\"]\n"
    )
}

/// Makes every member a Workspace user with `POOL` as a verified send-as alias (but `skip`).
fn members(google: &FakeGoogle, skip: Option<&str>) {
    for member in MEMBERS {
        google.add_domain_user(member);
        if Some(member) != skip {
            google.add_send_as(member, POOL, true);
        }
    }
}

async fn enqueue_n(queue: &Queue, n: usize, tag: &str) -> Vec<mailroom_jobs::JobId> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        ids.push(enqueue(queue, &job(POOL, &format!("{tag}{i}@example.org"), tag)).await);
    }
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn three_members_of_five_a_minute_send_fifteen_jobs_within_the_minute() {
    let google = FakeGoogle::start();
    // Gmail allows each member 5 sends a minute here; so does mailroom.
    google.set_quota(Quota {
        units_per_user_per_minute: 500,
        ..Quota::default()
    });
    members(&google, None);
    let env = gmail_env(&google, &pool_toml("[quota]\nsender_per_minute = 5\n"));
    let queue = env.queue().await;
    let ids = enqueue_n(&queue, 15, "u").await;
    let worker = env.worker("w1", &[]);
    wait_sent(&google, 15, Duration::from_secs(120));
    // From the first message Gmail accepted to the last (the worker's start not counted).
    let times: Vec<_> = google.sent().iter().map(|m| m.at).collect();
    let (first, last) = (times.iter().min().unwrap(), times.iter().max().unwrap());
    let took = last.duration_since(*first).unwrap_or_default();
    for id in &ids {
        wait_state(&queue, *id, JobState::Sent, Duration::from_secs(10)).await;
    }
    worker.stop();
    println!("15 jobs through a pool of 3 members at 5 a minute: {took:?}");
    assert!(took < Duration::from_secs(60), "{took:?}");
    for member in MEMBERS {
        assert_eq!(google.sent_by(member).len(), 5, "{member}");
    }
    assert_eq!(google.responses_by_status().get(&429), None, "no 429");
    // Gmail kept the alias as the From of every message.
    assert!(google.sent().iter().all(|m| m.rewritten_from.is_none()));
    // Each job's status names the member that sent it.
    for id in ids {
        let status = queue.status(id).await.unwrap().unwrap();
        let sent_as = status.sent_as.expect("sent_as");
        let message = google
            .sent()
            .into_iter()
            .find(|m| Some(&m.id) == status.transport_id.as_ref())
            .expect("the message");
        assert_eq!(message.user, sent_as);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_revoked_mid_run_leaves_the_others_to_carry_on() {
    let google = FakeGoogle::start();
    members(&google, None);
    let env = gmail_env(
        &google,
        &pool_toml("[credentials]\nquarantine_recheck = \"1h\"\n"),
    );
    let queue = env.queue().await;
    let mut ids = enqueue_n(&queue, 9, "a").await;
    let worker = env.worker("w1", &[]);
    wait_sent(&google, 9, Duration::from_secs(60));
    assert!(!google.sent_by("n2@example.com").is_empty());
    // The Workspace admin suspends n2: its tokens are revoked and no new one is granted.
    google.remove_domain_user("n2@example.com");
    let before = google.sent_by("n2@example.com").len();
    ids.extend(enqueue_n(&queue, 21, "b").await);
    eventually(Duration::from_secs(90), "all 30 jobs sent", || {
        let (queue, ids) = (queue.clone(), ids.clone());
        async move {
            states(&queue, &ids)
                .await
                .iter()
                .all(|s| *s == Some(JobState::Sent))
        }
    })
    .await;
    worker.stop();
    assert_eq!(google.sent_by("n2@example.com").len(), before);
    assert_eq!(
        google.sent_by("n1@example.com").len() + google.sent_by("n3@example.com").len(),
        30 - before
    );
    let stats = queue.stats().await.unwrap();
    assert_eq!(stats.dead, 0, "nothing dead-lettered");
    let n2 = queue.sender_states().await.unwrap();
    assert!(
        n2.iter()
            .any(|s| s.sender == "n2@example.com" && s.quarantined.is_some()),
        "{n2:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pool_whose_members_are_all_paused_holds_its_job_without_spending_an_attempt() {
    let google = FakeGoogle::start();
    members(&google, None);
    let env = gmail_env(&google, &pool_toml(""));
    let queue = env.queue().await;
    let now = chrono::Utc::now().timestamp_millis();
    // Gmail's daily limit paused every member, n3 for the shortest time.
    for (member, hours) in [
        ("n1@example.com", 3),
        ("n2@example.com", 2),
        ("n3@example.com", 1),
    ] {
        queue
            .pause_sender(member, now + hours * 3_600_000, "dailyLimitExceeded")
            .await
            .unwrap();
    }
    let id = enqueue(&queue, &job(POOL, "ann@example.org", "held")).await;
    let worker = env.worker("w1", &[]);
    wait_state(&queue, id, JobState::Retrying, Duration::from_secs(20)).await;
    worker.stop();
    let status = queue.status(id).await.unwrap().unwrap();
    assert_eq!(status.attempts, 0, "{status:?}");
    assert!(
        status
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("sender pool"),
        "{status:?}"
    );
    let due = status.due_at.unwrap().timestamp_millis();
    assert!(
        (due - (now + 3_600_000)).abs() < 1000,
        "waits for n3's pause to end: {due}"
    );
    assert_eq!(google.send_attempts(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_without_the_alias_is_caught_by_auth_check_and_by_gmail() {
    let google = FakeGoogle::start();
    members(&google, Some("n3@example.com"));
    let env = gmail_env(&google, &pool_toml("[gmail]\ncheck_send_as = true\n"));
    let out = env.run(&["auth", "check", "--pool", POOL]);
    assert_eq!(out.code(), Some(1), "{}\n{}", out.stdout(), out.stderr());
    let table = out.stdout();
    for member in ["n1@example.com", "n2@example.com"] {
        let row = table.lines().find(|l| l.starts_with(member)).unwrap();
        assert!(row.trim_end().ends_with("ok"), "{table}");
    }
    let row = table
        .lines()
        .find(|l| l.starts_with("n3@example.com"))
        .unwrap();
    assert!(
        row.contains("is not a send-as alias of n3@example.com"),
        "{table}"
    );

    // Sent anyway, Gmail rewrites the From of n3's messages to n3's own address.
    let queue = env.queue().await;
    let ids = enqueue_n(&queue, 6, "r").await;
    let worker = env.worker("w1", &[]);
    wait_sent(&google, 6, Duration::from_secs(30));
    for id in ids {
        wait_state(&queue, id, JobState::Sent, Duration::from_secs(10)).await;
    }
    worker.stop();
    let sent = google.sent();
    let rewritten: Vec<_> = sent.iter().filter(|m| m.rewritten_from.is_some()).collect();
    assert!(!rewritten.is_empty());
    assert!(
        rewritten.iter().all(|m| m.user == "n3@example.com"),
        "{rewritten:?}"
    );
    assert!(
        rewritten
            .iter()
            .all(|m| m.rewritten_from.as_deref() == Some(POOL))
    );
}
