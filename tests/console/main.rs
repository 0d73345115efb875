//! The operator console of `mailroom api` end to end: the real binary over a real Redis,
//! a worker, and the fake Google.
//!
//! - `world`: the API (on a port known before it starts, so Google can redirect to it), its
//!   keys, a worker, and a session signed in over plain HTTP;
//! - `http`: sign-in, cookies, security headers, CSRF, the read-only scope, the overview's
//!   numbers, and a sender enrolled, checked and revoked, over plain HTTP;
//! - `pages`: the templates, suppressions and sender-pause pages over plain HTTP: what their
//!   forms do to the queue, CSRF and the read-only scope;
//! - `driver`: chromedriver, started per test on a free port, and a headless Chromium;
//! - `browser`: the journeys in a real browser, and the screenshots of `docs/console/`;
//! - `journeys`: the templates, suppressions and senders pages' journeys in a real browser.

mod browser;
#[path = "../common/mod.rs"]
mod common;
mod driver;
mod http;
mod journeys;
mod pages;
mod world;
