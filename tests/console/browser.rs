//! The console's journeys in a headless Chromium, driven over WebDriver: sign in; the
//! overview's numbers are `queue stats`' and refresh on their own; a dead letter found by
//! its reason, retried and then sent; a Gmail account enrolled through the fake consent
//! screen; a read-only key offered no retry (the newer pages' journeys are in `journeys`).
//! `screenshots_of_every_page` saves a PNG of each
//! page to `docs/console/` when `MAILROOM_CONSOLE_SCREENSHOTS=1` (`make console-screenshots`).

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::Value;

use crate::driver::Driver;
use crate::world::World;

/// How long a page may take to show what a step waits for.
pub const PATIENCE: Duration = Duration::from_secs(30);

pub async fn text(browser: &Client, css: &str) -> String {
    browser
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .text()
        .await
        .unwrap()
}

pub async fn click(browser: &Client, css: &str) {
    browser
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// Types `key` into the sign-in form and submits it.
pub async fn sign_in(browser: &Client, world: &World, key: &str) {
    browser.goto(&world.url("/")).await.unwrap();
    let field = browser
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css("#key"))
        .await
        .unwrap();
    field.send_keys(key).await.unwrap();
    click(browser, "form[action='/login'] button").await;
    // The click may return before the answer to the form is in (and its cookie set): wait
    // for the page it leads to, signed in (`.who`) or refused (`#signin-error`).
    let deadline = std::time::Instant::now() + PATIENCE;
    while browser.find(Locator::Css(".who")).await.is_err()
        && browser.find(Locator::Css("#signin-error")).await.is_err()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the sign-in form led nowhere"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// From the senders page, enrolls alice@example.com through the fake consent screen (which
/// consents as alice and sends the browser back to the callback page).
pub async fn enroll_alice(browser: &Client, world: &World) {
    world.google.set_consenting_user("alice@example.com");
    browser.goto(&world.url("/senders")).await.unwrap();
    click(browser, "#enroll").await;
    wait_text(browser, "body", "alice@example.com", false).await;
}

fn stats(world: &World) -> Value {
    serde_json::from_str(&world.env.run(&["queue", "stats", "--json"]).ok()).unwrap()
}

/// Polls the page (reloading with `reload`) until `css`'s text is `want`.
pub async fn wait_text(browser: &Client, css: &str, want: &str, reload: bool) {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        if reload {
            browser.refresh().await.unwrap();
        }
        if let Ok(el) = browser.find(Locator::Css(css)).await
            && el.text().await.unwrap_or_default().contains(want)
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{css} never showed {want:?}; page:\n{}",
            browser.source().await.unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn signing_in_and_out_in_a_browser() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let world = World::start();
    let browser = driver.browser(1280, 900).await;
    sign_in(&browser, &world, "mrk_wrong").await;
    assert_eq!(text(&browser, "#signin-error").await, "Unknown API key.");
    sign_in(&browser, &world, &world.admin).await;
    text(&browser, "#stat-ready").await;
    assert_eq!(browser.current_url().await.unwrap().path(), "/");
    assert!(text(&browser, ".who").await.contains("ops"));
    click(&browser, ".logout button").await;
    text(&browser, "#key").await;
    browser.goto(&world.url("/dead")).await.unwrap();
    assert_eq!(browser.current_url().await.unwrap().path(), "/login");
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_overview_shows_queue_stats_and_refreshes_itself() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let world = World::start();
    let queue = world.queue().await;
    crate::common::enqueue_jobs(&queue, 3).await;
    let browser = driver.browser(1280, 900).await;
    sign_in(&browser, &world, &world.reader).await;
    let cli = stats(&world);
    for (css, field) in [
        ("#stat-ready", "ready"),
        ("#stat-scheduled", "scheduled"),
        ("#stat-in-flight", "in_flight"),
        ("#stat-dead", "dead"),
        ("#stat-enqueued", "enqueued"),
        ("#stat-workers", "workers"),
    ] {
        assert_eq!(text(&browser, css).await, cli[field].to_string(), "{field}");
    }
    // Two more jobs show up without a reload: the script swaps the live part in.
    crate::common::enqueue_jobs(&queue, 2).await;
    wait_text(&browser, "#stat-ready", "5", false).await;
    assert_eq!(stats(&world)["ready"], 5);
    let refreshed = browser
        .find(Locator::Css("#live"))
        .await
        .unwrap()
        .attr("data-refreshed")
        .await
        .unwrap();
    assert!(
        refreshed.is_some(),
        "the live part was swapped in by the script"
    );
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dead_letter_found_by_reason_is_retried_and_sent() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let world = World::start();
    let ids = world.dead_letters(2).await;
    let browser = driver.browser(1280, 900).await;
    sign_in(&browser, &world, &world.admin).await;
    browser.goto(&world.url("/dead")).await.unwrap();
    browser
        .find(Locator::Css("#f-reason"))
        .await
        .unwrap()
        .send_keys("no such reason")
        .await
        .unwrap();
    click(&browser, ".filters button").await;
    text(&browser, "#no-dead").await;
    let reason = browser.find(Locator::Css("#f-reason")).await.unwrap();
    reason.clear().await.unwrap();
    reason.send_keys("allowlist").await.unwrap();
    click(&browser, ".filters button").await;
    // A click that submits a form may return before the next page is in: wait for it.
    wait_text(&browser, "#dead caption", "2 shown", false).await;
    click(&browser, &format!("#sel-{}", ids[0])).await;
    click(&browser, "#retry").await;
    wait_text(&browser, "h1", "Confirm:", false).await;
    let heading = text(&browser, "h1").await;
    assert_eq!(heading, "Confirm: retry 1 dead letter");
    click(&browser, "#confirm").await;
    assert_eq!(text(&browser, "#notice").await, "retried 1");
    let caption = text(&browser, "#dead caption").await;
    assert!(caption.starts_with("1 shown"), "{caption}");

    let mut worker = world.env.worker("w", &[]);
    world.env.wait_for_outbox(&mut worker, 1, PATIENCE);
    browser
        .goto(&world.url(&format!("/jobs?id={}", ids[0])))
        .await
        .unwrap();
    wait_text(&browser, "#job", "sent", true).await;
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gmail_account_enrolled_through_the_consent_screen_is_listed() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let world = World::start();
    let browser = driver.browser(1280, 900).await;
    sign_in(&browser, &world, &world.admin).await;
    enroll_alice(&browser, &world).await;
    assert_eq!(
        browser.current_url().await.unwrap().path(),
        "/oauth2/callback"
    );
    browser.goto(&world.url("/senders")).await.unwrap();
    wait_text(&browser, "#senders", "alice@example.com", false).await;
    let listed = world.env.run(&["auth", "list"]).ok();
    assert!(listed.contains("alice@example.com"), "{listed}");
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_key_is_offered_no_retry() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let world = World::start();
    let ids = world.dead_letters(1).await;
    let browser = driver.browser(1280, 900).await;
    sign_in(&browser, &world, &world.reader).await;
    browser.goto(&world.url("/dead")).await.unwrap();
    assert!(text(&browser, "#dead").await.contains(&ids[0]));
    assert!(text(&browser, ".who").await.contains("read-only"));
    for css in ["#retry", "#purge", "input[name='ids']"] {
        assert!(
            browser.find(Locator::Css(css)).await.is_err(),
            "{css} is offered to a read-only key"
        );
    }
    browser.goto(&world.url("/senders")).await.unwrap();
    assert!(browser.find(Locator::Css("#enroll")).await.is_err());
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn screenshots_of_every_page() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let world = World::start();
    let ids = world.dead_letters(3).await;
    let queue = world.queue().await;
    crate::common::enqueue_jobs(&queue, 4).await;
    let save = std::env::var_os("MAILROOM_CONSOLE_SCREENSHOTS").is_some();
    let dir = if save {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/console")
    } else {
        world.env.dir.path().join("screenshots")
    };
    std::fs::create_dir_all(&dir).unwrap();
    let browser = driver.browser(1280, 900).await;
    let shot = |name: &'static str| {
        let (browser, dir) = (&browser, &dir);
        async move {
            let png = browser.screenshot().await.unwrap();
            assert_eq!(&png[..4], b"\x89PNG", "{name}");
            std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
        }
    };
    browser.goto(&world.url("/login")).await.unwrap();
    text(&browser, "#key").await;
    shot("login").await;
    sign_in(&browser, &world, &world.admin).await;
    enroll_alice(&browser, &world).await;
    browser.goto(&world.url("/")).await.unwrap();
    text(&browser, "#stat-ready").await;
    shot("overview").await;
    browser
        .goto(&world.url(&format!("/jobs?id={}", ids[0])))
        .await
        .unwrap();
    text(&browser, "#headers").await;
    shot("job").await;
    browser.goto(&world.url("/dead")).await.unwrap();
    text(&browser, "#dead").await;
    shot("dead").await;
    click(&browser, "#scope-matching").await;
    click(&browser, "#retry").await;
    text(&browser, "#confirm").await;
    shot("dead-confirm").await;
    browser.goto(&world.url("/senders")).await.unwrap();
    text(&browser, "#senders").await;
    shot("senders").await;
    browser.goto(&world.url("/config")).await.unwrap();
    text(&browser, "#config").await;
    shot("config").await;
    crate::pages::put_template(&world);
    browser
        .goto(&world.url("/templates/view?name=welcome"))
        .await
        .unwrap();
    let vars = browser.find(Locator::Css("#p-vars")).await.unwrap();
    vars.send_keys(r#"{"user": {"name": "Zoë"}}"#)
        .await
        .unwrap();
    click(&browser, "#render").await;
    wait_text(&browser, "#preview-subject", "Welcome, Zoë", false).await;
    shot("template").await;
    for (address, reason) in [
        ("gone@example.org", "hard_bounce"),
        ("spam-report@example.net", "complaint"),
        ("old@example.com", "manual"),
    ] {
        world
            .env
            .run(&["suppress", "add", address, "--reason", reason])
            .ok();
    }
    browser.goto(&world.url("/suppressions")).await.unwrap();
    text(&browser, "#suppressions").await;
    shot("suppressions").await;
    browser.set_window_size(390, 844).await.unwrap();
    browser.goto(&world.url("/")).await.unwrap();
    text(&browser, "#stat-ready").await;
    shot("overview-phone").await;
    browser.close().await.unwrap();
}
