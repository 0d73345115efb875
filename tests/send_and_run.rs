//! `mailroom send` then `mailroom run`: a job goes from the command line through Redis to an
//! `.eml` file in the outbox; bad input is refused before anything is queued.

mod common;

use std::time::Duration;

use common::{Backing, Env, eventually, stats};
use mail_parser::{MessageParser, MimeHeaders};
use mailroom_jobs::JobId;
use mailroom_queue::JobState;
use mailroom_testkit::{RedisOptions, RedisServer, TestCerts};

#[tokio::test(flavor = "multi_thread")]
async fn a_job_sent_with_flags_lands_in_the_outbox_and_reads_back() {
    let env = Env::new("");
    let attachment: Vec<u8> = (0u8..=255).cycle().take(3000).collect();
    let report = common::write_secret(env.dir.path(), "report.pdf", &attachment);
    let subject = "Grüße aus Köln — 東京 ✓";

    let out = env.run(&[
        "send",
        "--from",
        "Mailroom <noreply@example.com>",
        "--to",
        "Zoë Dupont <zoe@example.org>",
        "--to",
        "bob@example.net",
        "--subject",
        subject,
        "--text",
        "Bonjour Zoë",
        "--attach",
        report.to_str().unwrap(),
        "--header",
        "X-Campaign: spring",
        "--meta",
        "customer=42",
        "--tag",
        "reports",
    ]);
    let id: JobId = out.ok().trim().parse().expect("send prints the job id");

    let worker = env.worker("w1", &[]);
    let eml = env.outbox.join(format!("{id}.eml"));
    eventually(Duration::from_secs(30), "the .eml file", || {
        let exists = eml.exists();
        async move { exists }
    })
    .await;

    let bytes = std::fs::read(&eml).unwrap();
    let msg = MessageParser::default()
        .parse(&bytes)
        .expect("a parsable message");
    let from = msg.from().and_then(|a| a.first()).expect("From");
    assert_eq!(from.address(), Some("noreply@example.com"));
    let to: Vec<_> = msg
        .to()
        .expect("To")
        .iter()
        .filter_map(|a| a.address())
        .collect();
    assert_eq!(to, ["zoe@example.org", "bob@example.net"]);
    assert_eq!(
        msg.to().unwrap().first().unwrap().name(),
        Some("Zoë Dupont")
    );
    assert_eq!(msg.subject(), Some(subject));
    assert_eq!(msg.message_id(), Some(format!("{id}@example.com").as_str()));
    assert_eq!(
        msg.body_text(0).as_deref().map(str::trim_end),
        Some("Bonjour Zoë")
    );
    assert_eq!(
        msg.header("X-Campaign").and_then(|h| h.as_text()),
        Some("spring")
    );
    let part = msg.attachment(0).expect("one attachment");
    assert_eq!(part.attachment_name(), Some("report.pdf"));
    assert_eq!(
        part.content_type().map(|c| (c.ctype(), c.subtype())),
        Some(("application", Some("pdf")))
    );
    assert_eq!(part.contents(), attachment.as_slice());

    let status = env.run(&["status", &id.to_string()]).ok();
    assert!(status.contains("sent"), "{status}");
    assert!(
        status.contains(&format!("{id}.eml")),
        "status shows the transport id: {status}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&env.run(&["status", &id.to_string(), "--json"]).ok()).unwrap();
    assert_eq!(json["state"], "sent");
    assert_eq!(json["metadata"]["customer"], "42");

    let log = worker.stop();
    assert!(
        !log.contains("zoe@example.org") && !log.contains("bob@example.net"),
        "full recipients in the log:\n{log}"
    );
    assert!(
        log.contains("z***@example.org"),
        "masked recipients in the log:\n{log}"
    );
    let sent_line = log
        .lines()
        .find(|l| l.contains("message sent"))
        .expect("a log line for the send");
    assert!(
        sent_line.contains("reports") && sent_line.contains("customer=42"),
        "tags and metadata echoed in the log: {sent_line}"
    );
}

/// The queue's enqueue script, run exactly as `crates/queue/README.md` tells a service in
/// another language to run it.
const ENQUEUE_LUA: &str = include_str!("../crates/queue/src/lua/enqueue.lua");

#[tokio::test(flavor = "multi_thread")]
async fn a_job_pushed_by_the_protocol_without_an_id_goes_out_under_its_record_id() {
    let env = Env::new("");
    let queue = env.queue().await;
    let id = "01M8TXHYT8RBC3YWADV5FXJSBG";
    let payload = r#"{"version":"v1","from":"py@example.com","to":["x@example.org"],"subject":"from python","text":"hi"}"#;
    let keys: Vec<String> = ["v2:ready", "scheduled", "dead", "workers"]
        .iter()
        .map(|k| format!("{{mailroom}}:{k}"))
        .collect();
    let target = mailroom_queue::RedisTarget::parse(&env.redis.url()).unwrap();
    let mut conn = mailroom_queue::Conn::open(&target, None, Duration::from_secs(5))
        .await
        .unwrap();
    let _: redis::Value = redis::Script::new(ENQUEUE_LUA)
        .key(&keys)
        .arg("{mailroom}")
        .arg(chrono::Utc::now().timestamp_millis())
        .arg(86_400)
        .arg(id)
        .arg("")
        .arg(payload)
        .arg(0)
        .arg(0)
        .arg(r#"{"metadata":{},"tags":[]}"#)
        .invoke_async(&mut conn)
        .await
        .unwrap();

    let mut worker = env.worker("w", &[]);
    env.wait_for_outbox(&mut worker, 1, Duration::from_secs(20));
    let files = env.outbox_files();
    assert_eq!(
        files[0].file_name().unwrap().to_str().unwrap(),
        format!("{id}.eml"),
        "the outbox file is named by the record's id"
    );
    let raw = std::fs::read(&files[0]).unwrap();
    let message = MessageParser::default().parse(&raw).unwrap();
    assert_eq!(
        message.message_id(),
        Some(format!("{id}@example.com").as_str())
    );
    // The message is written before its outcome is recorded: wait for the record.
    let job_id: JobId = id.parse().unwrap();
    let q = &queue;
    eventually(
        Duration::from_secs(20),
        "the job recorded as sent",
        || async move { q.status(job_id).await.unwrap().map(|s| s.state) == Some(JobState::Sent) },
    )
    .await;
    let log = worker.stop();
    assert!(
        log.contains(&format!("\"job\":\"{id}\"")),
        "the log names the record's id: {log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_whole_job_is_read_as_json_from_stdin() {
    let env = Env::new("");
    let job = br#"{"version":"v1","from":"noreply@example.com","to":["ann@example.org"],
                   "subject":"From stdin","text":"hi","idempotency_key":"order-7"}"#;
    let out = env.run_with_stdin(&["send", "--json", "-"], job);
    let id: JobId = out.ok().trim().parse().expect("a job id");
    assert!(out.stderr().is_empty(), "{}", out.stderr());

    let again = env.run_with_stdin(&["send", "--json", "-"], job);
    assert_eq!(
        again.ok().trim(),
        id.to_string(),
        "a duplicate answers with the first id"
    );
    assert!(
        again.stderr().contains(&format!("duplicate of {id}")),
        "{}",
        again.stderr()
    );

    let queue = env.queue().await;
    assert_eq!(
        queue.status(id).await.unwrap().map(|s| s.state),
        Some(JobState::Queued)
    );
    assert_eq!(stats(&queue).await.ready, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_jobs_exit_2_naming_the_field_and_queue_nothing() {
    let env = Env::new("[jobs]\nallowed_senders = [\"*@example.com\"]\n");
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "send",
                "--from",
                "noreply@example.com",
                "--to",
                "bob@",
                "--text",
                "x",
            ],
            "invalid job: to: ",
        ),
        (
            &["send", "--from", "noreply@example.com", "--text", "x"],
            "invalid job: to: ",
        ),
        (
            &[
                "send",
                "--from",
                "eve@evil.example",
                "--to",
                "bob@example.org",
                "--text",
                "x",
            ],
            "invalid job: from: ",
        ),
        (
            &[
                "send",
                "--from",
                "noreply@example.com",
                "--to",
                "b@example.org",
                "--send-at",
                "tomorrow",
            ],
            "invalid job: send_at: ",
        ),
        (
            &[
                "send",
                "--from",
                "noreply@example.com",
                "--to",
                "b@example.org",
                "--header",
                "Nope",
            ],
            "invalid job: headers: ",
        ),
    ];
    for (args, expected) in cases {
        let out = env.run(args);
        assert_eq!(out.code(), Some(2), "{args:?}: {}", out.stderr());
        assert!(
            out.stderr().starts_with(&format!("error: {expected}")),
            "{args:?}: {}",
            out.stderr()
        );
        assert!(out.stdout().is_empty());
    }
    let bad_json = env.run_with_stdin(
        &["send", "--json", "-"],
        br#"{"version":"v1","from":"noreply@example.com","to":["x@"],"subject":"s"}"#,
    );
    assert_eq!(bad_json.code(), Some(2));
    assert!(
        bad_json.stderr().contains("invalid job: to[0]: "),
        "{}",
        bad_json.stderr()
    );

    let stats: serde_json::Value =
        serde_json::from_str(&env.run(&["queue", "stats", "--json"]).ok()).unwrap();
    assert_eq!(stats["ready"], 0, "{stats}");
    assert_eq!(stats["scheduled"], 0, "{stats}");
}

#[test]
fn send_exits_1_when_redis_is_down() {
    let mut env = Env::new("");
    env.redis.kill();
    let out = env.run(&[
        "send",
        "--from",
        "noreply@example.com",
        "--to",
        "bob@example.org",
        "--text",
        "x",
    ]);
    assert_eq!(out.code(), Some(1), "{}", out.stderr());
    assert!(
        out.stderr()
            .contains("error: redis unavailable at redis://127.0.0.1:"),
        "{}",
        out.stderr()
    );
    assert!(out.stdout().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn send_and_run_over_mutual_tls_with_the_redis_tls_keys() {
    let certs = TestCerts::generate();
    let server = RedisServer::start_with(RedisOptions {
        tls: Some(certs.server(true)),
        ..RedisOptions::default()
    });
    let mut env = Env::on(Backing::Server(server), "");
    assert!(env.redis.url().starts_with("rediss://"));
    // Without the client certificate the server refuses the connection.
    let ca = certs.ca_file().display().to_string();
    env.vars
        .push(("MAILROOM__REDIS__TLS_CA_FILE".to_owned(), ca.clone()));
    let refused = env.run(&[
        "send",
        "--from",
        "a@example.com",
        "--to",
        "b@example.org",
        "--subject",
        "s",
        "--text",
        "t",
    ]);
    assert_eq!(refused.code(), Some(1), "{}", refused.stderr());
    assert!(
        refused.stderr().contains("redis unavailable"),
        "{}",
        refused.stderr()
    );
    for (key, path) in [
        ("MAILROOM__REDIS__TLS_CERT_FILE", certs.cert_file()),
        ("MAILROOM__REDIS__TLS_KEY_FILE", certs.key_file()),
    ] {
        env.vars.push((key.to_owned(), path.display().to_string()));
    }
    let check = env.run(&["config", "check"]).ok();
    assert!(
        check.contains(&format!("tls_ca_file = \"{ca}\"")),
        "{check}"
    );

    let out = env.run(&[
        "send",
        "--from",
        "a@example.com",
        "--to",
        "b@example.org",
        "--subject",
        "over TLS",
        "--text",
        "t",
    ]);
    let id: JobId = out.ok().trim().parse().expect("send prints the job id");
    let mut worker = env.worker("w", &[]);
    env.wait_for_outbox(&mut worker, 1, Duration::from_secs(30));
    assert_eq!(
        env.outbox_files()[0].file_name().unwrap().to_str().unwrap(),
        format!("{id}.eml")
    );
    worker.stop();
}
