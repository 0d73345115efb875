//! Latency of the `mailroom run` process (`null` transport): from enqueue into an idle queue to
//! the job recorded sent, and from a scheduled job's due time to the job recorded sent. Both
//! read from the job records (millisecond resolution); the time to record the outcome is
//! included (protocol v2 writes nothing when a send starts).

use std::time::Duration;

use chrono::Utc;
use mailroom_enqueue::Client;
use mailroom_queue::{JobState, Queue, QueueConfig};

use crate::report::{Table, percentile};
use crate::world::{World, job};

const PICKUPS: usize = 200;
const SCHEDULED: usize = 200;
/// Scheduled jobs are spread over this window, one every 50 ms.
const SPREAD_MS: i64 = 50;

async fn sent(queue: &Queue, id: mailroom_jobs::JobId) -> mailroom_queue::JobStatus {
    loop {
        let status = queue.status(id).await.expect("status").expect("job record");
        if status.state == JobState::Sent {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

pub async fn measure(world: &World) -> Table {
    let mut table = Table::new(&["what", "samples", "p50 ms", "p99 ms", "max ms"]);
    let name = "bench-latency";
    let client = Client::connect(&world.url(), name).await.expect("connect");
    let queue = Queue::connect(&world.url(), QueueConfig::named(name))
        .await
        .expect("connect");
    let Some(_) = world.binary("mailroom") else {
        table.note("`mailroom` is not built beside `mailroom-bench`: latency not measured.");
        return table;
    };
    let child = crate::contenders::spawn_null(world, name);
    // The worker is up once it has taken a first job.
    sent(&queue, client.send(job(0)).await.expect("send").id).await;

    let mut pickup = Vec::with_capacity(PICKUPS);
    for i in 0..PICKUPS {
        // Let the worker settle back into its blocking read.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let id = client.send(job(i)).await.expect("send").id;
        let status = sent(&queue, id).await;
        let done = status.finished_at.expect("finished_at");
        pickup.push((done - status.created_at).num_milliseconds() as f64);
    }

    let start = Utc::now() + chrono::Duration::milliseconds(500);
    let mut ids = Vec::with_capacity(SCHEDULED);
    for i in 0..SCHEDULED {
        let at = start + chrono::Duration::milliseconds(SPREAD_MS * i as i64);
        ids.push((client.schedule(job(i), at).await.expect("schedule").id, at));
    }
    let mut lateness = Vec::with_capacity(SCHEDULED);
    for (id, due) in ids {
        let status = sent(&queue, id).await;
        let done = status.finished_at.expect("finished_at");
        lateness.push((done - due).num_milliseconds() as f64);
    }
    crate::contenders::stop(child);
    world.flush().await;

    for (what, samples) in [
        (
            "idle pickup: enqueue into an idle queue → recorded sent",
            &mut pickup,
        ),
        (
            "scheduled lateness: due time → recorded sent",
            &mut lateness,
        ),
    ] {
        samples.sort_by(f64::total_cmp);
        table.row(vec![
            what.to_owned(),
            samples.len().to_string(),
            format!("{:.0}", percentile(samples, 0.50)),
            format!("{:.0}", percentile(samples, 0.99)),
            format!("{:.0}", samples.last().copied().unwrap_or(f64::NAN)),
        ]);
    }
    table.note(format!(
        "Idle pickup: {PICKUPS} jobs sent one at a time into an idle queue, each after the \
         worker went back to its blocking read. Scheduled: {SCHEDULED} jobs due one every \
         {SPREAD_MS} ms. Targets: idle pickup p99 ≤ 20 ms, scheduled lateness p99 ≤ 100 ms."
    ));
    table
}
