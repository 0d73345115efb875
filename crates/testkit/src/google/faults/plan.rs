//! The active fault rules and what they decide for one request: a delay,
//! then perhaps a fault.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::fault::{Endpoint, Fault};
use super::rule::FaultRule;

/// What the fault rules decided for one request.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Total latency to add before answering.
    pub delay: Duration,
    /// The fault to apply after the delay, if any (never `Latency`).
    pub fault: Option<Fault>,
}

impl Plan {
    /// Waits out the plan's delay, then says what is left to do: whether to
    /// drop the connection after processing ([`Fault::DropConnection`]) and
    /// any other fault, which may replace the answer.
    pub(crate) async fn wait(self) -> Due {
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        match self.fault {
            Some(Fault::DropConnection) => Due {
                drop_after: true,
                fault: None,
            },
            fault => Due {
                drop_after: false,
                fault,
            },
        }
    }
}

/// What is left of a [`Plan`] once its delay has passed.
#[derive(Debug)]
pub(crate) struct Due {
    /// Process the request, then close the connection without an answer.
    pub drop_after: bool,
    /// A fault that may replace the answer (never `Latency` or
    /// `DropConnection`).
    pub fault: Option<Fault>,
}

/// The active rules and the seeded generator their probabilities draw from.
#[derive(Debug)]
pub(crate) struct FaultSet {
    rules: Vec<FaultRule>,
    rng: StdRng,
}

impl FaultSet {
    pub(crate) fn new(seed: u64) -> FaultSet {
        FaultSet {
            rules: Vec::new(),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    pub(crate) fn push(&mut self, rule: FaultRule) {
        self.rules.push(rule);
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    /// Decides the faults for one request. Rules are tried in the order they
    /// were injected: every matching `Latency` adds its delay, the first other
    /// matching fault wins. A rule that applies uses up one of its `times`.
    pub(crate) fn plan(&mut self, endpoint: Endpoint, user: Option<&str>) -> Plan {
        let mut plan = Plan::default();
        for rule in &mut self.rules {
            if !rule.matches(endpoint, user) {
                continue;
            }
            if let Some(p) = rule.probability
                && !self.rng.random_bool(p.clamp(0.0, 1.0))
            {
                continue;
            }
            if let Some(times) = rule.times.as_mut() {
                *times -= 1;
            }
            match &rule.fault {
                Fault::Latency(delay) => plan.delay += *delay,
                fault => {
                    plan.fault = Some(fault.clone());
                    break;
                }
            }
        }
        self.rules.retain(|rule| rule.times != Some(0));
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_used_up_and_rules_removed() {
        let mut set = FaultSet::new(1);
        set.push(FaultRule::send(Fault::unavailable()).times(2));
        assert!(set.plan(Endpoint::Send, None).fault.is_some());
        assert!(set.plan(Endpoint::Token, None).fault.is_none());
        assert!(set.plan(Endpoint::Send, None).fault.is_some());
        assert!(set.plan(Endpoint::Send, None).fault.is_none());
        assert!(set.rules.is_empty());
    }

    #[test]
    fn user_filter_and_latency_accumulate() {
        let mut set = FaultSet::new(1);
        set.push(FaultRule::any(Fault::Latency(Duration::from_millis(5))));
        set.push(FaultRule::send(Fault::BadGateway).for_user("A@example.com"));
        let plan = set.plan(Endpoint::Send, Some("a@example.com"));
        assert_eq!(plan.delay, Duration::from_millis(5));
        assert_eq!(plan.fault, Some(Fault::BadGateway));
        let plan = set.plan(Endpoint::Send, Some("b@example.com"));
        assert_eq!(plan.fault, None);
        let plan = set.plan(Endpoint::Send, None);
        assert_eq!(plan.fault, None);
    }

    #[test]
    fn probability_is_seeded() {
        let draws = |seed| {
            let mut set = FaultSet::new(seed);
            set.push(FaultRule::send(Fault::backend_error()).with_probability(0.3));
            (0..200)
                .map(|_| set.plan(Endpoint::Send, None).fault.is_some())
                .collect::<Vec<_>>()
        };
        let a = draws(7);
        assert_eq!(a, draws(7));
        let hits = a.iter().filter(|hit| **hit).count();
        assert!((30..90).contains(&hits), "{hits} of 200");
    }

    /// How often each fault came up in `n` plans.
    fn tally(set: &mut FaultSet, n: usize) -> (usize, usize, usize) {
        let (mut unavailable, mut limited, mut none) = (0, 0, 0);
        for _ in 0..n {
            match set.plan(Endpoint::Send, None).fault {
                Some(Fault::Status { code: 503, .. }) => unavailable += 1,
                Some(Fault::Status { code: 429, .. }) => limited += 1,
                None => none += 1,
                other => panic!("{other:?}"),
            }
        }
        (unavailable, limited, none)
    }

    #[test]
    fn independent_probabilities_shadow_the_later_rule() {
        let mut set = FaultSet::new(11);
        set.push(FaultRule::send(Fault::unavailable()).with_probability(0.3));
        set.push(
            FaultRule::send(Fault::rate_limited(Duration::from_secs(1))).with_probability(0.1),
        );
        let (unavailable, limited, _) = tally(&mut set, 20_000);
        // 30 % and 0.7 * 10 % = 7 %; the standard deviations are about 65 and 36.
        assert!((5_700..6_300).contains(&unavailable), "{unavailable}");
        assert!((1_220..1_580).contains(&limited), "{limited}");
    }

    #[test]
    fn one_of_gives_each_fault_its_exact_share() {
        let mut set = FaultSet::new(11);
        for rule in FaultRule::one_of(
            Endpoint::Send,
            [
                (0.3, Fault::unavailable()),
                (0.1, Fault::rate_limited(Duration::from_secs(1))),
            ],
        ) {
            set.push(rule);
        }
        let (unavailable, limited, none) = tally(&mut set, 20_000);
        // 30 %, 10 % and 60 %, each within about five standard deviations.
        assert!((5_700..6_300).contains(&unavailable), "{unavailable}");
        assert!((1_800..2_200).contains(&limited), "{limited}");
        assert!((11_650..12_350).contains(&none), "{none}");
        let rules = FaultRule::one_of(
            Endpoint::Token,
            [(0.5, Fault::BadGateway), (0.5, Fault::unavailable())],
        );
        assert_eq!(rules[0].probability, Some(0.5));
        assert_eq!(rules[1].probability, Some(1.0), "the rest, always");
        assert!(rules.iter().all(|r| r.endpoint == Endpoint::Token));
    }

    #[test]
    #[should_panic(expected = "more than 1")]
    fn one_of_refuses_shares_over_one() {
        let _ = FaultRule::one_of(
            Endpoint::Send,
            [(0.7, Fault::BadGateway), (0.4, Fault::unavailable())],
        );
    }
}
