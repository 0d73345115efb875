//! SIGTERM while sends are in flight on a slow Gmail.

use std::time::{Duration, Instant};

use mailroom_testkit::google::{FakeGoogle, Fault, FaultRule};

use super::{MACHINE, assert_drained, fake_google, gmail_world, missing, wait_all_sent};
use crate::common::google::Tally;
use crate::common::report::Report;
use crate::common::{Backing, enqueue_jobs, stats};

/// What the exit may take beyond the grace: handing back the deliveries still held and the
/// process exit.
const STOP_MARGIN: Duration = Duration::from_secs(10);

/// SIGTERM while 64 sends wait on a slow Gmail (2 s each): the worker lets them finish,
/// hands back the rest, and exits 0 inside its grace; a second worker sends the rest, and no
/// job is received twice.
pub async fn sigterm_with_sends_in_flight(redis: Backing, jobs: usize) {
    const CONCURRENCY: usize = 64;
    const GRACE: Duration = Duration::from_secs(10);
    let _shared = MACHINE.read().await;
    let mut report = Report::start("SIGTERM with 64 sends in flight", &redis);
    report.set("jobs", jobs);
    let google = fake_google();
    google.inject(FaultRule::send(Fault::Latency(Duration::from_secs(2))));
    let env = gmail_world(
        redis,
        &google,
        &format!(
            "[worker]\nconcurrency = {CONCURRENCY}\nshutdown_grace = \"{}s\"",
            GRACE.as_secs()
        ),
    );
    let queue = env.queue().await;
    let ids = enqueue_jobs(&queue, jobs).await;

    let mut worker = env.worker("slow", &[]);
    // Sends the fake has taken in and not yet answered.
    let waiting = |g: &FakeGoogle| usize::try_from(g.send_attempts()).unwrap() - g.sent().len();
    let deadline = Instant::now() + Duration::from_secs(60);
    while waiting(&google) < CONCURRENCY {
        worker.assert_running();
        assert!(
            Instant::now() < deadline,
            "{} sends under way",
            waiting(&google)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let in_flight = waiting(&google);
    report.set("in_flight_at_kill", in_flight);
    // The worker's own timer ends the drain after GRACE, whatever its sends do; the margin
    // covers handing back what it still holds and the process exit on a loaded machine. So
    // this is the grace period as a correctness bound (a worker that ignores its grace fails
    // it), not a measure of speed.
    let took = worker.terminate_cleanly(GRACE + STOP_MARGIN + Duration::from_secs(20));
    assert!(
        took < GRACE + STOP_MARGIN,
        "stopping took {took:?}, longer than the {GRACE:?} grace (+ {STOP_MARGIN:?})"
    );

    let before = Tally::of(&google);
    let s = stats(&queue).await;
    let counts = crate::common::state_counts(&queue, &ids).await;
    println!(
        "SIGTERM with {in_flight} sends in flight: exited 0 after {took:?}; received {}, \
         unique {}, {counts:?}",
        before.received,
        before.unique()
    );
    assert_eq!(
        u64::try_from(before.received).unwrap(),
        google.send_attempts(),
        "every send that reached Gmail was answered before the exit"
    );
    assert!(
        before.received >= in_flight,
        "the {in_flight} sends in flight at SIGTERM finished"
    );
    assert_eq!(
        counts.get("sent").copied().unwrap_or(0),
        before.received,
        "{counts:?}"
    );
    assert_eq!(
        counts.get("queued").copied().unwrap_or(0),
        jobs - before.received,
        "the rest went back to the queue: {counts:?}"
    );
    assert_eq!((s.in_flight, s.workers), (0, 0), "{s:?}");

    google.clear_faults();
    let mut second = env.worker("second", &[]);
    wait_all_sent(&queue, &ids, &mut [&mut second], Duration::from_secs(120)).await;
    second.stop();
    let tally = Tally::of(&google);
    report.tally(&tally);
    report.set("dead", stats(&queue).await.dead);
    report.set(
        "notes",
        format!(
            "exit 0 after {:.1} s (grace {} s); {} sent before the exit",
            took.as_secs_f64(),
            GRACE.as_secs(),
            before.received
        ),
    );
    println!(
        "after a second worker: received {}, unique {}, duplicates {}",
        tally.received,
        tally.unique(),
        tally.duplicates()
    );
    assert_eq!(missing(&tally, &ids), [], "jobs never received");
    assert_eq!(
        (tally.received, tally.unique(), tally.duplicates()),
        (jobs, jobs, 0)
    );
    assert_drained(&queue, 0).await;
}
