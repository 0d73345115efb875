//! Fault injection: [`FaultRule`]s that make chosen requests fail, stall or
//! lose their connection.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Which requests a [`FaultRule`] applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `users.messages.send` (upload and JSON forms).
    Send,
    /// The OAuth token endpoint (`POST /token`).
    Token,
    /// Every endpoint the fake serves.
    Any,
}

/// What happens to a request a [`FaultRule`] picked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and Google's error JSON
    /// (`{"error":{"code","message","errors":[{"message","domain","reason"}],"status"}}`),
    /// on the token endpoint OAuth's `{"error":reason,"error_description":message}`.
    Status {
        /// HTTP status code.
        code: u16,
        /// Google's `reason` (`backendError`, `rateLimitExceeded`, …).
        reason: String,
        /// The human-readable `message`.
        message: String,
        /// Sent as a `Retry-After: <seconds>` header when set.
        retry_after: Option<Duration>,
    },
    /// Wait this long, then answer normally (other rules may still apply).
    Latency(Duration),
    /// Read the request, process it, then close the connection without an
    /// answer. A send is accepted and recorded first (the mail went out but
    /// the client cannot know); a token request issues its token.
    DropConnection,
    /// Read the request and close the connection without an answer and
    /// without processing it.
    DropBeforeAccept,
    /// 502 with an HTML body, as a load balancer in front of Google answers.
    BadGateway,
}

impl Fault {
    /// Any status with Google's error JSON.
    pub fn status(code: u16, reason: &str, message: &str) -> Fault {
        Fault::Status {
            code,
            reason: reason.to_owned(),
            message: message.to_owned(),
            retry_after: None,
        }
    }

    /// 500 `backendError`.
    pub fn backend_error() -> Fault {
        Fault::status(500, "backendError", "Backend Error")
    }

    /// 503 `backendError`, status `UNAVAILABLE`.
    pub fn unavailable() -> Fault {
        Fault::status(503, "backendError", "The service is currently unavailable.")
    }

    /// 429 `rateLimitExceeded` "Too many concurrent requests for user.", with
    /// a `Retry-After` header.
    pub fn rate_limited(retry_after: Duration) -> Fault {
        Fault::Status {
            code: 429,
            reason: "rateLimitExceeded".to_owned(),
            message: "Too many concurrent requests for user.".to_owned(),
            retry_after: Some(retry_after),
        }
    }

    /// 403 `userRateLimitExceeded`.
    pub fn user_rate_limited() -> Fault {
        Fault::status(403, "userRateLimitExceeded", "User Rate Limit Exceeded")
    }

    /// 403 `dailyLimitExceeded`.
    pub fn daily_limit() -> Fault {
        Fault::status(403, "dailyLimitExceeded", "Daily Limit Exceeded")
    }

    /// 429 `rateLimitExceeded` as Gmail answers a user over the daily
    /// sending limit: "User-rate limit exceeded.  Retry after
    /// 2026-11-25T20:00:00.000Z (Mail sending)". No `Retry-After` header.
    pub fn mail_sending_limit(until: DateTime<Utc>) -> Fault {
        Fault::status(
            429,
            "rateLimitExceeded",
            &format!(
                "User-rate limit exceeded.  Retry after {} (Mail sending)",
                until.to_rfc3339_opts(SecondsFormat::Millis, true)
            ),
        )
    }

    /// 400 `invalidArgument` with this message.
    pub fn bad_request(message: &str) -> Fault {
        Fault::status(400, "invalidArgument", message)
    }

    /// 400 `failedPrecondition` with this message (status
    /// `FAILED_PRECONDITION`).
    pub fn failed_precondition(message: &str) -> Fault {
        Fault::status(400, "failedPrecondition", message)
    }

    /// 403 `forbidden` with this message.
    pub fn forbidden(message: &str) -> Fault {
        Fault::status(403, "forbidden", message)
    }

    /// 403 `domainPolicy`: "The domain administrators have disabled Gmail
    /// apps."
    pub fn domain_policy() -> Fault {
        Fault::status(
            403,
            "domainPolicy",
            "The domain administrators have disabled Gmail apps.",
        )
    }

    /// 401 `authError` ("Invalid Credentials"), whatever the token.
    pub fn unauthorized() -> Fault {
        Fault::status(401, AUTH_ERROR_REASON, INVALID_CREDENTIALS_MESSAGE)
    }

    /// The same fault with a `Retry-After` header (only for
    /// [`Fault::Status`]; other faults are returned unchanged).
    pub fn with_retry_after(self, retry_after: Duration) -> Fault {
        match self {
            Fault::Status {
                code,
                reason,
                message,
                ..
            } => Fault::Status {
                code,
                reason,
                message,
                retry_after: Some(retry_after),
            },
            other => other,
        }
    }
}

/// Reason of Google's 401 answers.
pub(crate) const AUTH_ERROR_REASON: &str = "authError";
/// Message of Google's 401 answer to a bad access token.
pub(crate) const INVALID_CREDENTIALS_MESSAGE: &str = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";

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
    /// ([`FakeGoogle::inject_all`](super::FakeGoogle::inject_all)), give each
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

    fn matches(&self, endpoint: Endpoint, user: Option<&str>) -> bool {
        let endpoint_matches = self.endpoint == Endpoint::Any || self.endpoint == endpoint;
        let user_matches = match (&self.user, user) {
            (None, _) => true,
            (Some(wanted), Some(user)) => wanted.eq_ignore_ascii_case(user),
            (Some(_), None) => false,
        };
        endpoint_matches && user_matches && self.times != Some(0)
    }
}

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

/// Whether `reason` is one of Google's usage-limit reasons (domain
/// `usageLimits`).
pub(crate) fn is_usage_limit(reason: &str) -> bool {
    matches!(
        reason,
        "rateLimitExceeded"
            | "userRateLimitExceeded"
            | "dailyLimitExceeded"
            | "quotaExceeded"
            | "concurrentLimitExceeded"
            | "limitExceeded"
    )
}

/// The canonical status string Google pairs with an HTTP code (and reason).
pub(crate) fn status_name(code: u16, reason: &str) -> &'static str {
    match code {
        400 if reason == "failedPrecondition" => "FAILED_PRECONDITION",
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ABORTED",
        412 => "FAILED_PRECONDITION",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        500 => "INTERNAL",
        501 => "UNIMPLEMENTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNKNOWN",
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

    #[test]
    fn mail_sending_limit_message() {
        let until = DateTime::parse_from_rfc3339("2026-11-25T20:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let Fault::Status { code, message, .. } = Fault::mail_sending_limit(until) else {
            panic!("not a status fault");
        };
        assert_eq!(code, 429);
        assert_eq!(
            message,
            "User-rate limit exceeded.  Retry after 2026-11-25T20:00:00.000Z (Mail sending)"
        );
    }
}
