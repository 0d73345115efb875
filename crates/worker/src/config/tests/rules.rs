//! The rules that refuse a configuration, each naming its key.

use super::*;

#[test]
fn each_rule_names_its_key() {
    let cases: &[(&str, &str)] = &[
        (
            "[worker]\nconcurrency = 0",
            "worker.concurrency: must be at least 1",
        ),
        ("[worker]\nname = \" \"", "worker.name"),
        (
            "[worker]\nmax_held_bytes = 1000",
            "worker.max_held_bytes: must be at least 1048576",
        ),
        ("[redis]\nurl = \"http://localhost\"", "redis.url"),
        ("[redis]\nurl = \"redis+cluster://\"", "redis.url"),
        (
            "[redis]\nurl = \"redis+sentinel://s1:26379\"",
            "redis.url: url: names no primary",
        ),
        (
            "[redis]\nmin_replicas_ack = 101",
            "redis.min_replicas_ack: must be at most 100",
        ),
        (
            "[redis]\nreplica_ack_timeout = \"0s\"",
            "redis.replica_ack_timeout: must be at least 1ms",
        ),
        (
            "[redis]\ntls_ca_file = \"/ca.pem\"",
            "redis.tls_ca_file: is set but redis.url does not use TLS",
        ),
        (
            "[redis]\nurl = \"rediss://db:6380/\"\ntls_cert_file = \"/c.pem\"",
            "redis.tls_key_file: must be set with redis.tls_cert_file",
        ),
        (
            "[redis]\nurl = \"rediss+sentinel://s1/m\"\ntls_key_file = \"/c.key\"",
            "redis.tls_cert_file: must be set with redis.tls_key_file",
        ),
        (
            "[redis]\nurl = \"rediss://db:6380/#insecure\"",
            "redis.url: url: #insecure",
        ),
        ("[queue]\nname = \"a b\"", "queue.name"),
        ("[queue]\nlease = \"500ms\"", "queue.lease"),
        ("[queue]\nmax_deliveries = 0", "queue.max_deliveries"),
        ("[queue]\nblock = \"0s\"", "queue.block"),
        ("[queue]\nschedule_tick = \"0s\"", "queue.schedule_tick"),
        ("[queue]\nbatch = 0", "queue.batch"),
        ("[queue]\npromote_batch = 0", "queue.promote_batch"),
        ("[queue]\ndedup_ttl = \"0s\"", "queue.dedup_ttl"),
        ("[retry]\nbase = \"0s\"", "retry.base"),
        ("[retry]\nbase = \"10s\"\ncap = \"5s\"", "retry.cap"),
        ("[retry]\nmax_attempts = 0", "retry.max_attempts"),
        ("[retry]\ngive_up_after = \"0s\"", "retry.give_up_after"),
        ("[jobs]\nmax_recipients = 0", "jobs.max_recipients"),
        ("[jobs]\nmax_message_bytes = 0", "jobs.max_message_bytes"),
        (
            "[jobs]\nallowed_senders = [\"ok@example.com\", \"*.example.com\"]",
            "jobs.allowed_senders[1]",
        ),
        ("[transport.outbox]\ndir = \"\"", "transport.outbox.dir"),
        ("[log]\nlevel = \"[[nonsense\"", "log.level"),
    ];
    for (toml, key) in cases {
        assert_names(load_toml(toml, &[]), key);
    }
}

#[test]
fn production_refuses_the_outbox_unless_allowed() {
    let refused = load_toml("environment = \"production\"\n", &[]).unwrap_err();
    assert_eq!(refused.key(), Some("transport.kind"));
    assert!(
        refused.to_string().contains("allow_outbox_in_production"),
        "{refused}"
    );
    let allowed = load_toml(
        "environment = \"production\"\n[transport]\nallow_outbox_in_production = true\n",
        &[],
    );
    assert!(allowed.is_ok(), "{allowed:?}");
    let null = load_with_env(
        None,
        env(&[
            ("MAILROOM__ENVIRONMENT", "production"),
            ("MAILROOM__TRANSPORT__KIND", "null"),
        ]),
    );
    assert!(null.is_ok(), "{null:?}");
}

#[test]
fn the_gmail_transport_needs_its_credentials_named_by_key() {
    let env = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<HashMap<_, _>>()
    };
    let err = load_with_env(None, env(&[("MAILROOM__TRANSPORT__KIND", "gmail")])).unwrap_err();
    assert_eq!(err.key(), Some("credentials.service_account_key"));
    let err = load_with_env(
        None,
        env(&[
            ("MAILROOM__TRANSPORT__KIND", "gmail"),
            ("MAILROOM__CREDENTIALS__KIND", "authorized_user"),
        ]),
    )
    .unwrap_err();
    assert_eq!(err.key(), Some("credentials.client_secrets"));
    let err = load_with_env(None, env(&[("MAILROOM__QUOTA__SENDER_PER_MINUTE", "0")])).unwrap_err();
    assert_eq!(err.key(), Some("quota.sender_per_minute"));
    let err = load_with_env(
        None,
        env(&[("MAILROOM__GOOGLE__API_BASE", "gmail.example")]),
    )
    .unwrap_err();
    assert_eq!(err.key(), Some("google.api_base"));
    let ok = load_with_env(
        None,
        env(&[
            ("MAILROOM__TRANSPORT__KIND", "gmail"),
            (
                "MAILROOM__CREDENTIALS__SERVICE_ACCOUNT_KEY",
                "/run/secrets/sa.json",
            ),
            ("MAILROOM__QUOTA__SENDER_PER_DAY", "500"),
            ("MAILROOM__JOBS__ALLOWED_SENDERS", "*@example.com"),
        ]),
    )
    .unwrap();
    assert_eq!(ok.sender_limits().per_day, 500);
    assert_eq!(ok.sender_limits().per_minute, 150);
}

#[test]
fn the_http_listener_is_an_address_or_off() {
    let defaults = load_with_env(None, HashMap::new()).unwrap();
    assert_eq!(
        defaults.http.listen,
        Some(std::net::SocketAddr::from(([127, 0, 0, 1], 9187)))
    );
    assert_eq!(defaults.http.refresh, Duration::from_secs(5));
    let production = load_with_env(Some(&shipped("production.example.toml")), HashMap::new());
    assert_eq!(
        production.unwrap().http.listen,
        Some(std::net::SocketAddr::from(([0, 0, 0, 0], 9187)))
    );

    let config = load_toml("[http]\nlisten = \"[::1]:9100\"\nrefresh = \"1s\"\n", &[]).unwrap();
    assert_eq!(config.http.listen, Some("[::1]:9100".parse().unwrap()));
    assert_eq!(config.http.refresh, Duration::from_secs(1));
    for off in ["off", "OFF", ""] {
        let config = load_toml("", &[("MAILROOM__HTTP__LISTEN", off)]).unwrap();
        assert_eq!(config.http.listen, None, "{off:?}");
    }

    let err = load_toml("[http]\nlisten = \"localhost\"\n", &[]).unwrap_err();
    assert!(err.to_string().starts_with("http.listen: "), "{err}");
    let err = load_toml("", &[("MAILROOM__HTTP__REFRESH", "10ms")]).unwrap_err();
    assert_eq!(err.key(), Some("http.refresh"));
}

#[test]
fn production_refuses_plain_http_google_endpoints_by_key() {
    let vars = [
        GMAIL,
        &[
            ("MAILROOM__JOBS__ALLOWED_SENDERS", "noreply@example.com"),
            ("MAILROOM__GOOGLE__TOKEN_URL", "http://oauth.example/token"),
        ],
    ]
    .concat();
    let development = load_with_env(None, env(&vars));
    assert!(development.is_ok(), "{development:?}");
    let production = [vars.as_slice(), &[("MAILROOM__ENVIRONMENT", "production")]].concat();
    let err = load_with_env(None, env(&production)).unwrap_err();
    assert_eq!(err.key(), Some("google.token_url"), "{err}");
    assert!(err.to_string().contains("https://"), "{err}");
}

#[test]
fn centuries_are_refused_naming_the_key() {
    for (var, key) in [
        ("MAILROOM__RETRY__MAX_RETRY_AFTER", "retry.max_retry_after"),
        (
            "MAILROOM__CREDENTIALS__SENDER_IDLE",
            "credentials.sender_idle",
        ),
        ("MAILROOM__WORKER__SHUTDOWN_GRACE", "worker.shutdown_grace"),
    ] {
        let err = load_with_env(None, env(&[(var, "200years")])).unwrap_err();
        assert_eq!(err.key(), Some(key), "{err}");
    }
    assert!(
        load_with_env(
            None,
            env(&[("MAILROOM__QUEUE__DEAD_RETENTION", "3650days")])
        )
        .is_ok()
    );
}

#[test]
fn api_section_rules_name_their_keys() {
    let config = load_with_env(None, HashMap::new()).unwrap();
    assert_eq!(
        config.api.listen,
        Some(std::net::SocketAddr::from(([127, 0, 0, 1], 8025)))
    );
    assert_eq!(config.api.keys_file, None);
    assert_names(
        load_toml("[api]\nmax_body_bytes = 10\n", &[]),
        "api.max_body_bytes",
    );
    assert_names(
        load_toml(
            "[api]\nmax_body_bytes = 4096\nmax_batch_bytes = 2048\n",
            &[],
        ),
        "api.max_batch_bytes",
    );
    assert_names(
        load_toml("[api]\nlisten = \"127.0.0.1:9187\"\n", &[]),
        "api.listen",
    );
    assert_names(
        load_toml("[api]\nlisten = \"nowhere\"\n", &[]),
        "api.listen",
    );
    assert_names(load_toml("[api]\nkeys = \"x\"\n", &[]), "keys");
    assert_eq!(config.api.session_ttl, Duration::from_secs(12 * 3600));
    assert!(!config.api.console_secure_cookies);
    assert_eq!(config.api.session_key_file, None);
    assert_names(
        load_toml("[api]\nsession_ttl = \"30s\"\n", &[]),
        "api.session_ttl",
    );
    let console = load_toml(
        "[api]\nsession_ttl = \"1h\"\nconsole_secure_cookies = true\n",
        &[],
    )
    .unwrap();
    assert_eq!(console.api.session_ttl, Duration::from_secs(3600));
    assert!(console.api.console_secure_cookies);
    let from_env = load_with_env(
        None,
        env(&[("MAILROOM__API__KEYS_FILE", "/etc/mailroom/api-keys")]),
    )
    .unwrap();
    assert_eq!(
        from_env.api.keys_file,
        Some(PathBuf::from("/etc/mailroom/api-keys"))
    );
}
