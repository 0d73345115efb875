//! Stored refresh tokens (`[credentials] kind = "authorized_user"`) in the test process: the
//! web flow served by `mailroom_worker::enroll::routes`, and the token source (caching,
//! refreshing, classifying Google's answers). What runs through the `mailroom auth` commands is
//! tested end to end in `tests/auth` at the top of the workspace.

mod stored_tokens;
mod world;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mailroom_testkit::google::{ClientKind, Fault, FaultRule};
use mailroom_worker::credentials::{
    AuthorizedUserSource, ClientSecrets, CredentialError, REFRESH_RETRY, RefreshHook, TokenSource,
};
use redis::AsyncCommands as _;
use secrecy::ExposeSecret;
use world::{World, http, location, query, raw_conn, raw_redis, write_secret};

#[tokio::test]
async fn the_web_flow_needs_the_admin_token_and_stores_a_working_token() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let world = World::new(ClientKind::Web {
        redirect_uris: vec![format!("{base}/oauth2/callback")],
    });
    world.google.set_consenting_user("bob@example.com");
    let admin = write_secret(
        world.env.dir.path(),
        "admin-token",
        b"s3cret-admin-0123456789-0123456789\n",
    );
    let mut config = world.config();
    config.credentials.admin_token_file = Some(admin);
    config.credentials.public_url = Some(format!("{base}/"));
    let queue = world.env.queue().await;
    queue
        .quarantine_sender("bob@example.com", "invalid_grant")
        .await
        .unwrap();
    let state = mailroom_worker::enroll::WebFlow::from_config(&config, queue.clone()).unwrap();
    assert_eq!(state.redirect_uri(), format!("{base}/oauth2/callback"));
    let server = tokio::spawn(async move {
        axum::serve(listener, mailroom_worker::enroll::routes(state))
            .await
            .unwrap();
    });
    let http = http();
    let start = format!("{base}/oauth2/start");

    for request in [
        http.get(&start),
        http.get(&start).bearer_auth("wrong"),
        http.get(format!("{start}?token=s3cret-admin-0123456789-0123456789")),
        http.get(&start)
            .header("Authorization", "Basic czNjcmV0LWFkbWlu"),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        assert!(response.headers().contains_key("www-authenticate"));
    }
    assert!(world.google.auth_requests().is_empty());

    let response = http
        .get(&start)
        .bearer_auth("s3cret-admin-0123456789-0123456789")
        .send()
        .await
        .unwrap();
    let to_google = location(&response);
    assert!(
        to_google.starts_with(&world.google.auth_url()),
        "{to_google}"
    );
    let params = query(&to_google);
    assert_eq!(params["redirect_uri"], format!("{base}/oauth2/callback"));
    assert_eq!(params["code_challenge_method"], "S256");
    assert!(
        raw_redis(&world.env)
            .await
            .contains(&format!("{{mailroom}}:oauth:state:{}", params["state"]))
    );
    let ttl: i64 = raw_conn(&world.env)
        .await
        .ttl(format!("{{mailroom}}:oauth:state:{}", params["state"]))
        .await
        .unwrap();
    assert!((590..=600).contains(&ttl), "{ttl}");

    let callback = location(&http.get(&to_google).send().await.unwrap());
    let page = http.get(&callback).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let text = page.text().await.unwrap();
    assert!(
        text.contains("mailroom can now send as <strong>bob@example.com</strong>"),
        "{text}"
    );

    // The state was single use.
    let again = http.get(&callback).send().await.unwrap();
    assert_eq!(again.status(), 400);
    assert!(!raw_redis(&world.env).await.contains("oauth:state"));

    let store = world.store().await;
    let stored = store.get("bob@example.com").await.unwrap().expect("stored");
    assert!(
        !raw_redis(&world.env)
            .await
            .contains(stored.refresh_token.expose_secret())
    );
    let states = queue.sender_states().await.unwrap();
    assert!(states.iter().all(|s| s.quarantined.is_none()), "{states:?}");
    let source = world.source(store, Arc::new(|_| {}));
    source
        .token("bob@example.com")
        .await
        .expect("a working token");

    let unknown = http
        .get(format!("{base}/oauth2/callback?code=x&state=unknownstate"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 400);
    server.abort();
}

#[tokio::test]
async fn the_source_caches_refreshes_and_classifies() {
    let world = World::new(ClientKind::Installed);
    world.enroll("carol@example.com").await;
    let (oks, errs) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let hook: RefreshHook = {
        let (oks, errs) = (Arc::clone(&oks), Arc::clone(&errs));
        Arc::new(move |ok| {
            if ok { &oks } else { &errs }.fetch_add(1, Ordering::SeqCst);
        })
    };
    let store = world.store().await;
    let source = world.source(store.clone(), hook);
    let refreshes = || {
        world
            .google
            .token_grants()
            .iter()
            .filter(|g| g.grant_type == "refresh_token")
            .count()
    };

    // Cached: one refresh for many calls, even concurrent ones.
    let first = source.token("carol@example.com").await.unwrap();
    let again = source.token("Carol@Example.com").await.unwrap();
    assert_eq!(first.expose(), again.expose());
    assert_eq!(refreshes(), 1);
    assert!(!format!("{first:?}").contains(first.expose()));
    source.invalidate("carol@example.com");
    let calls: Vec<_> = (0..8).map(|_| source.token("carol@example.com")).collect();
    let tokens = futures::future::join_all(calls).await;
    assert_eq!(refreshes(), 2, "concurrent callers share one refresh");
    assert!(
        tokens
            .iter()
            .all(|t| t.as_ref().unwrap().expose() == tokens[0].as_ref().unwrap().expose())
    );
    let info = &store.list().await.unwrap()[0];
    assert!(info.refreshed_at.is_some() && info.last_error.is_none());

    // Short-lived tokens are refreshed before they expire, without an error.
    world.google.set_token_lifetime(Duration::from_secs(1));
    source.invalidate("carol@example.com");
    let short = source.token("carol@example.com").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let renewed = source.token("carol@example.com").await.unwrap();
    assert_ne!(short.expose(), renewed.expose());
    world.google.set_token_lifetime(Duration::from_secs(3600));

    // Google failing is temporary. The failure answers the sender's callers for
    // REFRESH_RETRY; then the token endpoint is asked again.
    source.invalidate("carol@example.com");
    world
        .google
        .inject(FaultRule::token(Fault::unavailable()).once());
    let err = source.token("carol@example.com").await.unwrap_err();
    assert!(matches!(err, CredentialError::Unavailable(_)), "{err:?}");
    assert!(!err.quarantines());
    let asked = refreshes();
    let again = source.token("carol@example.com").await.unwrap_err();
    assert_eq!(again, err);
    assert_eq!(refreshes(), asked, "not asked again within REFRESH_RETRY");
    tokio::time::sleep(REFRESH_RETRY).await;
    world
        .google
        .inject(FaultRule::token(Fault::BadGateway).once());
    let err = source.token("carol@example.com").await.unwrap_err();
    assert!(matches!(err, CredentialError::Unavailable(_)), "{err:?}");
    tokio::time::sleep(REFRESH_RETRY).await;
    source.token("carol@example.com").await.unwrap();

    // A revoked grant quarantines, and is recorded.
    world.google.revoke_user("carol@example.com");
    source.invalidate("carol@example.com");
    let err = source.token("carol@example.com").await.unwrap_err();
    assert_eq!(
        err,
        CredentialError::Revoked("Token has been expired or revoked.".into())
    );
    assert!(err.quarantines());
    let info = &store.list().await.unwrap()[0];
    assert_eq!(
        info.last_error.as_deref(),
        Some("grant refused (invalid_grant): Token has been expired or revoked.")
    );

    assert_eq!(
        source.token("nobody@example.com").await.unwrap_err(),
        CredentialError::NotEnrolled
    );
    assert!(oks.load(Ordering::SeqCst) >= 4);
    assert!(errs.load(Ordering::SeqCst) >= 4);

    // A client secret Google does not accept is a bad key.
    world.enroll("dave@example.com").await;
    let wrong = world
        .client
        .json
        .replace(&world.client.client_secret, "GOCSPX-wrong");
    let bad = AuthorizedUserSource::new(
        store,
        ClientSecrets::parse(&wrong, "client_secret.json").unwrap(),
        &world.google_section(),
        Arc::new(|_| {}),
    )
    .unwrap();
    let err = bad.token("dave@example.com").await.unwrap_err();
    assert!(matches!(err, CredentialError::BadKey(_)), "{err:?}");
    assert!(!err.to_string().contains("GOCSPX"), "{err}");
}
