//! What an operator asks of the queue, shared by the command line (`mailroom dead …`,
//! `mailroom auth list`) and the HTTP API (`/v1/dead…`, `/v1/senders`), so both give the same
//! data and the same messages:
//!
//! - `dead`: the dead-letter filters, listing, and bulk retry or purge;
//! - `senders`: every sender's credential kind, health, pause, quarantine and quota use;
//! - `credentials`: checking a sender's credentials now, and revoking a stored token;
//! - `pool_check`: checking each member of a sender pool, and its send-as alias.

pub mod credentials;
pub mod dead;
pub mod pool_check;
pub mod senders;

/// Why an operator query failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// Bad input; the message names what to fix.
    #[error("{0}")]
    Invalid(String),
    /// Redis (or the token store) could not answer.
    #[error("{0}")]
    Unavailable(String),
}

impl From<mailroom_queue::QueueError> for AdminError {
    fn from(e: mailroom_queue::QueueError) -> Self {
        Self::Unavailable(e.to_string())
    }
}
