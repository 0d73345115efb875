//! Fault injection: [`FaultRule`]s that make chosen requests fail, stall or
//! lose their connection, and the error vocabulary the fake answers with.
//!
//! * `fault.rs`: [`Endpoint`], [`Fault`] and Google's reasons and statuses.
//! * `rule.rs`: [`FaultRule`], which requests a fault applies to.
//! * `plan.rs`: the active rules and what they decide for one request.

mod fault;
mod plan;
mod rule;

pub(crate) use fault::{
    AUTH_ERROR_REASON, INVALID_CREDENTIALS_MESSAGE, is_usage_limit, status_name,
};
pub use fault::{Endpoint, Fault};
pub(crate) use plan::{FaultSet, Plan};
pub use rule::FaultRule;
