//! Notification mail: the suppression list (`suppression`): recipients dropped before a
//! send, the `suppressed` outcome, `mailroom suppress …`.

#[path = "../common/mod.rs"]
mod common;
mod suppression;
