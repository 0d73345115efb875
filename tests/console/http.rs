//! The console over plain HTTP: what a browser is told (cookies, security headers), and what
//! the server refuses whatever the page shows (a post without its CSRF token, a read-only
//! key asking for a retry).

use std::time::Duration;

use serde_json::Value;

use crate::common::eventually;
use crate::world::{World, by_id, csrf};

/// The console's policy; forms may also go to Google's consent screen (enrollment).
fn csp(world: &World) -> String {
    let google = url::Url::parse(&world.google.auth_url()).unwrap();
    format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         frame-ancestors 'none'; form-action 'self' {}; base-uri 'none'",
        google.origin().ascii_serialization()
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_in_takes_a_read_or_admin_key_and_sets_a_strict_cookie() {
    let world = World::start();
    let anonymous = world.http.get(world.url("/")).send().await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 303);
    assert_eq!(anonymous.headers()["location"], "/login");

    for (key, says) in [
        ("mrk_nope", "Unknown API key."),
        (
            world.sender.as_str(),
            "neither the read nor the admin scope",
        ),
    ] {
        let refused = world
            .http
            .post(world.url("/login"))
            .form(&[("key", key)])
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status().as_u16(), 401);
        assert!(refused.headers().get("set-cookie").is_none());
        assert!(refused.text().await.unwrap().contains(says));
    }
    let cross = world
        .http
        .post(world.url("/login"))
        .header("origin", "https://evil.example")
        .form(&[("key", world.admin.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status().as_u16(), 403, "a sign-in from another site");

    let signed = world
        .http
        .post(world.url("/login"))
        .form(&[("key", world.admin.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status().as_u16(), 303);
    let set = signed.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set.starts_with("mailroom_session="), "{set}");
    for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(set.contains(part), "{part} in {set}");
    }
    assert!(!set.contains("Secure"), "plain http: {set}");
    assert!(!set.contains(&world.admin), "the key is not in the cookie");
    let cookie = set.split(';').next().unwrap().to_owned();

    let page = world
        .http
        .get(world.url("/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let h = page.headers();
    assert_eq!(h["content-security-policy"], csp(&world).as_str());
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "same-origin");
    assert_eq!(h["x-frame-options"], "DENY");
    let html = page.text().await.unwrap();
    assert!(html.contains("<meta name=\"viewport\""));
    assert!(html.contains("ops"), "the key's id is shown");
    for script in html.split("<script").skip(1) {
        assert!(
            script.trim_start().starts_with("src=\"/static/"),
            "inline script: {script}"
        );
    }
    let (status, _, _) = world
        .post("/logout", &cookie, &[("csrf", &csrf(&html))])
        .await;
    assert_eq!(status, 303);
    // A tampered cookie is no session.
    let forged = format!("{cookie}x");
    assert_eq!(world.get("/", &forged).await.0, 303);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_form_post_without_its_csrf_token_is_refused() {
    let world = World::start();
    let ids = world.dead_letters(1).await;
    let cookie = world.sign_in(&world.admin).await;
    let (_, page) = world.get("/dead", &cookie).await;
    let token = csrf(&page);
    let other = csrf(
        &world
            .get("/dead", &world.sign_in(&world.admin).await)
            .await
            .1,
    );
    assert_ne!(token, other, "each session has its own token");
    for form in [
        vec![
            ("action", "retry"),
            ("scope", "selected"),
            ("ids", ids[0].as_str()),
        ],
        vec![
            ("csrf", other.as_str()),
            ("action", "retry"),
            ("scope", "selected"),
            ("ids", ids[0].as_str()),
        ],
    ] {
        let (status, _, body) = world.post("/dead/apply", &cookie, &form).await;
        assert_eq!(status, 403, "{form:?}");
        assert!(body.contains("security token"), "{body}");
    }
    assert_eq!(world.post("/logout", &cookie, &[]).await.0, 403);
    let stats: Value =
        serde_json::from_str(&world.env.run(&["queue", "stats", "--json"]).ok()).unwrap();
    assert_eq!(stats["dead"], 1, "nothing was retried");

    let (status, location, _) = world
        .post(
            "/dead/apply",
            &cookie,
            &[
                ("csrf", &token),
                ("action", "retry"),
                ("scope", "selected"),
                ("ids", &ids[0]),
            ],
        )
        .await;
    assert_eq!((status, location.as_str()), (303, "/dead?notice=retried+1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_key_sees_the_dead_letters_but_cannot_retry_them() {
    let world = World::start();
    let ids = world.dead_letters(1).await;
    let cookie = world.sign_in(&world.reader).await;
    let (status, page) = world.get("/dead", &cookie).await;
    assert_eq!(status, 200);
    assert!(page.contains(&ids[0]), "the dead letter is listed");
    assert!(page.contains("read-only"));
    assert!(!page.contains("id=\"retry\""), "no retry button");
    let token = csrf(&page);
    for path in ["/dead/confirm", "/dead/apply"] {
        let (status, _, body) = world
            .post(
                path,
                &cookie,
                &[
                    ("csrf", &token),
                    ("action", "retry"),
                    ("scope", "selected"),
                    ("ids", &ids[0]),
                ],
            )
            .await;
        assert_eq!(status, 403, "{path}");
        assert!(body.contains("read-only"), "{body}");
    }
    for path in ["/senders/check", "/senders/enroll"] {
        let (status, _, _) = world
            .post(
                path,
                &cookie,
                &[("csrf", &token), ("sender", "noreply@example.com")],
            )
            .await;
        assert_eq!(status, 403, "{path}");
    }
    let stats: Value =
        serde_json::from_str(&world.env.run(&["queue", "stats", "--json"]).ok()).unwrap();
    assert_eq!(stats["dead"], 1);
    for path in ["/", "/jobs", "/senders", "/config"] {
        assert_eq!(world.get(path, &cookie).await.0, 200, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_overview_counts_are_those_of_queue_stats_and_the_chart_counts_sends() {
    let world = World::start();
    world.dead_letters(2).await;
    let queue = world.queue().await;
    let later = serde_json::json!({
        "version": "v1", "from": "noreply@example.com", "to": ["ann@example.org"],
        "subject": "Later", "text": "Hi", "send_at": "2099-01-01T00:00:00Z",
    });
    let later = mailroom_jobs::EmailJob::from_json(later.to_string().as_bytes()).unwrap();
    crate::common::enqueue_all(&queue, &[later]).await;
    crate::common::enqueue_jobs(&queue, 3).await;
    let cookie = world.sign_in(&world.reader).await;
    let (_, live) = world.get("/overview/live", &cookie).await;
    let stats: Value =
        serde_json::from_str(&world.env.run(&["queue", "stats", "--json"]).ok()).unwrap();
    for (id, field) in [
        ("stat-ready", "ready"),
        ("stat-scheduled", "scheduled"),
        ("stat-in-flight", "in_flight"),
        ("stat-dead", "dead"),
        ("stat-enqueued", "enqueued"),
        ("stat-workers", "workers"),
    ] {
        assert_eq!(by_id(&live, id), stats[field].to_string(), "{field}");
    }
    assert_eq!(by_id(&live, "stat-ready"), "3");
    assert_ne!(by_id(&live, "stat-oldest"), "-");
    assert!(live.contains("<svg class=\"chart\""));

    // A worker sends the three; its flushes reach the chart.
    let mut worker = world.env.worker("w", &[]);
    world
        .env
        .wait_for_outbox(&mut worker, 3, Duration::from_secs(30));
    eventually(Duration::from_secs(20), "3 sent in the chart", || async {
        by_id(&world.get("/overview/live", &cookie).await.1, "total-sent") == "3"
    })
    .await;
    let (_, live) = world.get("/overview/live", &cookie).await;
    assert_eq!(by_id(&live, "total-dead"), "2");
    assert!(live.contains("<td>w"), "the worker is listed: {live}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sender_is_enrolled_checked_now_and_revoked() {
    let world = World::start();
    world.google.set_consenting_user("alice@example.com");
    let cookie = world.sign_in(&world.admin).await;
    let (_, page) = world.get("/senders", &cookie).await;
    assert!(page.contains("id=\"no-senders\""), "{page}");
    let token = csrf(&page);

    // The enroll button's post sends the browser to Google's consent screen, which sends it
    // back to the API's callback.
    let (status, consent, _) = world
        .post("/senders/enroll", &cookie, &[("csrf", &token)])
        .await;
    assert_eq!(status, 303);
    assert!(consent.starts_with(&world.google.auth_url()), "{consent}");
    let back = world.http.get(&consent).send().await.unwrap();
    let callback = back.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        callback.starts_with(&world.url("/oauth2/callback")),
        "{callback}"
    );
    let finished = world.http.get(&callback).send().await.unwrap();
    assert_eq!(finished.status().as_u16(), 200);
    assert!(finished.text().await.unwrap().contains("alice@example.com"));

    let (_, page) = world.get("/senders", &cookie).await;
    assert!(
        page.contains("<td class=\"sender\">alice@example.com</td>"),
        "{page}"
    );
    let sender = [("csrf", token.as_str()), ("sender", "alice@example.com")];
    let (status, location, _) = world.post("/senders/check", &cookie, &sender).await;
    assert_eq!(status, 303);
    let (_, page) = world.get(&location, &cookie).await;
    assert_eq!(by_id(&page, "notice"), "alice@example.com: ok");

    let (_, location, _) = world.post("/senders/revoke", &cookie, &sender).await;
    let (_, page) = world.get(&location, &cookie).await;
    assert_eq!(
        by_id(&page, "notice"),
        "revoked the token of alice@example.com and deleted it"
    );
    assert!(page.contains("id=\"no-senders\""), "{page}");
    let listed = world.env.run(&["auth", "list"]).ok();
    assert!(!listed.contains("alice@example.com"), "{listed}");
}
