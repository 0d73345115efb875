//! The binary's configuration: defaults without a file, the environment over the file, and
//! refusals that name the key and exit 2.

mod common;

use common::{Env, MAILROOM};

#[test]
fn defaults_apply_without_a_file() {
    let env = Env::new("");
    let out = std::process::Command::new(&*MAILROOM)
        .env_clear()
        .env("MAILROOM__REDIS__URL", env.redis.url())
        .args(["queue", "stats", "--json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["ready"], 0);
}

#[test]
fn the_environment_overrides_the_file() {
    let mut env = Env::new("");
    let url = env.redis.url();
    std::fs::write(&env.config, "[redis]\nurl = \"redis://127.0.0.1:1/\"\n").unwrap();
    let refused = env.run(&["queue", "stats"]);
    assert_eq!(refused.code(), Some(1), "the file's Redis is unreachable");
    assert!(
        refused
            .stderr()
            .contains("redis unavailable at redis://127.0.0.1:1/"),
        "{}",
        refused.stderr()
    );

    env.vars.push(("MAILROOM__REDIS__URL".into(), url));
    env.vars
        .push(("MAILROOM__QUEUE__NAME".into(), "other".into()));
    let table = env.run(&["queue", "stats"]).ok();
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("queue") && l.ends_with("other")),
        "{table}"
    );
}

#[test]
fn invalid_values_exit_2_naming_the_key() {
    let mut env = Env::new("");
    env.vars
        .push(("MAILROOM__WORKER__CONCURRENCY".into(), "0".into()));
    let out = env.run(&["run"]);
    assert_eq!(out.code(), Some(2));
    assert!(
        out.stderr()
            .contains("worker.concurrency: must be at least 1"),
        "{}",
        out.stderr()
    );

    let env = Env::new("[worker]\nconcurency = 4\n");
    let out = env.run(&["run"]);
    assert_eq!(out.code(), Some(2));
    assert!(
        out.stderr().contains("worker.concurency: unknown key"),
        "{}",
        out.stderr()
    );

    let env = Env::new("[queue]\nlease = \"a while\"\n");
    let out = env.run(&["queue", "stats"]);
    assert_eq!(out.code(), Some(2));
    assert!(out.stderr().contains("queue.lease: "), "{}", out.stderr());
}

#[test]
fn production_refuses_the_outbox_unless_allowed() {
    let mut env = Env::new("");
    env.vars
        .push(("MAILROOM__ENVIRONMENT".into(), "production".into()));
    let out = env.run(&["run"]);
    assert_eq!(out.code(), Some(2));
    assert!(
        out.stderr()
            .contains("transport.kind: the outbox transport is refused in production"),
        "{}",
        out.stderr()
    );

    env.vars.push((
        "MAILROOM__TRANSPORT__ALLOW_OUTBOX_IN_PRODUCTION".into(),
        "true".into(),
    ));
    env.run(&["queue", "stats"]).ok();
}
