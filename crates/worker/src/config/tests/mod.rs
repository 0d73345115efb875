use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

/// The rules that refuse a configuration, each naming its key.
mod rules;

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn file(toml: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(toml.as_bytes()).unwrap();
    f
}

fn load_toml(toml: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let f = file(toml);
    load_with_env(Some(f.path()), env(vars))
}

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../config")
        .join(name)
}

#[track_caller]
fn assert_names(result: Result<Config, ConfigError>, key: &str) {
    let err = result.expect_err("config should be refused");
    let text = err.to_string();
    assert!(text.contains(key), "error should name {key}: {text}");
}

#[test]
fn defaults_load_without_a_file() {
    let config = load_with_env(None, HashMap::new()).unwrap();
    assert_eq!(config.environment, Environment::Development);
    assert_eq!(config.redis.url.expose(), "redis://127.0.0.1:6379/");
    assert_eq!(config.worker.concurrency, 64);
    assert_eq!(config.worker.shutdown_grace, Duration::from_secs(30));
    assert_eq!(config.worker.max_held_bytes, 64 << 20);
    assert!(!config.worker.name.is_empty());
    assert_eq!(
        config.queue_config(),
        mailroom_queue::QueueConfig::default()
    );
    assert_eq!(
        config.retry_policy(),
        mailroom_queue::RetryPolicy::default()
    );
    assert_eq!(config.policy().unwrap(), mailroom_jobs::Policy::default());
    assert_eq!(config.transport.kind, TransportKind::Outbox);
    assert_eq!(config.transport.outbox.dir, PathBuf::from("./outbox"));
    assert_eq!(config.log.format, LogFormat::Pretty);
}

#[test]
fn the_shipped_default_file_equals_the_built_in_defaults() {
    let mut from_file = load_with_env(Some(&shipped("default.toml")), HashMap::new()).unwrap();
    let defaults = load_with_env(None, HashMap::new()).unwrap();
    from_file.worker.name.clone_from(&defaults.worker.name);
    assert_eq!(from_file, defaults);
}

#[test]
fn the_shipped_production_example_loads() {
    let config = load_with_env(Some(&shipped("production.example.toml")), HashMap::new()).unwrap();
    assert_eq!(config.environment, Environment::Production);
    assert_eq!(config.log.format, LogFormat::Json);
    assert_eq!(config.worker.concurrency, 128);
    let policy = config.policy().unwrap();
    let allowed = policy.allowed_senders.expect("an allowlist");
    assert!(allowed.allows(&"noreply@example.com".parse().unwrap()));
    assert!(
        !format!("{config:?}").contains("CHANGE-ME"),
        "the Redis password must not reach Debug"
    );
}

#[test]
fn the_environment_overrides_the_file() {
    let config = load_toml(
        "[worker]\nconcurrency = 8\nname = \"w1\"\n[queue]\nlease = \"10s\"\n",
        &[
            ("MAILROOM__WORKER__CONCURRENCY", "3"),
            ("MAILROOM__QUEUE__LEASE", "2s"),
            ("MAILROOM__REDIS__URL", "redis://10.0.0.1:6380/2"),
            ("MAILROOM__TRANSPORT__KIND", "null"),
            ("MAILROOM__TRANSPORT__OUTBOX__DIR", "/tmp/x"),
            (
                "MAILROOM__JOBS__ALLOWED_SENDERS",
                "a@example.com, *@example.org",
            ),
            ("MAILROOM__LOG__FORMAT", "json"),
            ("OTHER__WORKER__CONCURRENCY", "99"),
        ],
    )
    .unwrap();
    assert_eq!(config.worker.concurrency, 3);
    assert_eq!(
        config.worker.name, "w1",
        "keys the environment leaves alone keep the file's value"
    );
    assert_eq!(config.queue.lease, Duration::from_secs(2));
    assert_eq!(config.redis.url.expose(), "redis://10.0.0.1:6380/2");
    assert_eq!(config.transport.kind, TransportKind::Null);
    assert_eq!(config.transport.outbox.dir, PathBuf::from("/tmp/x"));
    assert_eq!(
        config.jobs.allowed_senders,
        ["a@example.com", "*@example.org"]
    );
    assert_eq!(config.log.format, LogFormat::Json);
}

#[test]
fn an_empty_sender_list_needs_no_allowlist_where_nobody_is_impersonated() {
    let config = load_toml(
        "[jobs]\nallowed_senders = [\"a@example.com\"]\n",
        &[("MAILROOM__JOBS__ALLOWED_SENDERS", "")],
    )
    .unwrap();
    assert!(config.jobs.allowed_senders.is_empty());
    assert_eq!(config.policy().unwrap().allowed_senders, None, "outbox");
}

const GMAIL: &[(&str, &str)] = &[
    ("MAILROOM__TRANSPORT__KIND", "gmail"),
    (
        "MAILROOM__CREDENTIALS__SERVICE_ACCOUNT_KEY",
        "/run/secrets/sa.json",
    ),
];

#[test]
fn an_empty_sender_list_with_gmail_is_refused_naming_the_key() {
    for environment in ["development", "production"] {
        let vars = [GMAIL, &[("MAILROOM__ENVIRONMENT", environment)]].concat();
        assert_names(load_with_env(None, env(&vars)), "jobs.allowed_senders");
        // Set to nothing in the environment is the same empty list, never "any".
        let cleared = [vars.as_slice(), &[("MAILROOM__JOBS__ALLOWED_SENDERS", "")]].concat();
        let err =
            load_toml("[jobs]\nallowed_senders = [\"a@example.com\"]\n", &cleared).unwrap_err();
        assert_eq!(err.key(), Some("jobs.allowed_senders"), "{err}");
    }
}

#[test]
fn any_sender_takes_an_explicit_star() {
    let vars = [GMAIL, &[("MAILROOM__JOBS__ALLOWED_SENDERS", "*")]].concat();
    let config = load_with_env(None, env(&vars)).unwrap();
    let list = config.policy().unwrap().allowed_senders.expect("a list");
    assert!(list.allows_any());
    let vars = [
        GMAIL,
        &[("MAILROOM__JOBS__ALLOWED_SENDERS", "*@example.com")],
    ]
    .concat();
    let config = load_with_env(None, env(&vars)).unwrap();
    let list = config.policy().unwrap().allowed_senders.expect("a list");
    assert!(!list.allows_any());
    assert!(!list.allows(&"ceo@other.example".parse().unwrap()));
}

#[test]
fn a_queue_name_of_digits_stays_a_string() {
    let config = load_with_env(
        None,
        env(&[
            ("MAILROOM__QUEUE__NAME", "42"),
            ("MAILROOM__WORKER__NAME", "true"),
        ]),
    )
    .unwrap();
    assert_eq!(config.queue.name, "42");
    assert_eq!(config.worker.name, "true");
}

#[test]
fn unknown_keys_are_refused_by_name() {
    assert_names(load_toml("[worker]\nconcurency = 3\n", &[]), "concurency");
    assert_names(load_toml("[wrker]\nconcurrency = 3\n", &[]), "wrker");
    assert_names(
        load_with_env(None, env(&[("MAILROOM__WORKER__THREADS", "3")])),
        "threads",
    );
}

#[test]
fn values_of_the_wrong_type_are_refused_by_key() {
    assert_names(
        load_toml("[worker]\nconcurrency = \"many\"\n", &[]),
        "worker.concurrency",
    );
    assert_names(load_toml("[queue]\nlease = \"soon\"\n", &[]), "queue.lease");
    assert_names(
        load_toml("[transport]\nkind = \"pigeon\"\n", &[]),
        "transport.kind",
    );
    assert_names(
        load_with_env(None, env(&[("MAILROOM__QUEUE__LEASE", "60")])),
        "queue.lease",
    );
}

#[test]
fn a_missing_or_malformed_file_is_refused() {
    assert_names(
        load_with_env(
            Some(Path::new("/nonexistent/mailroom.toml")),
            HashMap::new(),
        ),
        "/nonexistent/mailroom.toml",
    );
    assert!(load_toml("[worker\nconcurrency = 3\n", &[]).is_err());
}
