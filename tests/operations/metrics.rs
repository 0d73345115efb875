//! A running worker's HTTP listener: `/metrics` after jobs of every outcome (checked by
//! `promtool` when installed), `/livez` and `/readyz` while Redis goes away and comes back.

use std::io::Write as _;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use mailroom_jobs::{EmailJob, JobId};
use mailroom_queue::JobState;

use crate::common::http::{get, listen_addr, sample};
use crate::common::{Env, eventually, job, states};

/// Allows only example.com senders (so a job from evil.example dies as invalid), and backs
/// off so far that a failed send stays retrying for the whole test.
const CONFIG: &str = "[jobs]\nallowed_senders = [\"*@example.com\", \"ops@example.com\"]\n\n\
    [retry]\nbase = \"3650days\"\ncap = \"3650days\"\ngive_up_after = \"3650days\"\n\n\
    [http]\nrefresh = \"200ms\"\n";

/// A valid job that expires at `expires_at`.
fn expiring(expires_at: chrono::DateTime<chrono::Utc>) -> EmailJob {
    let json = serde_json::json!({
        "version": "v1", "from": "noreply@example.com", "to": ["late@example.org"],
        "subject": "Too late", "text": "Hello", "expires_at": expires_at.to_rfc3339(),
    });
    EmailJob::from_json(json.to_string().as_bytes()).expect("valid job")
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_health_and_readiness_of_a_running_worker() {
    let mut env = Env::new(CONFIG);
    let queue = env.queue().await;

    // Three good jobs, one from a sender off the allowlist (dead), one whose outbox file is
    // blocked by a directory (the write fails: retried), one expired before delivery, and a
    // duplicate enqueue that creates nothing.
    let sent: Vec<JobId> = {
        let mut ids = Vec::new();
        for i in 0..3 {
            let j = job("noreply@example.com", &format!("u{i}@example.org"), "Hi");
            ids.push(queue.enqueue(&j).await.unwrap().id);
        }
        ids
    };
    let dead = queue
        .enqueue(&job("eve@evil.example", "victim@example.org", "Phish"))
        .await
        .unwrap()
        .id;
    let blocked = job("ops@example.com", "ann@example.org", "Blocked");
    std::fs::create_dir_all(env.outbox.join(format!("{}.eml", blocked.id())).join("x")).unwrap();
    let retried = queue.enqueue(&blocked).await.unwrap().id;
    assert!(queue.enqueue(&blocked).await.unwrap().duplicate);
    let expires_at = chrono::Utc::now() + chrono::Duration::milliseconds(200);
    let expired = queue.enqueue(&expiring(expires_at)).await.unwrap().id;
    // The worker starts once that job's expiry has passed, so it finds the job expired.
    eventually(Duration::from_secs(10), "the job's expiry to pass", || {
        let passed = chrono::Utc::now() > expires_at;
        async move { passed }
    })
    .await;

    let mut worker = env.worker("ops", &[]);
    let addr = listen_addr(&mut worker);
    eventually(Duration::from_secs(30), "every job settled", || {
        let queue = queue.clone();
        let ids: Vec<JobId> = sent
            .iter()
            .copied()
            .chain([dead, retried, expired])
            .collect();
        async move {
            states(&queue, &ids).await
                == [
                    Some(JobState::Sent),
                    Some(JobState::Sent),
                    Some(JobState::Sent),
                    Some(JobState::Dead),
                    Some(JobState::Retrying),
                    Some(JobState::Expired),
                ]
        }
    })
    .await;

    // The queue gauges follow Redis within a refresh.
    let deadline = Instant::now() + Duration::from_secs(10);
    let scrape = loop {
        let r = get(&addr, "/metrics");
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type, "text/plain; version=0.0.4");
        let scrape = r.body;
        if sample(&scrape, "mailroom_queue_jobs{state=\"scheduled\"}") == Some(1.0)
            && sample(&scrape, "mailroom_queue_jobs{state=\"dead\"}") == Some(1.0)
        {
            break scrape;
        }
        assert!(
            Instant::now() < deadline,
            "gauges never caught up:\n{scrape}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!("scrape:\n{scrape}");
    let expect = [
        ("mailroom_jobs_enqueued_total", 6.0),
        ("mailroom_jobs_started_total", 5.0),
        ("mailroom_jobs_completed_total{outcome=\"sent\"}", 3.0),
        ("mailroom_jobs_completed_total{outcome=\"dead\"}", 1.0),
        ("mailroom_jobs_completed_total{outcome=\"retried\"}", 1.0),
        ("mailroom_jobs_completed_total{outcome=\"expired\"}", 1.0),
        ("mailroom_jobs_completed_total{outcome=\"cancelled\"}", 0.0),
        ("mailroom_jobs_completed_total{outcome=\"duplicate\"}", 0.0),
        ("mailroom_job_attempts_count", 4.0),
        ("mailroom_job_attempts_bucket{le=\"1\"}", 4.0),
        ("mailroom_jobs_in_flight", 0.0),
        ("mailroom_queue_jobs{state=\"ready\"}", 0.0),
        ("mailroom_queue_jobs{state=\"in_flight\"}", 0.0),
        ("mailroom_queue_jobs{state=\"scheduled\"}", 1.0),
        ("mailroom_queue_jobs{state=\"dead\"}", 1.0),
        ("mailroom_queue_oldest_ready_timestamp_seconds", 0.0),
        (
            "mailroom_send_duration_seconds_count{transport=\"outbox\"}",
            4.0,
        ),
        ("mailroom_gmail_errors_total{reason=\"invalid_grant\"}", 0.0),
        ("mailroom_oauth_token_refreshes_total{outcome=\"ok\"}", 0.0),
        ("mailroom_redis_errors_total", 0.0),
    ];
    for (name, value) in expect {
        assert_eq!(sample(&scrape, name), Some(value), "{name} in:\n{scrape}");
    }
    let build_info = scrape
        .lines()
        .find(|l| l.starts_with("mailroom_build_info{"))
        .expect("build info");
    assert!(
        build_info.contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION")))
            && build_info.contains("revision=\"")
            && build_info.ends_with(" 1"),
        "{build_info}"
    );
    assert!(
        sample(&scrape, "process_resident_memory_bytes").is_some_and(|rss| rss > 0.0),
        "process metrics: {scrape}"
    );
    for secret in ["example.org", "evil.example", &sent[0].to_string()] {
        assert!(!scrape.contains(secret), "{secret} in the scrape");
    }
    promtool_check(&scrape);

    let live = get(&addr, "/livez");
    assert_eq!((live.status, live.body.as_str()), (200, "ok\n"));
    let ready = get(&addr, "/readyz");
    assert_eq!((ready.status, ready.body.as_str()), (200, "ready\n"));

    // Redis gone: not ready (naming Redis), still alive, refreshes count as Redis errors.
    env.redis.kill();
    let mut answer = get(&addr, "/readyz");
    let deadline = Instant::now() + Duration::from_secs(10);
    while answer.status != 503 {
        assert!(Instant::now() < deadline, "still ready: {}", answer.body);
        tokio::time::sleep(Duration::from_millis(100)).await;
        answer = get(&addr, "/readyz");
    }
    assert!(
        answer.body.starts_with("not ready\n") && answer.body.contains("redis: "),
        "{}",
        answer.body
    );
    assert_eq!(get(&addr, "/livez").status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while sample(&get(&addr, "/metrics").body, "mailroom_redis_errors_total") == Some(0.0) {
        assert!(Instant::now() < deadline, "no redis error counted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Back: ready again; then a clean stop.
    env.redis.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(&addr, "/readyz").status != 200 {
        assert!(Instant::now() < deadline, "never ready again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    worker.stop();
    assert!(
        TcpStream::connect(&addr).is_err(),
        "the listener closes with the worker"
    );
}

/// Runs `promtool check metrics` on a scrape when promtool is installed (CI requires it with
/// `MAILROOM_REQUIRE_PROMTOOL`).
fn promtool_check(scrape: &str) {
    let Ok(mut child) = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    else {
        assert!(
            std::env::var_os("MAILROOM_REQUIRE_PROMTOOL").is_none(),
            "MAILROOM_REQUIRE_PROMTOOL is set but promtool is not on PATH"
        );
        println!("promtool not on PATH: skipping `promtool check metrics`");
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(scrape.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("promtool check metrics: ok");
}
