//! What an enrollment refuses or cleans up: an address Google has not verified, an account
//! outside `credentials.hosted_domain`, a grant whose scope is unknown until tokeninfo says;
//! signing in again revokes the refresh token it replaces; secret files others may read.

use mailroom_testkit::google::ClientKind;
use secrecy::ExposeSecret as _;

use crate::World;
use crate::login::{Login, follow};

/// Whether Google still honours `refresh_token` for the world's client.
async fn refresh_works(world: &World, refresh_token: &str) -> bool {
    let answer = reqwest::Client::new()
        .post(world.google.token_url())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", world.client.client_id.as_str()),
            ("client_secret", world.client.client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    answer.status().is_success()
}

#[tokio::test]
async fn an_address_google_has_not_verified_cannot_enroll() {
    let world = World::new(ClientKind::Installed, &["*@example.com"]);
    world.google.set_consenting_user("eve@example.com");
    world.google.set_email_unverified("eve@example.com");
    let login = Login::start(&world, &[]);
    let (_, page) = follow(&login.url).await;
    let (code, _, stderr) = login.finish();
    assert_ne!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("Google has not verified the address eve@example.com"),
        "{stderr}"
    );
    assert!(page.contains("has not verified"), "{page}");
    assert!(
        world
            .store()
            .await
            .get("eve@example.com")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn an_account_outside_the_hosted_domain_cannot_enroll() {
    let mut world = World::new(ClientKind::Installed, &["*@example.com", "*@gmail.test"]);
    world.env.vars.push((
        "MAILROOM__CREDENTIALS__HOSTED_DOMAIN".to_owned(),
        "example.com".to_owned(),
    ));
    world.google.add_domain_user("ann@example.com");
    world.google.set_consenting_user("bob@gmail.test");
    let login = Login::start(&world, &[]);
    follow(&login.url).await;
    let (code, _, stderr) = login.finish();
    assert_ne!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains(
            "bob@gmail.test is not an account of the Workspace domain example.com \
             (credentials.hosted_domain)"
        ),
        "{stderr}"
    );

    world.google.set_consenting_user("ann@example.com");
    let login = Login::start(&world, &[]);
    follow(&login.url).await;
    let (code, stdout, stderr) = login.finish();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stdout, "stored a token for ann@example.com\n");
}

#[tokio::test]
async fn a_grant_that_names_no_scope_is_checked_through_tokeninfo() {
    let world = World::new(ClientKind::Installed, &["*@example.com"]);
    world.google.set_consenting_user("carol@example.com");
    world.google.omit_granted_scope(true);
    let login = Login::start(&world, &[]);
    follow(&login.url).await;
    let (code, _, stderr) = login.finish();
    assert_eq!(code, Some(0), "{stderr}");
    let stored = world
        .store()
        .await
        .get("carol@example.com")
        .await
        .unwrap()
        .expect("stored");
    assert!(
        stored
            .info
            .scopes
            .iter()
            .any(|s| s == mailroom_worker::credentials::GMAIL_SEND_SCOPE),
        "the scopes tokeninfo named: {:?}",
        stored.info.scopes
    );
}

#[tokio::test]
async fn signing_in_again_revokes_the_token_it_replaces() {
    let world = World::new(ClientKind::Installed, &["*@example.com"]);
    world.google.set_consenting_user("dan@example.com");
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let login = Login::start(&world, &[]);
        follow(&login.url).await;
        let (code, _, stderr) = login.finish();
        assert_eq!(code, Some(0), "{stderr}");
        let stored = world.store().await.get("dan@example.com").await.unwrap();
        tokens.push(stored.unwrap().refresh_token.expose_secret().to_owned());
    }
    assert_ne!(tokens[0], tokens[1]);
    assert!(
        !refresh_works(&world, &tokens[0]).await,
        "the replaced token is revoked"
    );
    assert!(refresh_works(&world, &tokens[1]).await, "the new one works");
}

#[tokio::test]
async fn secret_files_others_may_read_are_refused_with_the_chmod_to_run() {
    use std::os::unix::fs::PermissionsExt as _;

    let mut world = World::new(ClientKind::Installed, &["*@example.com"]);
    std::fs::set_permissions(&world.keys_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = world.env.run(&["auth", "rotate-key"]);
    let stderr = out.stderr();
    assert_ne!(out.code(), Some(0), "{stderr}");
    assert!(stderr.contains("credentials.token_keys"), "{stderr}");
    assert!(
        stderr.contains(&format!("run `chmod 600 {}`", world.keys_file.display())),
        "{stderr}"
    );

    // A Kubernetes Secret mount: readable by the group, by design, when allowed.
    std::fs::set_permissions(&world.keys_file, std::fs::Permissions::from_mode(0o440)).unwrap();
    assert_ne!(world.env.run(&["auth", "rotate-key"]).code(), Some(0));
    world.env.vars.push((
        "MAILROOM__CREDENTIALS__ALLOW_GROUP_READABLE_SECRETS".to_owned(),
        "true".to_owned(),
    ));
    let out = world.env.run(&["auth", "rotate-key"]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr());
}
