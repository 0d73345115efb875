//! [`FaultRule`]: which requests a fault applies to, how many and how often.

use super::fault::{Endpoint, Fault};

/// Makes matching requests fail: which endpoint, whose requests, how many
/// and how often, and what happens to them.
///
/// ```
/// use std::time::Duration;
/// use mailroom_testkit::google::{Fault, FaultRule};
///
/// // The next two sends by alice get a 503, then sends succeed again.
/// let rule = FaultRule::send(Fault::unavailable())
///     .for_user("alice@example.com")
///     .times(2);
/// // Three in ten token requests take a second longer.
/// let slow = FaultRule::token(Fault::Latency(Duration::from_secs(1))).with_probability(0.3);
/// # let _ = (rule, slow);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    /// Which endpoint the rule applies to.
    pub endpoint: Endpoint,
    /// Only requests by this user: for sends the access token's subject, for
    /// the token endpoint the JWT's `sub` or the refresh token's (or
    /// authorization code's) user. `None`: everyone's.
    pub user: Option<String>,
    /// Apply to the next N matching requests only; `None`: to every one.
    pub times: Option<u32>,
    /// Apply to each matching request with this probability (0.0 to 1.0),
    /// drawn from the fake's seeded random generator; `None`: always.
    ///
    /// Each rule draws on its own, in injection order, and the first
    /// non-latency rule that applies wins: a rule with probability `p` after
    /// one with probability `q` applies to `(1 - q) * p` of the requests, not
    /// `p`. [`FaultRule::one_of`] makes rules whose shares are exact.
    pub probability: Option<f64>,
    /// What happens.
    pub fault: Fault,
}

impl FaultRule {
    /// A rule for every request to `endpoint`.
    pub fn new(endpoint: Endpoint, fault: Fault) -> FaultRule {
        FaultRule {
            endpoint,
            user: None,
            times: None,
            probability: None,
            fault,
        }
    }

    /// A rule for every send.
    pub fn send(fault: Fault) -> FaultRule {
        FaultRule::new(Endpoint::Send, fault)
    }

    /// A rule for every token request.
    pub fn token(fault: Fault) -> FaultRule {
        FaultRule::new(Endpoint::Token, fault)
    }

    /// A rule for every `messages.list` and `messages.get`.
    pub fn read(fault: Fault) -> FaultRule {
        FaultRule::new(Endpoint::Read, fault)
    }

    /// A rule for every request to any endpoint.
    pub fn any(fault: Fault) -> FaultRule {
        FaultRule::new(Endpoint::Any, fault)
    }

    /// Only requests by `user` (compared case-insensitively).
    pub fn for_user(mut self, user: &str) -> FaultRule {
        self.user = Some(user.to_owned());
        self
    }

    /// Only the next `n` matching requests.
    pub fn times(mut self, n: u32) -> FaultRule {
        self.times = Some(n);
        self
    }

    /// Only the next matching request.
    pub fn once(self) -> FaultRule {
        self.times(1)
    }

    /// Each matching request with probability `p` (clamped to 0.0..=1.0).
    /// See [`FaultRule::probability`] for how rules with probabilities
    /// combine.
    pub fn with_probability(mut self, p: f64) -> FaultRule {
        self.probability = Some(p);
        self
    }

    /// Rules that, injected together and in this order
    /// ([`FakeGoogle::inject_all`](crate::google::FakeGoogle::inject_all)), give each
    /// matching request `endpoint` the `i`-th fault with probability `shares[i].0`
    /// and no fault with the rest: `one_of(Endpoint::Send, [(0.3, a), (0.1, b)])`
    /// fails 30 % of the sends with `a` and 10 % with `b`.
    ///
    /// Since rules draw in turn and the first that applies wins, each rule's
    /// probability is its share of what the rules before it left over.
    /// Rules injected before these take their part first.
    ///
    /// # Panics
    ///
    /// If a share is negative or the shares add up to more than 1.
    pub fn one_of(
        endpoint: Endpoint,
        shares: impl IntoIterator<Item = (f64, Fault)>,
    ) -> Vec<FaultRule> {
        let mut left = 1.0_f64;
        let mut rules = Vec::new();
        for (share, fault) in shares {
            assert!(share >= 0.0, "a negative share: {share}");
            // A little slack for shares like 0.7 + 0.2 + 0.1 in floating point.
            assert!(
                share <= left + 1e-9,
                "the shares add up to more than 1 (at {share}, {left} was left)"
            );
            let p = if left > 0.0 {
                (share / left).min(1.0)
            } else {
                0.0
            };
            rules.push(FaultRule::new(endpoint, fault).with_probability(p));
            left = (left - share).max(0.0);
        }
        rules
    }

    pub(super) fn matches(&self, endpoint: Endpoint, user: Option<&str>) -> bool {
        let endpoint_matches = self.endpoint == Endpoint::Any || self.endpoint == endpoint;
        let user_matches = match (&self.user, user) {
            (None, _) => true,
            (Some(wanted), Some(user)) => wanted.eq_ignore_ascii_case(user),
            (Some(_), None) => false,
        };
        endpoint_matches && user_matches && self.times != Some(0)
    }
}
