//! A batch of jobs' recipients looked up in the suppression list at once: each job gets what
//! asking alone would give it (global entries first, then its list's, an address named once),
//! whatever the other jobs of the batch ask. On a single server and on a Redis Cluster.

#[macro_use]
mod common;

use common::{Redis, config, queue};
use mailroom_queue::{Screening, SuppressReason, SuppressScope, Suppression};
use mailroom_testkit::{RedisCluster, RedisServer};

on_both!(a_batch_answers_each_job_as_alone);

fn ask(addresses: &[&str], list: Option<&str>) -> Screening {
    Screening {
        addresses: addresses.iter().map(|a| (*a).to_owned()).collect(),
        list: list.map(str::to_owned),
    }
}

/// Address, scope and reason of each suppression found, in order.
fn names(found: &[Suppression]) -> Vec<(String, SuppressScope, SuppressReason)> {
    found
        .iter()
        .map(|s| (s.address.clone(), s.scope.clone(), s.reason))
        .collect()
}

async fn a_batch_answers_each_job_as_alone(redis: Redis) {
    let q = queue(&redis, config()).await;
    let news = SuppressScope::List("news".to_owned());
    let promo = SuppressScope::List("promo".to_owned());
    for (scope, address, reason) in [
        (
            &SuppressScope::Global,
            "gone@example.org",
            SuppressReason::HardBounce,
        ),
        (&news, "gone@example.org", SuppressReason::Unsubscribed),
        (&news, "reader@example.org", SuppressReason::Unsubscribed),
        (&promo, "shopper@example.org", SuppressReason::Complaint),
    ] {
        assert!(q.suppress(scope, address, reason).await.unwrap());
    }
    let batch = [
        ask(&["Gone@Example.org", "shopper@example.org"], None),
        ask(&["reader@example.org", "gone@example.org"], Some("news")),
        ask(&["shopper@example.org", "new@example.org"], Some("promo")),
        ask(&[], None),
        ask(&["reader@example.org"], Some("promo")),
    ];
    let found = q.suppressed_among_many(&batch).await.unwrap();
    let global = SuppressScope::Global;
    let gone = || "gone@example.org".to_owned();
    let expected = vec![
        vec![(gone(), global.clone(), SuppressReason::HardBounce)],
        vec![
            (gone(), global.clone(), SuppressReason::HardBounce),
            (
                "reader@example.org".to_owned(),
                news.clone(),
                SuppressReason::Unsubscribed,
            ),
        ],
        vec![(
            "shopper@example.org".to_owned(),
            promo,
            SuppressReason::Complaint,
        )],
        vec![],
        vec![],
    ];
    assert_eq!(found.iter().map(|f| names(f)).collect::<Vec<_>>(), expected);
    // Asked alone, each job gets the same answer.
    for (screening, batched) in batch.iter().zip(&found) {
        let addresses: Vec<&str> = screening.addresses.iter().map(String::as_str).collect();
        let alone = q
            .suppressed_among(&addresses, screening.list.as_deref())
            .await
            .unwrap();
        assert_eq!(names(&alone), names(batched));
    }
}
