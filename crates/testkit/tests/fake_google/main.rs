//! Tests of the fake Google against the real clients: yup-oauth2, the `oauth2` crate,
//! google-gmail1 and reqwest. One suite per protocol area, sharing the clients in `common`:
//!
//! * `common`: the clients pointed at a fake, and readers for Google's answers.
//! * `token_grants`: service-account JWTs, delegation and refresh tokens.
//! * `consent`: the consent endpoint, authorization codes and PKCE.
//! * `account`: tokeninfo, userinfo and revoke.
//! * `gmail`: `users.messages.send` in both forms, and what a send is checked for.
//! * `gmail_read`: `users.messages.list` and `users.messages.get`, and `gmail.metadata`'s limits.
//! * `bounces`: undeliverable recipients, mailbox history, getProfile and `format=raw`.
//! * `faults`: fault rules as the clients see them, and the send log.
//! * `quota`: Gmail's per-user limits.
//! * `server`: the fake as a fixture (threads, plain tests, drop).

mod account;
mod bounces;
mod common;
mod consent;
mod faults;
mod gmail;
mod gmail_read;
mod quota;
mod server;
mod token_grants;
