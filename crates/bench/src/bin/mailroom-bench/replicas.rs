//! What replica acknowledgement costs (`redis.min_replicas_ack`): `send` and `send_many` with
//! N = 0 and N = 1 against a primary with one replica (started for the measurement, AOF on,
//! with three Sentinels watching, as the Sentinel tests run it), in the same run.

use std::time::{Duration, Instant};

use mailroom_enqueue::{Client, Policy};
use mailroom_queue::QueueConfig;
use mailroom_testkit::RedisSentinel;

use crate::report::{Table, thousands};
use crate::sizes::Sizes;
use crate::world::job;

const BATCH: usize = 1_000;

/// Rate and mean time per call of one measurement.
struct Timed {
    jobs: usize,
    calls: usize,
    took: Duration,
}

impl Timed {
    fn rate(&self) -> f64 {
        self.jobs as f64 / self.took.as_secs_f64().max(1e-9)
    }
    fn ms_per_call(&self) -> f64 {
        self.took.as_secs_f64() * 1_000.0 / self.calls.max(1) as f64
    }
}

async fn client(url: &str, queue: &str, acks: u32) -> Client {
    let config = QueueConfig {
        min_replicas_ack: acks,
        replica_ack_timeout: Duration::from_secs(2),
        ..QueueConfig::named(queue)
    };
    Client::connect_with(url, config, Policy::default())
        .await
        .expect("connect the enqueue client to the primary")
}

pub async fn costs(sizes: &Sizes) -> Table {
    let group = RedisSentinel::start();
    let url = format!("redis://127.0.0.1:{}/", group.node_port(0));
    let mut table = Table::new(&["what", "N", "jobs", "seconds", "jobs/s", "ms per call"]);
    let single = (sizes.single / 4).max(100);
    let mut figures = Vec::new();
    for acks in [0_u32, 1] {
        let one = client(&url, &format!("bench-ack{acks}-single"), acks).await;
        let start = Instant::now();
        for i in 0..single {
            one.send(job(i)).await.expect("send");
        }
        let sent = Timed {
            jobs: single,
            calls: single,
            took: start.elapsed(),
        };
        let many = client(&url, &format!("bench-ack{acks}-batched"), acks).await;
        let chunks: Vec<Vec<_>> = (0..sizes.batched / 4)
            .map(job)
            .collect::<Vec<_>>()
            .chunks(BATCH)
            .map(<[_]>::to_vec)
            .collect();
        let calls = chunks.len();
        let start = Instant::now();
        for chunk in chunks {
            many.send_many(chunk).await.expect("send_many");
        }
        let batched = Timed {
            jobs: calls * BATCH,
            calls,
            took: start.elapsed(),
        };
        for (what, t) in [
            ("`Client::send`, one caller".to_owned(), &sent),
            (format!("`Client::send_many`, batches of {BATCH}"), &batched),
        ] {
            table.row(vec![
                what,
                acks.to_string(),
                thousands(t.jobs as f64),
                format!("{:.2}", t.took.as_secs_f64()),
                thousands(t.rate()),
                format!("{:.3}", t.ms_per_call()),
            ]);
        }
        figures.push((sent.ms_per_call(), batched.ms_per_call()));
    }
    table.note(
        "A primary with one replica on this machine (AOF on, three Sentinels watching); the \
         clients talk to the primary. With N = 1 each enqueue is followed by `WAIT 1 2000` on \
         the same connection, so an enqueue that returned Ok is on the replica too.",
    );
    if let [(s0, b0), (s1, b1)] = figures[..] {
        table.note(format!(
            "N = 1 / N = 0: {:.2}× the time per `send` (+{:.3} ms), {:.2}× per batch of \
             {BATCH} (+{:.3} ms).",
            s1 / s0,
            s1 - s0,
            b1 / b0,
            b1 - b0
        ));
    }
    table
}
