//! The stored tokens through the other `mailroom auth` commands: `rotate-key`, `revoke`,
//! `list`, `check` and `new-key`, for stored tokens and service-account senders.

use mailroom_testkit::google::ClientKind;
use mailroom_worker::credentials::TokenKeys;

use crate::common::write_secret;
use crate::{World, http};

#[tokio::test]
async fn rotate_key_re_encrypts_and_the_old_key_alone_no_longer_reads() {
    let world = World::new(ClientKind::Installed, &[]);
    world.enroll("carol@example.com").await;
    world.enroll("dave@example.com").await;
    let k1 = std::fs::read_to_string(&world.keys_file).unwrap();
    let k2 = TokenKeys::generate_line("k2");
    std::fs::write(&world.keys_file, format!("{k2}\n{k1}")).unwrap();

    let out = world.env.run(&["auth", "rotate-key"]).ok();
    assert_eq!(
        out,
        "re-encrypted 2 token(s) under key k2; 0 already used it\n"
    );
    let out = world.env.run(&["auth", "rotate-key"]).ok();
    assert_eq!(
        out,
        "re-encrypted 0 token(s) under key k2; 2 already used it\n"
    );

    std::fs::write(&world.keys_file, &k1).unwrap();
    let out = world.env.run(&["auth", "check", "carol@example.com"]);
    assert_eq!(out.code(), Some(1), "{}", out.stderr());
    assert!(
        out.stdout().contains("key \"k2\" is not in the keyring"),
        "{}",
        out.stdout()
    );

    std::fs::write(&world.keys_file, format!("{k2}\n")).unwrap();
    let out = world.env.run(&["auth", "check"]).ok();
    assert!(out.contains("carol@example.com  ok\n"), "{out}");
    assert!(out.contains("dave@example.com   ok\n"), "{out}");
    assert!(!out.contains(k2.split_once(':').unwrap().1));
}

#[tokio::test]
async fn revoke_makes_google_refuse_the_token() {
    let world = World::new(ClientKind::Installed, &[]);
    let token = world.enroll("carol@example.com").await;
    let out = world.env.run(&["auth", "revoke", "Carol@example.com"]).ok();
    assert_eq!(
        out,
        "revoked the token of carol@example.com and deleted it\n"
    );
    assert!(world.store().await.list().await.unwrap().is_empty());

    // Google refuses the token now.
    let refused = http()
        .post(world.google.token_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", token.as_str()),
            ("client_id", world.client.client_id.as_str()),
            ("client_secret", world.client.client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("invalid_grant"));

    let out = world.env.run(&["auth", "revoke", "carol@example.com"]);
    assert_eq!(out.code(), Some(2));
    assert!(
        out.stderr()
            .contains("no stored token for carol@example.com")
    );

    // A token Google already forgot is still deleted.
    world.enroll("dave@example.com").await;
    world.google.revoke_user("dave@example.com");
    let out = world.env.run(&["auth", "revoke", "dave@example.com"]).ok();
    assert_eq!(
        out,
        "the token of dave@example.com was already invalid at Google; deleted it\n"
    );
    assert!(world.store().await.list().await.unwrap().is_empty());
}

#[tokio::test]
async fn list_and_check_show_health_and_lift_quarantines() {
    let world = World::new(ClientKind::Installed, &["*@example.com"]);
    world.enroll("carol@example.com").await;
    world.enroll("dave@example.com").await;
    let queue = world.env.queue().await;
    queue
        .quarantine_sender("carol@example.com", "invalid_grant")
        .await
        .unwrap();
    queue
        .quarantine_sender("erin@example.com", "invalid_grant")
        .await
        .unwrap();

    let out = world.env.run(&["auth", "list"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        [
            "SENDER", "KIND", "LAST", "REFRESH", "MINUTE", "DAY", "HEALTH"
        ]
    );
    assert!(
        lines[1].starts_with("carol@example.com")
            && lines[1].ends_with("quarantined: invalid_grant"),
        "{out}"
    );
    assert!(lines[1].contains("authorized_user"), "{out}");
    assert!(
        lines[2].starts_with("dave@example.com") && lines[2].ends_with("never refreshed"),
        "{out}"
    );
    assert!(
        lines[3].starts_with("erin@example.com")
            && lines[3].ends_with("quarantined: invalid_grant"),
        "{out}"
    );

    let out = world.env.run(&["auth", "check"]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr());
    assert!(
        out.stdout()
            .contains("carol@example.com  ok (quarantine lifted)"),
        "{}",
        out.stdout()
    );
    assert!(
        out.stdout().contains("dave@example.com   ok\n"),
        "{}",
        out.stdout()
    );

    let out = world.env.run(&["auth", "list", "--json"]).ok();
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rows[0]["sender"], "carol@example.com");
    assert_eq!(rows[0]["health"], "ok");
    assert!(rows[0]["last_refresh"].is_string());
    assert_eq!(rows[2]["health"], "quarantined: invalid_grant");

    world.google.revoke_user("dave@example.com");
    let out = world.env.run(&["auth", "check"]);
    assert_eq!(out.code(), Some(1));
    assert!(
        out.stdout().contains(
            "dave@example.com   grant refused (invalid_grant): Token has been expired or revoked."
        ),
        "{}",
        out.stdout()
    );
    assert!(
        out.stderr()
            .contains("1 of 2 senders have no working credentials")
    );
}

#[test]
fn new_key_prints_a_usable_key_line() {
    let world = World::new(ClientKind::Installed, &[]);
    let out = world.env.run(&["auth", "new-key", "k9"]).ok();
    let keys = TokenKeys::parse(&out, "stdout", false).unwrap();
    assert_eq!(keys.current_id(), "k9");
    let out = world.env.run(&["auth", "new-key", "bad id"]);
    assert_eq!(out.code(), Some(2));
    assert!(
        out.stderr().contains("key id \"bad id\""),
        "{}",
        out.stderr()
    );
}

#[test]
fn a_broken_keyring_is_named_without_its_material() {
    let world = World::new(ClientKind::Installed, &[]);
    let material = base64_of_16();
    std::fs::write(&world.keys_file, format!("# keys\nk1:{material}\n")).unwrap();
    let out = world.env.run(&["auth", "rotate-key"]);
    assert_eq!(out.code(), Some(2));
    let err = out.stderr();
    assert!(
        err.contains(&format!(
            "{}, line 2: key \"k1\" is 16 bytes; AES-256 needs 32",
            world.keys_file.display()
        )),
        "{err}"
    );
    assert!(!err.contains(&material));
}

fn base64_of_16() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode([42u8; 16])
}

#[tokio::test]
async fn list_and_check_cover_service_account_senders() {
    let mut world = World::new(
        ClientKind::Installed,
        &["noreply@example.com", "*@example.org"],
    );
    let account = world
        .google
        .service_account("mailer@project.iam.gserviceaccount.com");
    world.google.add_domain_user("noreply@example.com");
    world.google.add_domain_user("alerts@example.org");
    let key = write_secret(
        world.env.dir.path(),
        "service-account.json",
        account.key_json.as_bytes(),
    );
    world.env.vars.extend([
        (
            "MAILROOM__CREDENTIALS__KIND".to_owned(),
            "service_account".to_owned(),
        ),
        (
            "MAILROOM__CREDENTIALS__SERVICE_ACCOUNT_KEY".to_owned(),
            key.display().to_string(),
        ),
    ]);
    let queue = world.env.queue().await;
    queue
        .quarantine_sender("alerts@example.org", "delegation_denied")
        .await
        .unwrap();

    let out = world.env.run(&["auth", "list"]).ok();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(
        lines[1].starts_with("alerts@example.org")
            && lines[1].contains("service_account")
            && lines[1].ends_with("quarantined: delegation_denied"),
        "{out}"
    );
    assert!(
        lines[2].starts_with("noreply@example.com") && lines[2].ends_with("ok"),
        "{out}"
    );

    // Without delegation nothing works; with it, every exact address does.
    let out = world.env.run(&["auth", "check"]);
    assert_eq!(out.code(), Some(1));
    assert!(
        out.stdout()
            .contains("noreply@example.com  domain-wide delegation not granted"),
        "{}",
        out.stdout()
    );
    world.google.grant_delegation(
        &account.client_id,
        &[mailroom_worker::credentials::GMAIL_SEND_SCOPE],
    );
    let out = world.env.run(&["auth", "check"]).ok();
    assert_eq!(
        out,
        "SENDER               RESULT\nnoreply@example.com  ok\n"
    );
    let out = world.env.run(&["auth", "check", "alerts@example.org"]).ok();
    assert!(
        out.contains("alerts@example.org  ok (quarantine lifted)"),
        "{out}"
    );
}
