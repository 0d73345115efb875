//! The templates, suppressions and sender-pause pages over plain HTTP: what they show, what
//! their forms do to the queue (a suppression added here keeps the next job from the
//! address; a pause holds a sender's jobs and resume sends them), and what the server refuses
//! whatever the page shows (a post without its CSRF token, a read-only key changing things).

use std::time::Duration;

use mailroom_queue::JobState;

use crate::common::{enqueue_all, eventually, job, write_secret};
use crate::world::{World, by_id, csrf};

const TEMPLATE: &str = r#"{
  "fallback_locale": "en",
  "locales": {
    "en": {"subject": "Welcome, {{ user.name }}", "text": "Hi {{ user.name }}", "html": "<p>Hi {{ user.name }}</p>"},
    "de": {"subject": "Willkommen, {{ user.name }}", "text": "Hallo {{ user.name }}"}
  }
}"#;

/// Stores `TEMPLATE` as template `welcome` (twice: versions 1 and 2).
pub fn put_template(world: &World) {
    let file = write_secret(world.env.dir.path(), "welcome.json", TEMPLATE.as_bytes());
    for _ in 0..2 {
        world
            .env
            .run(&[
                "template",
                "put",
                "welcome",
                "--file",
                file.to_str().unwrap(),
            ])
            .ok();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_key_lists_views_and_previews_templates() {
    let world = World::start();
    let cookie = world.sign_in(&world.reader).await;
    let (status, page) = world.get("/templates", &cookie).await;
    assert_eq!(status, 200);
    assert!(page.contains("id=\"no-templates\""), "{page}");
    put_template(&world);
    let (_, page) = world.get("/templates", &cookie).await;
    assert!(
        page.contains("/templates/view?name=welcome&amp;version=1\">v1</a>"),
        "{page}"
    );
    assert!(page.contains("<b>en</b> (fallback), de"), "{page}");

    let (status, page) = world
        .get("/templates/view?name=welcome&version=1", &cookie)
        .await;
    assert_eq!(status, 200);
    assert_eq!(by_id(&page, "template-title"), "welcome version 1");
    assert!(
        page.contains("Willkommen, {{ user.name }}"),
        "the source is shown"
    );
    let token = csrf(&page);

    let preview = |locale: &'static str, vars: &'static str, token: String| {
        let world = &world;
        let cookie = cookie.clone();
        async move {
            world
                .post(
                    "/templates/preview",
                    &cookie,
                    &[
                        ("csrf", token.as_str()),
                        ("name", "welcome"),
                        ("version", "2"),
                        ("locale", locale),
                        ("vars", vars),
                    ],
                )
                .await
        }
    };
    let (status, _, page) = preview("de", r#"{"user": {"name": "Ada"}}"#, token.clone()).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(by_id(&page, "preview-subject"), "Willkommen, Ada");
    assert_eq!(by_id(&page, "preview-text"), "Hallo Ada");
    // The CLI renders the same.
    let vars = write_secret(
        world.env.dir.path(),
        "vars.json",
        br#"{"user": {"name": "Ada"}}"#,
    );
    let cli = world
        .env
        .run(&[
            "template",
            "preview",
            "welcome",
            "--locale",
            "de",
            "--vars",
            vars.to_str().unwrap(),
        ])
        .ok();
    assert!(cli.contains("Subject: Willkommen, Ada"), "{cli}");

    // HTML is escaped in the rendered part, and shown as source, not as markup.
    let (_, _, page) = preview("en", r#"{"user": {"name": "<b>Ada</b>"}}"#, token.clone()).await;
    assert!(
        page.contains("&#60;p&#62;Hi &#38;lt;b&#38;gt;Ada"),
        "{page}"
    );

    let (status, _, page) = preview("en", r#"{"user": {}}"#, token.clone()).await;
    assert_eq!(status, 200);
    let error = by_id(&page, "preview-error");
    assert!(error.contains("vars.user.name"), "{error}");
    let (_, _, page) = preview("en", "[1, 2]", token.clone()).await;
    assert!(by_id(&page, "preview-error").contains("vars: not a JSON object"));

    let (status, _, body) = preview("en", "{}", "forged".to_owned()).await;
    assert_eq!(status, 403);
    assert!(body.contains("security token"), "{body}");
    assert_eq!(world.get("/templates/view?name=nope", &cookie).await.0, 404);
    assert_eq!(
        world
            .get("/templates/view?name=bad%20name", &cookie)
            .await
            .0,
        400
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_suppression_added_in_the_console_keeps_the_next_job_from_the_address() {
    let world = World::start();
    let admin = world.sign_in(&world.admin).await;
    let (_, page) = world.get("/suppressions", &admin).await;
    assert!(page.contains("id=\"no-suppressions\""), "{page}");
    let token = csrf(&page);
    let add = [
        ("csrf", token.as_str()),
        ("address", "Gone <GONE@example.org>"),
        ("list", ""),
        ("reason", "complaint"),
    ];
    // No token, or a read key: refused, and nothing is added.
    let no_token: Vec<_> = add.iter().skip(1).copied().collect();
    assert_eq!(
        world.post("/suppressions/add", &admin, &no_token).await.0,
        403
    );
    let reader = world.sign_in(&world.reader).await;
    let (_, read_page) = world.get("/suppressions", &reader).await;
    assert!(
        !read_page.contains("id=\"add\""),
        "no add form for a read key"
    );
    let read_token = csrf(&read_page);
    for path in [
        "/suppressions/add",
        "/suppressions/confirm",
        "/suppressions/remove",
    ] {
        let form = [
            ("csrf", read_token.as_str()),
            ("address", "gone@example.org"),
            ("list", ""),
        ];
        let (status, _, body) = world.post(path, &reader, &form).await;
        assert_eq!(status, 403, "{path}");
        assert!(body.contains("read-only"), "{body}");
    }
    let check = world
        .env
        .run(&["suppress", "check", "gone@example.org"])
        .ok();
    assert!(check.contains("is not suppressed"), "{check}");

    let (status, location, _) = world.post("/suppressions/add", &admin, &add).await;
    assert_eq!(status, 303);
    let (_, page) = world.get(&location, &admin).await;
    assert_eq!(
        by_id(&page, "notice"),
        "suppressed gone@example.org (global): complaint"
    );
    assert!(
        page.contains("<td class=\"reason\">complaint</td>"),
        "{page}"
    );
    let check = world
        .env
        .run(&["suppress", "check", "gone@example.org"])
        .ok();
    assert!(
        check.contains("is suppressed (global): complaint"),
        "{check}"
    );
    let bad = [
        ("csrf", token.as_str()),
        ("address", "not an address"),
        ("list", ""),
    ];
    let (status, _, body) = world.post("/suppressions/add", &admin, &bad).await;
    assert_eq!(status, 400);
    assert!(body.contains("address:"), "{body}");

    // The next job to the address is not sent, and says why.
    let queue = world.queue().await;
    let ids = enqueue_all(
        &queue,
        &[job("noreply@example.com", "gone@example.org", "Hi")],
    )
    .await;
    let worker = world.env.worker("w", &[]);
    eventually(Duration::from_secs(30), "the job is suppressed", || async {
        crate::common::states(&queue, &ids).await == [Some(JobState::Suppressed)]
    })
    .await;
    worker.stop();
    let status = queue.status(ids[0]).await.unwrap().unwrap();
    assert_eq!(status.suppressed[0].reason.as_str(), "complaint");

    // A read key sees it; the admin filters, confirms and removes it.
    let (_, read_page) = world.get("/suppressions?address=gone", &reader).await;
    assert!(read_page.contains("gone@example.org"), "{read_page}");
    let (_, page) = world.get("/suppressions?address=nobody", &admin).await;
    assert!(page.contains("id=\"no-suppressions\""), "{page}");
    let remove = [
        ("csrf", token.as_str()),
        ("address", "gone@example.org"),
        ("list", ""),
    ];
    let (status, _, page) = world.post("/suppressions/confirm", &admin, &remove).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("Confirm: send to gone@example.org again"),
        "{page}"
    );
    assert!(page.contains("complaint since"), "{page}");
    let (status, location, _) = world.post("/suppressions/remove", &admin, &remove).await;
    assert_eq!(status, 303);
    let (_, page) = world.get(&location, &admin).await;
    assert_eq!(
        by_id(&page, "notice"),
        "gone@example.org is no longer suppressed (global)"
    );
    let check = world
        .env
        .run(&["suppress", "check", "gone@example.org"])
        .ok();
    assert!(check.contains("is not suppressed"), "{check}");

    // A list's suppressions are listed under that list.
    let on_list = [
        ("csrf", token.as_str()),
        ("address", "reader@example.org"),
        ("list", "news.example.com"),
        ("reason", "unsubscribed"),
    ];
    let (_, location, _) = world.post("/suppressions/add", &admin, &on_list).await;
    assert_eq!(
        location,
        "/suppressions?list=news.example.com&notice=suppressed+reader%40example.org+%28list+news.example.com%29%3A+unsubscribed"
    );
    let (_, page) = world
        .get("/suppressions?list=news.example.com", &admin)
        .await;
    assert!(
        page.contains("<td class=\"address\">reader@example.org</td>"),
        "{page}"
    );
    let (_, page) = world.get("/suppressions", &admin).await;
    assert!(
        !page.contains("<td class=\"address\">reader@example.org</td>"),
        "{page}"
    );
}

/// Enrolls `user` (whom the fake Google consents as) through the console's enroll button,
/// over plain HTTP: the post leads to the consent screen, which leads back to the callback.
pub async fn enroll(world: &World, cookie: &str, token: &str, user: &str) {
    world.google.set_consenting_user(user);
    let (status, consent, _) = world
        .post("/senders/enroll", cookie, &[("csrf", token)])
        .await;
    assert_eq!(status, 303);
    let back = world.http.get(&consent).send().await.unwrap();
    let callback = back.headers()["location"].to_str().unwrap().to_owned();
    let finished = world.http.get(&callback).send().await.unwrap();
    assert_eq!(finished.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_sender_holds_its_jobs_until_resumed_and_revoke_asks_first() {
    let world = World::start();
    let admin = world.sign_in(&world.admin).await;
    let (_, page) = world.get("/senders", &admin).await;
    let token = csrf(&page);
    let sender = "alice@example.com";
    enroll(&world, &admin, &token, sender).await;
    let pause = [
        ("csrf", token.as_str()),
        ("sender", sender),
        ("duration", "1h"),
    ];

    let reader = world.sign_in(&world.reader).await;
    let read_token = csrf(&world.get("/senders", &reader).await.1);
    for path in [
        "/senders/pause",
        "/senders/resume",
        "/senders/revoke/confirm",
    ] {
        let form = [("csrf", read_token.as_str()), ("sender", sender)];
        assert_eq!(world.post(path, &reader, &form).await.0, 403, "{path}");
        assert_eq!(
            world.post(path, &admin, &form[1..]).await.0,
            403,
            "{path} without a token"
        );
    }

    let (status, location, _) = world.post("/senders/pause", &admin, &pause).await;
    assert_eq!(status, 303);
    let (_, page) = world.get(&location, &admin).await;
    assert!(
        by_id(&page, "notice").starts_with("alice@example.com paused until"),
        "{page}"
    );
    assert!(page.contains("class=\"resume-button\""), "{page}");
    let listed = world.env.run(&["auth", "list"]).ok();
    assert!(
        listed.contains("paused by an operator (key ops)"),
        "{listed}"
    );

    // A job of the paused sender waits (a worker sending through the fake Google with the
    // enrolled token); resume sends it at once.
    let queue = world.queue().await;
    let ids = enqueue_all(&queue, &[job(sender, "ann@example.org", "Hi")]).await;
    let api_base = world.google.base_url();
    let worker = world.env.worker(
        "w",
        &[
            ("MAILROOM__TRANSPORT__KIND", "gmail"),
            ("MAILROOM__GOOGLE__API_BASE", api_base.as_str()),
        ],
    );
    eventually(Duration::from_secs(30), "the job is held", || async {
        let s = queue.status(ids[0]).await.unwrap();
        s.is_some_and(|s| {
            s.state == JobState::Retrying
                && s.last_error.as_deref() == Some("sender paused by an operator (key ops)")
        })
    })
    .await;
    assert!(world.google.sent().is_empty());
    let (_, location, _) = world
        .post(
            "/senders/resume",
            &admin,
            &[("csrf", &token), ("sender", sender)],
        )
        .await;
    let (_, page) = world.get(&location, &admin).await;
    assert_eq!(
        by_id(&page, "notice"),
        "alice@example.com resumed; 1 held job due now"
    );
    assert!(!page.contains("class=\"resume-button\""), "{page}");
    eventually(Duration::from_secs(30), "the held job is sent", || async {
        queue.status(ids[0]).await.unwrap().map(|s| s.state) == Some(JobState::Sent)
    })
    .await;
    assert_eq!(world.google.sent().len(), 1);
    worker.stop();

    // Revoke shows what it does first; nothing is revoked until it is confirmed.
    let form = [("csrf", token.as_str()), ("sender", sender)];
    let (status, _, page) = world.post("/senders/revoke/confirm", &admin, &form).await;
    assert_eq!(status, 200);
    assert!(page.contains("Confirm: revoke alice@example.com"), "{page}");
    assert!(page.contains("action=\"/senders/revoke\""), "{page}");
    let listed = world.env.run(&["auth", "list"]).ok();
    assert!(listed.contains(sender), "nothing revoked yet: {listed}");
}
