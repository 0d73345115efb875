//! The operator commands: `config check` with secrets redacted, `dead list/retry/purge` with
//! filters, and `queue stats` (as a table, as JSON, and redrawn with `--watch`).

use std::io::{BufRead as _, BufReader};
use std::time::{Duration, Instant};

use mailroom_jobs::JobId;
use redis::AsyncCommands;

use crate::common::{self, Env, job, stats};

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
    // Read what it prints as it prints it, and interrupt it once a second table is complete
    // (each ends with an empty line); it listens for Ctrl-C from its first table on, while it
    // waits for a tick and while it draws.
    let stdout = watching.stdout.take().unwrap();
    let (tables, redrawn) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let mut in_table = false;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.contains("METRIC") {
                in_table = true;
            } else if in_table && line.is_empty() {
                in_table = false;
                let _ = tables.send(());
            }
            out.push_str(&line);
            out.push('\n');
        }
        out
    });
    for n in 1..=2 {
        assert!(
            redrawn.recv_timeout(Duration::from_secs(30)).is_ok(),
            "--watch printed fewer than {n} tables"
        );
    }
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
    let out = reader.join().unwrap();
    assert!(status.success(), "{status}: {out}");
    assert!(
        out.matches("METRIC").count() >= 2 && !out.contains('\x1b'),
        "{out}"
    );
}
