//! Latency of the `mailroom run` process (`null` transport): from enqueue into an idle queue to
//! the job recorded sent, and from a scheduled job's due time to the job recorded sent; each
//! measured alone and again while another client enqueues batches of 1,000 into a queue of its
//! own on the same Redis. Both read from the job records (millisecond resolution); the time to
//! record the outcome is included (protocol v2 writes nothing when a send starts).

use std::time::{Duration, Instant};

use chrono::Utc;
use mailroom_enqueue::Client;
use mailroom_jobs::EmailJob;
use mailroom_queue::{JobState, Queue, QueueConfig};

use crate::report::{Table, percentile};
use crate::world::{World, job};

const PICKUPS: usize = 200;
const SCHEDULED: usize = 200;
/// Scheduled jobs are spread over this window, one every 50 ms.
const SPREAD_MS: i64 = 50;
/// The other client's batches: this many jobs, one batch every [`LOAD_EVERY`].
const LOAD_BATCH: usize = 1_000;
const LOAD_EVERY: Duration = Duration::from_millis(100);

async fn sent(queue: &Queue, id: mailroom_jobs::JobId) -> mailroom_queue::JobStatus {
    loop {
        let status = queue.status(id).await.expect("status").expect("job record");
        if status.state == JobState::Sent {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Idle pickups and scheduled lateness (ms), measured against the running worker.
async fn series(client: &Client, queue: &Queue) -> (Vec<f64>, Vec<f64>) {
    let mut pickup = Vec::with_capacity(PICKUPS);
    for i in 0..PICKUPS {
        // Let the worker settle back into its blocking read.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let id = client.send(job(i)).await.expect("send").id;
        let status = sent(queue, id).await;
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
        let status = sent(queue, id).await;
        let done = status.finished_at.expect("finished_at");
        lateness.push((done - due).num_milliseconds() as f64);
    }
    (pickup, lateness)
}

/// Another client: `send_many` of [`LOAD_BATCH`] new jobs into the queue `bench-load` every
/// [`LOAD_EVERY`] until `stop` fires (no worker takes them). Returns each call's time (ms).
async fn load(url: String, mut stop: tokio::sync::oneshot::Receiver<()>) -> Vec<f64> {
    let client = Client::connect(&url, "bench-load").await.expect("connect");
    let mut tick = tokio::time::interval(LOAD_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut calls = Vec::new();
    loop {
        tokio::select! {
            _ = &mut stop => return calls,
            _ = tick.tick() => {}
        }
        let jobs: Vec<EmailJob> = (0..LOAD_BATCH).map(job).collect();
        let began = Instant::now();
        client.send_many(jobs).await.expect("send_many");
        calls.push(began.elapsed().as_secs_f64() * 1e3);
    }
}

/// Redis's slow log from here on: every command over 1 ms.
async fn watch_slow_commands(world: &World) -> redis::aio::MultiplexedConnection {
    let mut conn = world.conn().await;
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("slowlog-log-slower-than")
        .arg(1_000)
        .arg("slowlog-max-len")
        .arg(4_096)
        .query_async(&mut conn)
        .await
        .expect("CONFIG SET");
    let _: () = redis::cmd("SLOWLOG")
        .arg("RESET")
        .query_async(&mut conn)
        .await
        .expect("SLOWLOG RESET");
    conn
}

/// The slow log's entries as (command name, µs), longest first.
async fn slow_commands(conn: &mut redis::aio::MultiplexedConnection) -> Vec<(String, u64)> {
    let entries: Vec<redis::Value> = redis::cmd("SLOWLOG")
        .arg("GET")
        .arg(-1)
        .query_async(conn)
        .await
        .expect("SLOWLOG GET");
    let mut slow: Vec<(String, u64)> = entries
        .into_iter()
        .filter_map(|e| {
            let redis::Value::Array(fields) = e else {
                return None;
            };
            let micros = redis::from_redis_value_ref::<u64>(fields.get(2)?).ok()?;
            let redis::Value::Array(argv) = fields.get(3)? else {
                return None;
            };
            let name = redis::from_redis_value_ref::<String>(argv.first()?).ok()?;
            Some((name.to_uppercase(), micros))
        })
        .collect();
    slow.sort_by_key(|(_, us)| std::cmp::Reverse(*us));
    slow
}

/// Bytes of the large job's text.
const LARGE: usize = 25_000_000;

/// Enqueues one job of [`LARGE`] bytes with `send`, no worker reading: the Redis commands of
/// over 1 ms meanwhile, longest first, and the call's own time (ms).
async fn large_enqueue(world: &World, client: &Client) -> (Vec<(String, u64)>, f64) {
    let mut json = crate::world::job_json(0);
    json["text"] = serde_json::Value::String("a".repeat(LARGE));
    let large = EmailJob::from_json(json.to_string().as_bytes()).expect("a valid large job");
    let mut slowlog = watch_slow_commands(world).await;
    let start = Instant::now();
    client.send(large).await.expect("send the large job");
    let took = start.elapsed().as_secs_f64() * 1e3;
    (slow_commands(&mut slowlog).await, took)
}

fn row(table: &mut Table, what: &str, samples: &mut [f64]) {
    samples.sort_by(f64::total_cmp);
    table.row(vec![
        what.to_owned(),
        samples.len().to_string(),
        format!("{:.0}", percentile(samples, 0.50)),
        format!("{:.0}", percentile(samples, 0.99)),
        format!("{:.0}", samples.last().copied().unwrap_or(f64::NAN)),
    ]);
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

    let (mut pickup, mut lateness) = series(&client, &queue).await;
    let mut slowlog = watch_slow_commands(world).await;
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let loader = tokio::spawn(load(world.url(), stopped));
    let (mut loaded_pickup, mut loaded_lateness) = series(&client, &queue).await;
    let _ = stop.send(());
    let mut calls = loader.await.expect("the loading client");
    let slow = slow_commands(&mut slowlog).await;
    crate::contenders::stop(child);
    let (large_slow, large_took) = large_enqueue(world, &client).await;
    world.flush().await;

    row(
        &mut table,
        "idle pickup: enqueue into an idle queue → recorded sent",
        &mut pickup,
    );
    row(
        &mut table,
        "scheduled lateness: due time → recorded sent",
        &mut lateness,
    );
    let during = format!("while another client enqueues batches of {LOAD_BATCH}");
    row(
        &mut table,
        &format!("idle pickup, {during}"),
        &mut loaded_pickup,
    );
    row(
        &mut table,
        &format!("scheduled lateness, {during}"),
        &mut loaded_lateness,
    );
    calls.sort_by(f64::total_cmp);
    table.note(format!(
        "Idle pickup: {PICKUPS} jobs sent one at a time into an idle queue, each after the \
         worker went back to its blocking read. Scheduled: {SCHEDULED} jobs due one every \
         {SPREAD_MS} ms. Then both again while a second client on the same Redis calls \
         `send_many` with {LOAD_BATCH} new jobs every {} ms into a queue of its own ({} calls; \
         each took a median {:.1} ms, at most {:.1} ms, validation and serialisation \
         included). Redis ran {} commands of over 5 ms meanwhile; the longest: {}. Targets: idle pickup p99 ≤ 20 ms, scheduled lateness p99 ≤ 100 ms, in \
         both cases.",
        LOAD_EVERY.as_millis(),
        calls.len(),
        percentile(&calls, 0.50),
        calls.last().copied().unwrap_or(f64::NAN),
        slow.iter().filter(|(_, us)| *us > 5_000).count(),
        slow.first().map_or_else(
            || "none over 1 ms".to_owned(),
            |(name, us)| format!("{name}, {:.1} ms", *us as f64 / 1e3)
        ),
    ));
    table.note(format!(
        "One job of {} MB (its text) enqueued with `send` into an idle queue: the call took \
         {large_took:.0} ms; its longest Redis command: {}.",
        LARGE / 1_000_000,
        large_slow.first().map_or_else(
            || "none over 1 ms".to_owned(),
            |(name, us)| format!("{name}, {:.1} ms", *us as f64 / 1e3)
        ),
    ));
    table
}
