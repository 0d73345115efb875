//! Operating a worker: `/metrics`, `/livez` and `/readyz` on its HTTP listener (`metrics`),
//! the start and systemd notifications (`service`), and the operator commands (`config
//! check`, `dead list/retry/purge` with filters, `queue stats`: `commands`).

mod commands;
#[path = "../common/mod.rs"]
mod common;
mod metrics;
mod service;
