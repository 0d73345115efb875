//! The HTTP API (`mailroom api`) end to end: the real binary over a real Redis, and a worker
//! where a send must be seen.
//!
//! - `messages`: `POST /v1/messages` and its errors, auth and scopes, Redis away;
//! - `operators`: status, cancel, batch, stats, dead letters and senders, as the CLI says;
//! - `templates`: `/v1/templates…`, and jobs rendered from a template;
//! - `unsubscribe`: one-click unsubscribe links, sent by a worker and answered at `/u/TOKEN`;
//! - `world`: the API process, its keys and an HTTP client.

#[path = "../common/mod.rs"]
mod common;
mod messages;
mod operators;
mod templates;
mod unsubscribe;
mod world;
