//! A planned failover (`SENTINEL FAILOVER`) of a Sentinel setup under running workers and a
//! producer that keeps enqueueing, with `min_replicas_ack` 1: the replica is promoted while
//! the old primary is still up, and Sentinel makes the old primary its replica.

use std::time::{Duration, Instant};

use mailroom_jobs::JobId;
use mailroom_queue::{Queue, QueueConfig};

use super::outage::{Producer, wait_until};
use super::switch::{AfterSwitch, after_switch, assert_delivered_once};
use super::{MACHINE, assert_drained, fake_google, gmail_world, missing};
use crate::common::google::Tally;
use crate::common::http::{get, listen_addr, sample};
use crate::common::report::Report;
use crate::common::{Backing, Worker, enqueue_jobs, stats};

/// How soon after the promotion the workers must be sending again.
const BACK_WITHIN: Duration = Duration::from_secs(10);

/// The planned failover on `redis` (a [`Backing::Sentinel`]) with `preload` jobs queued first.
///
/// Every enqueue that returned `Ok` is delivered, duplicates are at most the deliveries in
/// flight at the switch, and no worker exits. With two replicas or more, the workers have sent
/// 50 more messages within 10 s of the promotion. With one, no write can be acknowledged until
/// Sentinel has made the old primary a replica of the new one (it waits about 8 s after the
/// switch before it reconfigures a node that still says it is a primary), and the workers have
/// sent 50 more within 10 s of that. The scenario prints how long enqueues were refused and
/// when the old primary was back in sync.
///
/// With two replicas, `min_replicas_ack` 1 does not protect an enqueue through a planned
/// failover: between the promotion of one replica and `+switch-master`, the old primary keeps
/// taking writes and the other replica keeps acknowledging them, and both are then resynced
/// from the new primary, which never had them. Without `expect_no_loss` the scenario counts
/// and prints those lost enqueues instead of asserting none.
pub async fn planned_failover(redis: Backing, preload: usize, expect_no_loss: bool) {
    let _shared = MACHINE.read().await;
    let mut report = Report::start(
        "planned failover (SENTINEL FAILOVER), min_replicas_ack = 1",
        &redis,
    );
    let google = fake_google();
    let mut env = gmail_world(
        redis,
        &google,
        "[worker]\nconcurrency = 16\n\n[queue]\nlease = \"8s\"",
    );
    let config = QueueConfig {
        min_replicas_ack: 1,
        ..QueueConfig::default()
    };
    let queue = Queue::connect(&env.redis.url(), config)
        .await
        .expect("connect through the sentinels");
    let mut ids = enqueue_jobs(&queue, preload).await;
    let vars = [("MAILROOM__REDIS__MIN_REPLICAS_ACK", "1")];
    let mut a = env.worker("a", &vars);
    let mut b = env.worker("b", &vars);
    let producer = Producer::start(queue.clone());
    super::wait_received(
        &google,
        &mut [&mut a, &mut b],
        preload / 4,
        Duration::from_secs(120),
    )
    .await;

    let in_flight = stats(&queue).await.in_flight;
    report.set("in_flight_at_kill", in_flight);
    let sentinel = env.redis.sentinel();
    // Node 0 is the first primary of a fresh setup (a probe of every node's role can time
    // out on a busy machine, so it is not asked).
    let old = 0;
    let replicas = sentinel.node_count() - 1;
    let asked = Instant::now();
    sentinel.failover();
    tokio::task::block_in_place(|| sentinel.wait_for_primary_other_than(old));
    let promoted = Instant::now();
    let (ok_at_promotion, _) = producer.counts();
    let ready_at_promotion = stats(&queue).await.ready;
    // With one replica, no write can be acknowledged until the old primary is its replica.
    let mut in_sync_after = None;
    if replicas == 1 {
        tokio::task::block_in_place(|| env.redis.sentinel().wait_until_in_sync(old));
        in_sync_after = Some(promoted.elapsed());
    }
    let from = Instant::now();
    let at = google.sent().len();
    wait_until(
        &mut [&mut a, &mut b],
        BACK_WITHIN,
        "the workers to send 50 messages after the planned failover",
        |_| google.sent().len() >= at + 50,
    )
    .await;
    let back_after = promoted.elapsed();
    let back_within = from.elapsed();
    wait_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(60),
        "an enqueue to succeed after the planned failover",
        |_| producer.counts().0 > ok_at_promotion,
    )
    .await;
    let enqueue_ok_after = promoted.elapsed();
    let in_sync_after = match in_sync_after {
        Some(t) => t,
        None => {
            tokio::task::block_in_place(|| env.redis.sentinel().wait_until_in_sync(old));
            promoted.elapsed()
        }
    };
    let (ok_now, _) = producer.counts();
    wait_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(60),
        "50 more enqueues to succeed after the planned failover",
        |_| producer.counts().0 >= ok_now + 50,
    )
    .await;
    let produced = producer.finish().await;
    ids.extend(&produced.ok);

    // A refused enqueue may still have reached the new primary: it is delivered like any other.
    let after = after_switch(&queue, &google, &ids, &produced.failed, [a, b]).await;
    let AfterSwitch {
        all,
        landed,
        gone,
        tally,
        lost_ok,
        ..
    } = &after;
    let summary = format!(
        "{replicas} replica(s): promoted {:.1} s after SENTINEL FAILOVER ({ready_at_promotion} \
         jobs ready then); 50 sent {:.1} s after the promotion ({:.1} s after {}); enqueues Ok \
         again {:.1} s after it (old primary in sync at {:.1} s); {} enqueues refused ({} \
         landed); {} Ok enqueues lost",
        (promoted - asked).as_secs_f64(),
        back_after.as_secs_f64(),
        back_within.as_secs_f64(),
        if replicas == 1 {
            "the old primary was back in sync"
        } else {
            "the promotion"
        },
        enqueue_ok_after.as_secs_f64(),
        in_sync_after.as_secs_f64(),
        produced.failed.len(),
        landed.len(),
        lost_ok.len()
    );
    println!(
        "planned failover: {summary}; {} enqueues Ok, {} records gone; received {}, unique {}, \
         duplicates {} ({in_flight} in flight at the switch)",
        produced.ok.len(),
        gone.len(),
        tally.received,
        tally.unique(),
        tally.duplicates(),
    );
    report.set("jobs", all.len());
    report.tally(tally);
    report.set("dead", stats(&queue).await.dead);
    report.set("notes", summary.clone());
    if !expect_no_loss {
        return;
    }
    assert_delivered_once(&queue, &after, in_flight, "at the switch").await;
}
