//! The journeys of the templates, suppressions and senders pages in a headless Chromium: a
//! suppression added in the console is seen by `mailroom suppress check` and removed after a
//! confirmation; a template preview shows the rendered text, and an undefined variable's
//! error; revoking a sender asks first; a sender paused then resumed shows its state. Every
//! step that submits a form waits for the page the form leads to before reading it.

use fantoccini::{Client, Locator};

use crate::browser::{PATIENCE, click, enroll_alice, sign_in, text, wait_text};
use crate::driver::Driver;
use crate::world::World;

/// Types `value` into the field `css` (emptied first).
async fn fill(browser: &Client, css: &str, value: &str) {
    let field = browser
        .wait()
        .at_most(PATIENCE)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"));
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_suppression_added_in_the_console_is_checked_and_removed() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let world = World::start();
    let browser = driver.browser(1280, 900).await;
    sign_in(&browser, &world, &world.admin).await;
    browser.goto(&world.url("/suppressions")).await.unwrap();
    text(&browser, "#no-suppressions").await;
    fill(&browser, "#a-address", "Gone@Example.org").await;
    browser
        .find(Locator::Css("#a-reason option[value='hard_bounce']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click(&browser, "#add-button").await;
    wait_text(
        &browser,
        "#notice",
        "suppressed gone@example.org (global): hard_bounce",
        false,
    )
    .await;
    assert!(
        text(&browser, "#suppressions")
            .await
            .contains("hard_bounce")
    );
    let check = world
        .env
        .run(&["suppress", "check", "gone@example.org"])
        .ok();
    assert!(
        check.contains("is suppressed (global): hard_bounce"),
        "{check}"
    );

    click(
        &browser,
        "tr[data-address='gone@example.org'] button.remove",
    )
    .await;
    wait_text(
        &browser,
        "h1",
        "Confirm: send to gone@example.org again",
        false,
    )
    .await;
    click(&browser, "#confirm").await;
    wait_text(&browser, "#notice", "no longer suppressed", false).await;
    text(&browser, "#no-suppressions").await;
    let check = world
        .env
        .run(&["suppress", "check", "gone@example.org"])
        .ok();
    assert!(check.contains("is not suppressed"), "{check}");
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_template_preview_shows_the_rendered_text_and_an_undefined_variable() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let world = World::start();
    crate::pages::put_template(&world);
    let browser = driver.browser(1280, 900).await;
    sign_in(&browser, &world, &world.reader).await;
    browser.goto(&world.url("/templates")).await.unwrap();
    click(
        &browser,
        "#templates a[href='/templates/view?name=welcome']",
    )
    .await;
    wait_text(&browser, "#template-title", "welcome version 2", false).await;
    fill(&browser, "#p-vars", r#"{"user": {"name": "Ada"}}"#).await;
    click(&browser, "#render").await;
    wait_text(&browser, "#preview-subject", "Welcome, Ada", false).await;
    assert_eq!(text(&browser, "#preview-text").await, "Hi Ada");

    fill(&browser, "#p-vars", r#"{"user": {}}"#).await;
    click(&browser, "#render").await;
    wait_text(&browser, "#preview-error", "vars.user.name", false).await;
    assert!(browser.find(Locator::Css("#preview")).await.is_err());
    browser.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sender_is_paused_resumed_and_revoking_it_asks_first() {
    let Some(driver) = Driver::start() else {
        return;
    };
    let world = World::start();
    let browser = driver.browser(1280, 900).await;
    sign_in(&browser, &world, &world.admin).await;
    enroll_alice(&browser, &world).await;
    browser.goto(&world.url("/senders")).await.unwrap();
    let row = "tr[data-sender='alice@example.com']";

    click(&browser, &format!("{row} .pause-button")).await;
    wait_text(&browser, "#notice", "alice@example.com paused until", false).await;
    wait_text(
        &browser,
        &format!("{row} .health"),
        "paused by an operator (key ops)",
        false,
    )
    .await;
    let listed = world.env.run(&["auth", "list"]).ok();
    assert!(listed.contains("paused by an operator"), "{listed}");

    click(&browser, &format!("{row} .resume-button")).await;
    wait_text(&browser, "#notice", "alice@example.com resumed", false).await;
    let health = text(&browser, &format!("{row} .health")).await;
    assert!(!health.contains("paused"), "{health}");
    assert!(
        browser
            .find(Locator::Css(&format!("{row} .pause-button")))
            .await
            .is_ok()
    );

    click(&browser, &format!("{row} button.revoke")).await;
    wait_text(&browser, "h1", "Confirm: revoke alice@example.com", false).await;
    let listed = world.env.run(&["auth", "list"]).ok();
    assert!(
        listed.contains("alice@example.com"),
        "nothing revoked yet: {listed}"
    );
    click(&browser, "#confirm").await;
    wait_text(
        &browser,
        "#notice",
        "revoked the token of alice@example.com",
        false,
    )
    .await;
    // Her token is gone; the pause left a sender state, so she is still listed, tokenless.
    let listed = world.env.run(&["auth", "list"]).ok();
    let alice = listed
        .lines()
        .find(|l| l.starts_with("alice@example.com"))
        .unwrap_or_default();
    assert!(alice.ends_with("no stored token"), "{listed}");
    browser.close().await.unwrap();
}
