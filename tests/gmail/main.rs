//! The `gmail` transport end to end: the real `mailroom` binary, a real Redis, and the fake
//! Google (OAuth token endpoint and Gmail `messages.send`) with faults injected per test.

#[path = "../common/mod.rs"]
mod common;

use std::time::{Duration, SystemTime};

use common::google::{OTHER, SENDER, gmail_env, wait_sent};
use common::{eventually, job};
use mail_parser::MessageParser;
use mailroom_jobs::{EmailJob, JobId};
use mailroom_queue::{JobState, Queue};
use mailroom_testkit::google::{FakeGoogle, Fault, FaultRule, GMAIL_SEND_SCOPE, Quota};

async fn enqueue(queue: &Queue, job: &EmailJob) -> JobId {
    queue.enqueue(job).await.expect("enqueue").id
}

async fn wait_state(queue: &Queue, id: JobId, want: JobState, within: Duration) {
    eventually(within, &format!("job {id} to be {want:?}"), || async {
        queue.status(id).await.unwrap().map(|s| s.state) == Some(want)
    })
    .await;
}

/// What a sender waits for.
enum Hold {
    Quarantined,
    Paused,
}

/// Waits until Redis records `sender` as quarantined or paused.
async fn wait_sender(queue: &Queue, sender: &str, hold: Hold) {
    let what = match hold {
        Hold::Quarantined => "quarantined",
        Hold::Paused => "paused",
    };
    eventually(
        Duration::from_secs(20),
        &format!("{sender} to be {what}"),
        || async {
            queue.sender_states().await.unwrap().iter().any(|s| {
                s.sender == sender
                    && match hold {
                        Hold::Quarantined => s.quarantined.is_some(),
                        Hold::Paused => s.paused_until_ms.is_some(),
                    }
            })
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workspace_sender_delivers_through_gmail_and_the_ids_are_recorded() {
    let google = FakeGoogle::start();
    let env = gmail_env(&google, "");
    let queue = env.queue().await;
    let first = enqueue(&queue, &job(SENDER, "ann@example.org", "Grüße ✓")).await;
    let worker = env.worker("w1", &[]);
    wait_state(&queue, first, JobState::Sent, Duration::from_secs(20)).await;

    let sent = google.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].user, SENDER, "sent as the job's sender");
    let msg = MessageParser::default()
        .parse(&sent[0].raw)
        .expect("parses");
    assert_eq!(msg.subject(), Some("Grüße ✓"));
    assert_eq!(
        msg.to().and_then(|a| a.first()).and_then(|a| a.address()),
        Some("ann@example.org")
    );
    assert_eq!(
        msg.message_id().map(|m| m.ends_with("@example.com")),
        Some(true)
    );
    let status = queue.status(first).await.unwrap().unwrap();
    assert_eq!(status.transport_id.as_deref(), Some(sent[0].id.as_str()));
    assert_eq!(
        status.thread_id.as_deref(),
        Some(sent[0].thread_id.as_str())
    );

    // A reply with the thread hint lands in the same Gmail thread.
    let reply = serde_json::json!({
        "version": "v1", "from": SENDER, "to": ["ann@example.org"], "subject": "Re: Grüße ✓",
        "text": "Following up", "thread": {"thread_id": sent[0].thread_id},
    });
    let reply = EmailJob::from_json(reply.to_string().as_bytes()).unwrap();
    let second = enqueue(&queue, &reply).await;
    wait_state(&queue, second, JobState::Sent, Duration::from_secs(20)).await;
    let sent = google.sent();
    assert_eq!(sent[1].thread_id, sent[0].thread_id);
    let log = worker.stop();
    assert!(
        !log.contains("ann@example.org"),
        "recipients are masked in logs"
    );
    assert!(!log.contains("PRIVATE KEY"), "no key material in logs");
}

#[tokio::test(flavor = "multi_thread")]
async fn short_lived_tokens_are_refreshed_without_a_failed_send() {
    let google = FakeGoogle::start();
    google.set_token_lifetime(Duration::from_secs(2));
    let env = gmail_env(&google, "");
    let queue = env.queue().await;
    let worker = env.worker("w1", &[]);
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(enqueue(&queue, &job(SENDER, &format!("u{i}@example.org"), "tick")).await);
        tokio::time::sleep(Duration::from_millis(900)).await;
    }
    for id in &ids {
        wait_state(&queue, *id, JobState::Sent, Duration::from_secs(20)).await;
    }
    worker.stop();
    let statuses = google.responses_by_status();
    assert_eq!(
        statuses.keys().copied().collect::<Vec<_>>(),
        vec![200],
        "{statuses:?}"
    );
    let grants = google.token_grants();
    assert!(grants.len() >= 2, "tokens were refreshed: {grants:?}");
    assert!(grants.iter().all(|g| g.ok), "{grants:?}");
    for id in ids {
        let status = queue.status(id).await.unwrap().unwrap();
        assert_eq!(
            (status.attempts, status.deliveries),
            (0, 1),
            "no failed attempt"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_are_retried_with_backoff_until_delivered() {
    let google = FakeGoogle::start();
    google.inject(FaultRule::send(Fault::unavailable()).times(1));
    google.inject(FaultRule::send(Fault::backend_error()).times(1));
    google.inject(FaultRule::send(Fault::BadGateway).times(1));
    let env = gmail_env(&google, "");
    let queue = env.queue().await;
    let id = enqueue(&queue, &job(SENDER, "ann@example.org", "retry")).await;
    let worker = env.worker("w1", &[]);
    wait_state(&queue, id, JobState::Sent, Duration::from_secs(30)).await;
    worker.stop();
    assert_eq!(google.sent().len(), 1);
    let status = queue.status(id).await.unwrap().unwrap();
    assert_eq!(status.attempts, 3, "three failed attempts, then sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limit_waits_for_retry_after_without_spending_an_attempt() {
    let google = FakeGoogle::start();
    google.inject(FaultRule::send(Fault::rate_limited(Duration::from_secs(2))).times(1));
    let env = gmail_env(&google, "");
    let queue = env.queue().await;
    let started = SystemTime::now();
    let id = enqueue(&queue, &job(SENDER, "ann@example.org", "slow down")).await;
    let worker = env.worker("w1", &[]);
    wait_state(&queue, id, JobState::Sent, Duration::from_secs(30)).await;
    worker.stop();
    let sent = google.sent();
    assert_eq!(sent.len(), 1);
    let waited = sent[0].at.duration_since(started).unwrap();
    assert!(waited >= Duration::from_secs(2), "retried after {waited:?}");
    let status = queue.status(id).await.unwrap().unwrap();
    assert_eq!(status.attempts, 0, "a rate limit spends no attempt");
    assert_eq!(status.deliveries, 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_daily_limit_parks_only_that_sender() {
    let google = FakeGoogle::start();
    google.inject(FaultRule::send(Fault::daily_limit()).for_user(SENDER));
    let env = gmail_env(&google, "");
    let queue = env.queue().await;
    let parked = enqueue(&queue, &job(SENDER, "ann@example.org", "parked")).await;
    let worker = env.worker("w1", &[]);
    wait_sender(&queue, SENDER, Hold::Paused).await;
    let other = enqueue(&queue, &job(OTHER, "bob@example.org", "goes")).await;
    wait_state(&queue, other, JobState::Sent, Duration::from_secs(20)).await;
    let status = queue.status(parked).await.unwrap().unwrap();
    assert_eq!(status.state, JobState::Retrying, "{status:?}");
    assert!(status.due_at.unwrap() > chrono::Utc::now() + chrono::Duration::minutes(50));
    worker.stop();
    assert_eq!(google.sent_by(SENDER).len(), 0);
    assert_eq!(google.sent_by(OTHER).len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_401_gets_one_fresh_token_and_goes_through() {
    let google = FakeGoogle::start();
    google.inject(FaultRule::send(Fault::unauthorized()).times(1));
    let env = gmail_env(&google, "");
    let queue = env.queue().await;
    let id = enqueue(&queue, &job(SENDER, "ann@example.org", "401")).await;
    let worker = env.worker("w1", &[]);
    wait_state(&queue, id, JobState::Sent, Duration::from_secs(20)).await;
    worker.stop();
    let status = queue.status(id).await.unwrap().unwrap();
    assert_eq!(
        (status.attempts, status.deliveries),
        (0, 1),
        "sent in the same delivery"
    );
    assert_eq!(
        google.token_grants().len(),
        2,
        "one token, then one fresh token"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sender_google_refuses_is_quarantined_while_others_keep_sending() {
    let google = FakeGoogle::start();
    let env = gmail_env(&google, "[credentials]\nquarantine_recheck = \"1h\"\n");
    let queue = env.queue().await;
    // Not a user of the Workspace domain: the token endpoint answers invalid_grant.
    let stranger = enqueue(&queue, &job("ghost@example.com", "ann@example.org", "no")).await;
    let worker = env.worker("w1", &[]);
    wait_sender(&queue, "ghost@example.com", Hold::Quarantined).await;
    let fine = enqueue(&queue, &job(SENDER, "bob@example.org", "yes")).await;
    wait_state(&queue, fine, JobState::Sent, Duration::from_secs(20)).await;
    let status = queue.status(stranger).await.unwrap().unwrap();
    assert_eq!(status.state, JobState::Retrying);
    assert_eq!(status.attempts, 0, "quarantine spends no attempt");
    assert!(status.last_error.unwrap().contains("invalid_grant"));
    worker.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_request_is_dead_lettered_at_once_with_googles_message() {
    let google = FakeGoogle::start();
    google.inject(FaultRule::send(Fault::bad_request("Invalid To header")));
    let env = gmail_env(&google, "");
    let queue = env.queue().await;
    let id = enqueue(&queue, &job(SENDER, "ann@example.org", "bad")).await;
    let worker = env.worker("w1", &[]);
    wait_state(&queue, id, JobState::Dead, Duration::from_secs(20)).await;
    worker.stop();
    let status = queue.status(id).await.unwrap().unwrap();
    assert_eq!(status.deliveries, 1, "no retry");
    assert!(
        status
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("Invalid To header"),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_lost_after_delivery_is_retried_with_the_same_message_id() {
    let google = FakeGoogle::start();
    google.inject(FaultRule::send(Fault::DropConnection).times(1));
    let env = gmail_env(&google, "");
    let queue = env.queue().await;
    let id = enqueue(&queue, &job(SENDER, "ann@example.org", "ambiguous")).await;
    let worker = env.worker("w1", &[]);
    wait_state(&queue, id, JobState::Sent, Duration::from_secs(30)).await;
    worker.stop();
    let sent = google.sent();
    assert_eq!(sent.len(), 2, "the lost answer made a second send");
    let ids: Vec<String> = sent
        .iter()
        .map(|m| {
            MessageParser::default()
                .parse(&m.raw)
                .and_then(|p| p.message_id().map(str::to_owned))
                .expect("Message-ID")
        })
        .collect();
    assert_eq!(ids[0], ids[1], "the duplicate carries the same Message-ID");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_workers_share_a_senders_quota_and_another_sender_is_unaffected() {
    let google = FakeGoogle::start();
    // Gmail allows 10 sends a minute for each user here; so does mailroom.
    google.set_quota(Quota {
        units_per_user_per_minute: 1000,
        ..Quota::default()
    });
    let env = gmail_env(&google, "[quota]\nsender_per_minute = 10\n");
    let queue = env.queue().await;
    let mut busy = Vec::new();
    for i in 0..30 {
        busy.push(enqueue(&queue, &job(SENDER, &format!("u{i}@example.org"), "busy")).await);
    }
    let w1 = env.worker("w1", &[]);
    let w2 = env.worker("w2", &[]);
    let mut calm = Vec::new();
    for i in 0..5 {
        calm.push(enqueue(&queue, &job(OTHER, &format!("c{i}@example.org"), "calm")).await);
    }
    for id in &calm {
        wait_state(&queue, *id, JobState::Sent, Duration::from_secs(20)).await;
    }
    wait_sent(&google, 15, Duration::from_secs(20));
    tokio::time::sleep(Duration::from_secs(2)).await;
    w1.stop();
    w2.stop();
    assert_eq!(
        google.sent_by(SENDER).len(),
        10,
        "exactly the minute's quota"
    );
    assert_eq!(google.sent_by(OTHER).len(), 5);
    assert_eq!(
        google.rate_limited_responses(SENDER),
        0,
        "Gmail never had to refuse"
    );
    let mut waiting = 0;
    for id in busy {
        let status = queue.status(id).await.unwrap().unwrap();
        if status.state == JobState::Retrying {
            waiting += 1;
            assert_eq!(status.attempts, 0, "waiting for quota spends no attempt");
            let due = status.due_at.unwrap();
            assert!(
                due > chrono::Utc::now() + chrono::Duration::seconds(40),
                "{due}"
            );
        }
    }
    assert_eq!(waiting, 20);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quarantined_sender_goes_again_once_its_credentials_work() {
    let google = FakeGoogle::start();
    let env = gmail_env(&google, "[credentials]\nquarantine_recheck = \"1s\"\n");
    let queue = env.queue().await;
    let id = enqueue(&queue, &job("late@example.com", "ann@example.org", "later")).await;
    let worker = env.worker("w1", &[]);
    wait_sender(&queue, "late@example.com", Hold::Quarantined).await;
    // The Workspace admin creates the user: the next look at its credentials succeeds.
    google.add_domain_user("late@example.com");
    wait_state(&queue, id, JobState::Sent, Duration::from_secs(20)).await;
    worker.stop();
    assert_eq!(google.sent_by("late@example.com").len(), 1);
    let states = queue.sender_states().await.unwrap();
    assert!(states.iter().all(|s| s.quarantined.is_none()), "{states:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plain_gmail_account_with_a_stored_refresh_token_delivers() {
    use std::sync::Arc;

    use mailroom_testkit::google::ClientKind;
    use mailroom_worker::credentials::{TokenKeys, TokenStore};

    let google = FakeGoogle::start();
    google.set_token_lifetime(Duration::from_secs(2));
    let client = google.oauth_client(ClientKind::Installed);
    let refresh = google.authorized_user(&client, "alice@gmail.example");
    let env = gmail_env(&google, "");
    let secrets = common::write_file(env.dir.path(), "client_secret.json", client.json.as_bytes());
    let key_line = TokenKeys::generate_line("k1");
    let keys = TokenKeys::parse(&key_line, "test", false).expect("a key");
    let queue = env.queue().await;
    TokenStore::new(queue.clone(), Arc::new(keys))
        .put(
            "alice@gmail.example",
            &secrecy::SecretString::from(refresh.clone()),
            &client.client_id,
            &[GMAIL_SEND_SCOPE.to_owned()],
        )
        .await
        .expect("store the token");

    let mut ids = Vec::new();
    for i in 0..3 {
        let j = job(
            "Alice <alice@gmail.example>",
            &format!("f{i}@example.org"),
            "Hi from Alice",
        );
        ids.push(enqueue(&queue, &j).await);
    }
    let worker = env.worker(
        "w1",
        &[
            ("MAILROOM__CREDENTIALS__KIND", "authorized_user"),
            (
                "MAILROOM__CREDENTIALS__CLIENT_SECRETS",
                secrets.to_str().unwrap(),
            ),
            ("MAILROOM_TOKEN_KEYS", key_line.trim()),
        ],
    );
    for id in &ids {
        wait_state(&queue, *id, JobState::Sent, Duration::from_secs(20)).await;
    }
    // Past the token's two seconds: the next send refreshes first and still goes through.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let late = enqueue(
        &queue,
        &job("alice@gmail.example", "late@example.org", "Later"),
    )
    .await;
    wait_state(&queue, late, JobState::Sent, Duration::from_secs(20)).await;
    let log = worker.stop();

    let sent = google.sent_by("alice@gmail.example");
    assert_eq!(sent.len(), 4);
    let msg = MessageParser::default()
        .parse(&sent[0].raw)
        .expect("parses");
    assert_eq!(msg.subject(), Some("Hi from Alice"));
    assert_eq!(
        msg.from().and_then(|a| a.first()).and_then(|a| a.address()),
        Some("alice@gmail.example")
    );
    assert_eq!(
        google
            .responses_by_status()
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        vec![200]
    );
    let refreshes = google
        .token_grants()
        .iter()
        .filter(|g| g.grant_type == "refresh_token" && g.ok)
        .count();
    assert!(
        refreshes >= 2,
        "the expired token was refreshed ({refreshes})"
    );
    assert!(
        !log.contains(&refresh),
        "the refresh token never reaches the log"
    );
}

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
    assert_eq!(get(&addr, "/readyz").status, 200, "nothing tried yet");
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
