//! The queue over TLS: a `redis-server` (and a Sentinel setup) serving TLS only, with
//! certificates of a throwaway CA; the wrong CA and a missing client certificate are refused.

mod common;

use std::time::Duration;

use common::{Behaviour, Redis, TestWorker, config, eventually, job};
use mailroom_queue::{JobState, Queue, QueueConfig, RedisTls};
use mailroom_testkit::{RedisOptions, RedisSentinel, RedisServer, TestCerts};

fn tls_server(certs: &TestCerts, auth_clients: bool) -> RedisServer {
    RedisServer::start_with(RedisOptions {
        tls: Some(certs.server(auth_clients)),
        ..RedisOptions::default()
    })
}

fn with_tls(tls: RedisTls) -> QueueConfig {
    QueueConfig { tls, ..config() }
}

fn trusting(certs: &TestCerts) -> RedisTls {
    RedisTls {
        ca_file: Some(certs.ca_file()),
        ..RedisTls::default()
    }
}

fn mutual(certs: &TestCerts) -> RedisTls {
    RedisTls {
        ca_file: Some(certs.ca_file()),
        cert_file: Some(certs.cert_file()),
        key_file: Some(certs.key_file()),
    }
}

/// Enqueues one job and waits until a worker on the same queue has sent it.
async fn delivered(q: &Queue) {
    let w = TestWorker::start(q, "w", Behaviour::Send).await;
    let j = job("a@example.com");
    q.enqueue(&j).await.unwrap();
    w.seen.wait_for(1, Duration::from_secs(10)).await;
    eventually(
        Duration::from_secs(10),
        "the job recorded as sent",
        async || {
            let state = q.status(j.id()).await.ok().flatten().map(|s| s.state);
            (state == Some(JobState::Sent)).then_some(())
        },
    )
    .await;
    assert_eq!(w.stop().await.ids(), vec![j.id()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_enqueued_and_delivered_over_tls() {
    let certs = TestCerts::generate();
    let server = tls_server(&certs, false);
    let url = server.url();
    assert!(url.starts_with("rediss://"), "{url}");
    let q = Queue::connect(&url, with_tls(trusting(&certs)))
        .await
        .expect("connect over TLS");
    delivered(&q).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_signed_by_another_ca_is_refused() {
    let certs = TestCerts::generate();
    let server = tls_server(&certs, false);
    let other = TestCerts::generate();
    let err = Queue::connect(&server.url(), with_tls(trusting(&other)))
        .await
        .expect_err("a certificate from an unknown CA");
    let text = err.to_string();
    assert!(
        text.starts_with("tls.ca_file: the server's certificate is not signed by the CAs of")
            && text.contains("UnknownIssuer"),
        "{text}"
    );
    // Without a CA file the system's trust store is used, which does not know the test CA.
    let err = Queue::connect(&server.url(), config())
        .await
        .expect_err("a certificate from a CA the system does not trust");
    let text = err.to_string();
    assert!(
        text.contains("the system's trust store") && text.contains("UnknownIssuer"),
        "{text}"
    );
    // Plain TCP to a TLS port gets no answer it understands.
    let plain = server.url().replacen("rediss://", "redis://", 1);
    assert!(Queue::connect(&plain, config()).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_needs_the_client_certificate() {
    let certs = TestCerts::generate();
    let server = tls_server(&certs, true);
    let err = Queue::connect(&server.url(), with_tls(trusting(&certs)))
        .await
        .expect_err("no client certificate");
    assert!(!err.to_string().is_empty());
    let q = Queue::connect(&server.url(), with_tls(mutual(&certs)))
        .await
        .expect("connect with the client certificate");
    delivered(&q).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_files_on_a_plain_url_are_refused_naming_the_setting() {
    let certs = TestCerts::generate();
    let err = Queue::connect("redis://127.0.0.1:1/", with_tls(trusting(&certs)))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("url: TLS certificate files are set"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_primary_is_found_through_sentinels_over_mutual_tls() {
    let redis = Redis::Sentinel(RedisSentinel::start_tls(true));
    let url = redis.url();
    assert!(url.starts_with("rediss+sentinel://"), "{url}");
    let Redis::Sentinel(sentinel) = &redis else {
        unreachable!()
    };
    let certs = sentinel.certs().expect("a TLS setup");
    let err = Queue::connect(&url, with_tls(trusting(certs)))
        .await
        .expect_err("the sentinels ask for a client certificate");
    assert!(!err.to_string().is_empty());
    let q = Queue::connect(&url, with_tls(mutual(certs)))
        .await
        .expect("connect through the sentinels over TLS");
    delivered(&q).await;
    assert_eq!(q.connection().failovers(), 0);
}
