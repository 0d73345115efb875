//! The primary of a Sentinel setup killed under running workers and a producer that keeps
//! enqueueing: Sentinel promotes the replica, the old primary comes back as a replica.

use std::time::{Duration, Instant};

use mailroom_jobs::JobId;
use mailroom_queue::{Queue, QueueConfig};

use super::outage::{Producer, wait_until};
use super::switch::{AfterSwitch, after_switch, assert_delivered_once};
use super::{MACHINE, assert_drained, fake_google, gmail_world, missing};
use crate::common::google::Tally;
use crate::common::http::{get, listen_addr, sample};
use crate::common::report::Report;
use crate::common::{Backing, Worker, enqueue_jobs, idle, job_fields, stats};

/// How soon the workers must be sending again: after the promotion, or with
/// `min_replicas_ack` 1 (whose writes need the one replica) after the old primary rejoined.
const BACK_WITHIN: Duration = Duration::from_secs(10);

/// The failover scenario on `redis` (a [`Backing::Sentinel`]) with `preload` jobs queued first
/// and `min_replicas_ack` for the producer and the workers.
///
/// With `min_replicas_ack` 1, every enqueue that returned `Ok` is delivered, and duplicates are
/// at most the deliveries in flight at the kill. With 0, enqueues acknowledged by the old
/// primary but not yet copied to the replica are lost: the scenario counts and prints them.
/// The workers are sending again within 10 s of the promotion (with 0), or of the old primary's
/// return as a replica (with 1: until then no write can be acknowledged by a replica; Sentinel
/// waits 8 s after a former primary reappears before it reconfigures it).
pub async fn primary_killed_and_replica_promoted(
    redis: Backing,
    preload: usize,
    min_replicas_ack: u32,
) {
    let _shared = MACHINE.read().await;
    let mut report = Report::start(
        &format!("primary SIGKILLed, Sentinel failover, min_replicas_ack = {min_replicas_ack}"),
        &redis,
    );
    let google = fake_google();
    let mut env = gmail_world(
        redis,
        &google,
        "[worker]\nconcurrency = 16\n\n[queue]\nlease = \"8s\"",
    );
    let config = QueueConfig {
        min_replicas_ack,
        ..QueueConfig::default()
    };
    let queue = Queue::connect(&env.redis.url(), config)
        .await
        .expect("connect through the sentinels");
    let mut ids = enqueue_jobs(&queue, preload).await;
    let ack = min_replicas_ack.to_string();
    let vars = [("MAILROOM__REDIS__MIN_REPLICAS_ACK", ack.as_str())];
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
    let old = sentinel.primary().expect("one primary");
    let new = 1 - old;
    sentinel.kill_node(old);
    let killed = Instant::now();
    tokio::task::block_in_place(|| sentinel.wait_for_primary(new));
    let promoted = Instant::now();
    let at_promotion = google.sent().len();
    let mut rejoined = Duration::ZERO;
    if min_replicas_ack > 0 {
        rejoin(env.redis.sentinel(), old);
        rejoined = promoted.elapsed();
    }
    wait_until(
        &mut [&mut a, &mut b],
        BACK_WITHIN,
        "the workers to send 50 messages after the failover",
        |_| google.sent().len() >= at_promotion + 50,
    )
    .await;
    let back_after = promoted.elapsed();
    if min_replicas_ack == 0 {
        rejoin(env.redis.sentinel(), old);
        rejoined = promoted.elapsed();
    }
    let (ok_now, _) = producer.counts();
    wait_until(
        &mut [&mut a, &mut b],
        Duration::from_secs(60),
        "50 more enqueues to succeed after the failover",
        |_| producer.counts().0 >= ok_now + 50,
    )
    .await;
    let produced = producer.finish().await;
    ids.extend(&produced.ok);

    // A failed enqueue may have reached the old primary (and the replica) before the kill:
    // such a job is delivered like any other.
    let after = after_switch(&queue, &google, &ids, &produced.failed, [a, b]).await;
    let AfterSwitch {
        all,
        landed,
        gone: lost,
        tally,
        lost_ok,
        ..
    } = &after;
    report.set("jobs", all.len());
    report.tally(tally);
    report.set("dead", stats(&queue).await.dead);
    report.set(
        "notes",
        format!(
            "promoted {:.1} s after the kill; sending again {:.1} s after the promotion \
             (old primary in sync at {:.1} s); {} enqueues refused ({} landed); {} Ok \
             enqueues lost",
            (promoted - killed).as_secs_f64(),
            back_after.as_secs_f64(),
            rejoined.as_secs_f64(),
            produced.failed.len(),
            landed.len(),
            lost_ok.len()
        ),
    );
    println!(
        "failover with min_replicas_ack = {min_replicas_ack}: promoted {:?} after the kill, \
         sending again {back_after:?} after the promotion (old primary back in sync \
         {rejoined:?} after it); {} enqueues Ok, {} refused ({} \
         landed); {} Ok enqueues lost ({} records gone); received {}, unique {}, duplicates {} \
         ({in_flight} in flight at the kill)",
        promoted - killed,
        produced.ok.len(),
        produced.failed.len(),
        landed.len(),
        lost_ok.len(),
        lost.len(),
        tally.received,
        tally.unique(),
        tally.duplicates(),
    );
    if min_replicas_ack == 0 {
        return;
    }
    assert_delivered_once(&queue, &after, in_flight, "at the kill").await;
}

/// Starts the killed old primary `node` again (with its AOF) and waits until Sentinel has made
/// it a replica of the new primary and it is in sync.
fn rejoin(sentinel: &mut mailroom_testkit::RedisSentinel, node: usize) {
    tokio::task::block_in_place(|| {
        sentinel.restart_node(node);
        sentinel.wait_until_in_sync(node);
    });
}
