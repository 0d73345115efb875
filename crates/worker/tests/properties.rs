//! Property tests of what a failed send becomes: whatever Google answers (any status, reason,
//! message, `Retry-After` up to `u64::MAX` seconds, timed out or not) at any time, the
//! classifier and [`decide`] never panic, a retry is never scheduled in the past, a rate or
//! sender limit never spends an attempt, and a permanent error dies at once. Run deeper with
//! `PROPTEST_CASES=5000`.

use std::time::Duration;

use chrono::{DateTime, TimeZone as _, Utc};
use mailroom_queue::RetryPolicy;
use mailroom_worker::config::MAX_DURATION;
use mailroom_worker::outcome::{Failure, Quarantine, decide};
use mailroom_worker::transport::Verdict;
use mailroom_worker::transport::gmail::classify::{Failed, classify_send_error};
use proptest::prelude::*;
use rand::SeedableRng as _;

/// A time from 1970 to the year 9000.
fn time() -> impl Strategy<Value = DateTime<Utc>> {
    (0i64..221_845_392_000).prop_map(|s| Utc.timestamp_opt(s, 0).unwrap())
}

/// A duration a config may hold (up to [`MAX_DURATION`]).
fn config_duration() -> impl Strategy<Value = Duration> {
    prop_oneof![
        (1u64..=3600).prop_map(Duration::from_secs),
        (1u64..=MAX_DURATION.as_secs()).prop_map(Duration::from_secs),
    ]
}

fn reason() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(prop_oneof![
        proptest::sample::select(vec![
            "backendError",
            "rateLimitExceeded",
            "userRateLimitExceeded",
            "dailyLimitExceeded",
            "insufficientPermissions",
            "forbidden",
            "domainPolicy",
            "failedPrecondition",
        ])
        .prop_map(str::to_owned),
        ".{0,40}",
    ])
}

fn message() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,80}",
        (time(), "(Mail sending)|\\(Other\\)").prop_map(|(t, tail)| format!(
            "User-rate limit exceeded.  Retry after {} {tail}",
            t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        )),
        "Retry after [0-9:TZ.-]{0,40} \\(Mail sending\\)",
    ]
}

fn failed() -> impl Strategy<Value = Failed> {
    (
        proptest::option::of(any::<u16>()),
        reason(),
        message(),
        proptest::option::of(prop_oneof![Just(u64::MAX), any::<u64>(), 0u64..100_000]),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(status, reason, message, retry_after, timed_out, not_json)| Failed {
                status,
                reason,
                message,
                retry_after: retry_after.map(Duration::from_secs),
                timed_out,
                not_json,
            },
        )
}

fn policy() -> impl Strategy<Value = RetryPolicy> {
    (
        config_duration(),
        config_duration(),
        1u32..50,
        config_duration(),
        config_duration(),
    )
        .prop_map(
            |(base, extra, max_attempts, give_up_after, max_retry_after)| RetryPolicy {
                base,
                cap: base.saturating_add(extra).min(MAX_DURATION),
                max_attempts,
                give_up_after,
                max_retry_after,
            },
        )
}

proptest! {
    #[test]
    fn classify_and_decide_never_panic_and_keep_their_promises(
        failed in failed(),
        now in time(),
        age in 0u64..(20 * 365 * 86_400),
        failed_before in any::<u32>(),
        policy in policy(),
        recheck in config_duration(),
        give_up in config_duration(),
        seed in any::<u64>(),
    ) {
        let error = classify_send_error(&failed, now);
        let created_at = now - chrono::Duration::seconds(i64::try_from(age).unwrap());
        let quarantine = Quarantine { recheck, give_up };
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let failure = decide(&error, failed_before, created_at, now, &policy, &quarantine, &mut rng);
        match (&error.verdict, failure) {
            (Verdict::Permanent, Failure::Dead(reason)) => prop_assert!(!reason.is_empty()),
            (Verdict::Permanent, other) => prop_assert!(false, "permanent became {other:?}"),
            (_, Failure::Retry { at, spend_attempt }) => {
                prop_assert!(at >= now, "a retry in the past: {at} < {now}");
                if matches!(
                    error.verdict,
                    Verdict::RateLimited | Verdict::SenderLimit { .. } | Verdict::Unreachable | Verdict::Credentials
                ) {
                    prop_assert!(!spend_attempt, "{:?} spent an attempt", error.verdict);
                }
            }
            (Verdict::Transient | Verdict::Credentials, Failure::Dead(reason)) => {
                prop_assert!(reason.starts_with("gave up"), "{reason}");
            }
            (verdict, Failure::Dead(reason)) => {
                prop_assert!(false, "{verdict:?} died: {reason}");
            }
        }
    }
}
