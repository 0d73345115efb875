//! Notification mail: the suppression list (`suppression`): recipients dropped before a
//! send, the `suppressed` outcome, `mailroom suppress …`; stored templates rendered at
//! enqueue (`templates`).

#[path = "../common/mod.rs"]
mod common;
mod suppression;
mod templates;
