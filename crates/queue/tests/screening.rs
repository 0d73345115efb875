//! A batch of jobs' recipients looked up in the suppression list at once: each job gets what
//! asking alone would give it (global entries first, then its list's, an address named once),
//! whatever the other jobs of the batch ask; and a worker that screens on fetch hands each
//! job's answer to its handler on its lease. On a single server and on a Redis Cluster.

#[macro_use]
mod common;

use std::time::Duration;

use common::{Behaviour, Redis, TestWorker, config, eventually, job, job_with, queue};
use mailroom_queue::{RedisBackend, Screening, SuppressReason, SuppressScope, Suppression};
use mailroom_testkit::{RedisCluster, RedisServer};

on_both!(a_batch_answers_each_job_as_alone);
on_both!(a_fetched_job_s_lease_carries_its_screening);

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

/// A worker that screens on fetch gives each job's lease its suppressed recipients (none is
/// an empty answer, not a missing one), and a transactional job none; a worker that does not
/// leaves every job to ask for itself.
async fn a_fetched_job_s_lease_carries_its_screening(redis: Redis) {
    let q = queue(&redis, config()).await;
    let news = SuppressScope::List("news".to_owned());
    q.suppress(
        &SuppressScope::Global,
        "gone@example.org",
        SuppressReason::HardBounce,
    )
    .await
    .unwrap();
    q.suppress(&news, "reader@example.org", SuppressReason::Unsubscribed)
        .await
        .unwrap();
    let list = serde_json::json!({"list": {"id": "news"}});
    let transactional = serde_json::json!({"transactional": true});
    let expected = [
        Some(vec![(
            "gone@example.org".to_owned(),
            SuppressScope::Global,
            SuppressReason::HardBounce,
        )]),
        Some(vec![(
            "reader@example.org".to_owned(),
            news,
            SuppressReason::Unsubscribed,
        )]),
        Some(vec![]),
        None,
    ];
    for screen in [true, false] {
        let jobs = [
            job("Gone@example.org"),
            job_with("reader@example.org", list.clone()),
            job("reader@example.org"),
            job_with("gone@example.org", transactional.clone()),
        ];
        q.enqueue_many(&jobs).await.unwrap();
        let name = format!("screen-{screen}");
        let backend = RedisBackend::new(q.clone(), &name)
            .await
            .unwrap()
            .screen_on_fetch(screen);
        let w = TestWorker::start_on(backend, &name, Behaviour::Keep, 16);
        eventually(Duration::from_secs(10), "every job held", async || {
            (w.kept.0.lock().unwrap().len() == jobs.len()).then_some(())
        })
        .await;
        let leases = std::mem::take(&mut *w.kept.0.lock().unwrap());
        for (j, want) in jobs.iter().zip(&expected) {
            let lease = leases.iter().find(|l| l.job_id() == j.id()).unwrap();
            let got = lease.screened().await.as_deref().map(names);
            let want = want.clone().filter(|_| screen);
            assert_eq!(
                got,
                want,
                "screen_on_fetch({screen}), job to {:?}",
                j.v1().to
            );
        }
        for lease in leases {
            lease.sent(Some("msg"), None).await.unwrap();
        }
        w.stop().await;
    }
}
