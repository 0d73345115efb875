//! Operating a worker: `/metrics`, `/livez` and `/readyz` on its HTTP listener, systemd
//! notifications, and the operator commands (`config check`, `dead list/retry/purge` with
//! filters, `queue stats`).

#[path = "../common/mod.rs"]
mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use common::http::{get, listen_addr, sample};
use common::{Env, eventually, job, states, stats};
use mailroom_jobs::{EmailJob, JobId};
use mailroom_queue::JobState;
use redis::AsyncCommands;

/// Allows only example.com senders (so a job from evil.example dies as invalid), and backs
/// off so far that a failed send stays retrying for the whole test.
const CONFIG: &str = "[jobs]\nallowed_senders = [\"*@example.com\", \"ops@example.com\"]\n\n\
    [retry]\nbase = \"3650days\"\ncap = \"3650days\"\ngive_up_after = \"36500days\"\n\n\
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
    let expired = queue
        .enqueue(&expiring(
            chrono::Utc::now() + chrono::Duration::milliseconds(200),
        ))
        .await
        .unwrap()
        .id;
    tokio::time::sleep(Duration::from_millis(400)).await;

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

#[test]
fn a_taken_listen_address_fails_the_start_at_once() {
    let env = Env::new("");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut worker = env.worker("clash", &[("MAILROOM__HTTP__LISTEN", addr.as_str())]);
    let status = worker.wait(Duration::from_secs(20));
    assert_eq!(status.code(), Some(1));
    let log = worker.log_text();
    assert!(
        log.contains(&format!("http.listen: cannot listen on {addr}")) && log.contains("in use"),
        "{log}"
    );
}

/// Reads one datagram within `within`, if any.
fn receive(socket: &UnixDatagram, within: Duration) -> Option<String> {
    socket.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 512];
    let n = socket.recv(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[test]
fn systemd_hears_ready_watchdog_pings_and_stopping() {
    let env = Env::new("");
    let path = env.dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let worker = env.worker(
        "notified",
        &[
            ("NOTIFY_SOCKET", path.to_str().unwrap()),
            ("WATCHDOG_USEC", "400000"),
        ],
    );
    let first = receive(&socket, Duration::from_secs(30));
    assert_eq!(
        first.as_deref(),
        Some("READY=1\n"),
        "log:\n{}",
        worker.log_text()
    );
    let ping = receive(&socket, Duration::from_secs(5));
    assert_eq!(ping.as_deref(), Some("WATCHDOG=1\n"));

    worker.terminate();
    let deadline = Instant::now() + Duration::from_secs(20);
    let stopping = loop {
        let message = receive(&socket, Duration::from_secs(20)).expect("a message after SIGTERM");
        if message != "WATCHDOG=1\n" {
            break message;
        }
        assert!(Instant::now() < deadline, "no STOPPING=1");
    };
    assert_eq!(stopping, "STOPPING=1\n");
    worker.stop();
}

#[test]
fn config_check_prints_the_effective_config_with_secrets_redacted() {
    let mut env = Env::new("[credentials]\nservice_account_key = \"/run/secrets/sa.json\"\n");
    env.vars.push((
        "MAILROOM__REDIS__URL".into(),
        "redis://:hunter2@127.0.0.1:1/".into(),
    ));
    env.vars.push((
        "MAILROOM__GOOGLE__TOKEN_URL".into(),
        "https://client:s3cret@oauth.example/token".into(),
    ));
    env.vars
        .push(("MAILROOM__HTTP__LISTEN".into(), "0.0.0.0:9187".into()));
    let out = env.run(&["config", "check"]).ok();
    assert!(
        !out.contains("hunter2") && !out.contains("s3cret"),
        "a secret printed:\n{out}"
    );
    assert!(out.contains("url = \"redis://:***@127.0.0.1:1/\""), "{out}");
    assert!(
        out.contains("token_url = \"https://client:***@oauth.example/token\""),
        "{out}"
    );
    assert!(
        out.contains("service_account_key = \"/run/secrets/sa.json\""),
        "file paths print: {out}"
    );
    assert!(out.contains("[http]\nlisten = \"0.0.0.0:9187\""), "{out}");
    let parsed: toml::Value = toml::from_str(&out).expect("the output is TOML");
    assert_eq!(parsed["worker"]["concurrency"].as_integer(), Some(64));

    env.vars
        .push(("MAILROOM__WORKER__CONCURRENCY".into(), "0".into()));
    let invalid = env.run(&["config", "check"]);
    assert_eq!(invalid.code(), Some(2));
    assert!(
        invalid
            .stderr()
            .contains("worker.concurrency: must be at least 1"),
        "{}",
        invalid.stderr()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn dead_letters_are_filtered_retried_in_bulk_and_queue_stats_show_totals() {
    let env = Env::new("[jobs]\nallowed_senders = [\"*@example.com\"]\n");
    let queue = env.queue().await;
    let eve = queue
        .enqueue(&job("eve@evil.example", "a@example.org", "One"))
        .await
        .unwrap()
        .id;
    let mallory = queue
        .enqueue(&job(
            "Mallory <mallory@evil.example>",
            "b@example.org",
            "Two",
        ))
        .await
        .unwrap()
        .id;
    // A payload pushed straight into Redis that no worker can decode.
    let broken = JobId::new();
    let mut c = redis::Client::open(env.redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let () = c
        .hset_multiple(
            format!("{{mailroom}}:job:{broken}"),
            &[
                ("payload", "{not json"),
                ("state", "queued"),
                ("attempts", "0"),
            ],
        )
        .await
        .unwrap();
    let _: String = c
        .xadd("{mailroom}:ready", "*", &[("id", broken.to_string())])
        .await
        .unwrap();

    let worker = env.worker("w", &[]);
    common::wait_dead(&queue, 3, Duration::from_secs(30)).await;
    worker.stop();

    let listed = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["dead", "list"];
        all.extend_from_slice(args);
        let out = env.run(&all).ok();
        out.lines()
            .skip(1)
            .filter(|l| !l.starts_with("no dead jobs"))
            .map(|l| l.split_whitespace().next().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(listed(&["--reason", "MALFORMED"]), [broken.to_string()]);
    let by_reason = listed(&["--reason", "invalid job: from"]);
    assert_eq!(by_reason.len(), 2, "{by_reason:?}");
    assert_eq!(
        listed(&["--sender", "mallory@evil.example"]),
        [mallory.to_string()]
    );
    assert_eq!(listed(&["--sender", "*@evil.example"]).len(), 2);
    assert_eq!(listed(&["--newer-than", "1h"]).len(), 3);
    assert!(listed(&["--older-than", "1h"]).is_empty());
    assert_eq!(listed(&["--limit", "1"]).len(), 1);
    let table = env
        .run(&["dead", "list", "--sender", "eve@evil.example"])
        .ok();
    assert!(
        table.starts_with("ID") && table.contains("FROM") && table.contains("eve@evil.example"),
        "{table}"
    );
    assert_eq!(
        env.run(&["dead", "list", "--older-than", "soon"]).code(),
        Some(2),
        "a bad duration is invalid input"
    );
    assert_eq!(
        env.run(&["dead", "retry", "--all", &eve.to_string()])
            .code(),
        Some(2),
        "ids and --all exclude each other"
    );

    assert_eq!(
        env.run(&["dead", "purge", "--reason", "malformed"])
            .ok()
            .trim(),
        "purged 1"
    );
    assert_eq!(
        env.run(&["dead", "retry", "--all"]).ok().trim(),
        "retried 2"
    );
    let s = stats(&queue).await;
    assert_eq!((s.dead, s.ready, s.enqueued), (0, 2, 2), "{s:?}");

    let table = env.run(&["queue", "stats"]).ok();
    let row = |name: &str| common::table_row(&table, name);
    assert_eq!(row("ready").as_deref(), Some("2"), "{table}");
    assert_eq!(row("enqueued (all time)").as_deref(), Some("2"), "{table}");
    let oldest = table
        .lines()
        .find(|l| l.starts_with("oldest ready"))
        .unwrap_or_default();
    assert!(!oldest.ends_with('-'), "an oldest ready job: {table}");
    let json: serde_json::Value =
        serde_json::from_str(&env.run(&["queue", "stats", "--json"]).ok()).unwrap();
    assert_eq!(json["enqueued"], 2, "{json}");
    assert!(json["oldest_ready_at"].is_string(), "{json}");

    // --watch redraws until interrupted; without a terminal, tables follow each other.
    let mut watching = env
        .command(&["queue", "stats", "--watch", "1"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    std::process::Command::new("kill")
        .args(["-INT", &watching.id().to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = watching.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "--watch did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    watching
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(status.success(), "{status}: {out}");
    assert!(
        out.matches("METRIC").count() >= 2 && !out.contains('\x1b'),
        "{out}"
    );
}
