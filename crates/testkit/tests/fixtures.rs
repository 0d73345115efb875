//! Tests of the Redis fixtures against real `redis-server` processes.

use std::collections::HashSet;
use std::time::Duration;

use mailroom_testkit::{RedisCluster, RedisOptions, RedisServer, redis_server_available};
use redis::{AsyncCommands, Commands};

fn set_get_roundtrip(server: &RedisServer, key: &str, value: &str) {
    let mut con = server.client().get_connection().expect("connect");
    let _: () = con.set(key, value).expect("SET");
    let got: String = con.get(key).expect("GET");
    assert_eq!(got, value);
}

#[test]
fn redis_server_is_on_path() {
    assert!(redis_server_available());
}

#[test]
fn server_set_and_get() {
    let server = RedisServer::start();
    assert!(server.is_running());
    assert_eq!(
        server.url(),
        format!("redis://127.0.0.1:{}/", server.port())
    );
    set_get_roundtrip(&server, "greeting", "hello");
}

#[test]
fn two_servers_have_different_ports_and_separate_data() {
    let a = RedisServer::start();
    let b = RedisServer::start();
    assert_ne!(a.port(), b.port());

    let mut con_a = a.client().get_connection().unwrap();
    let mut con_b = b.client().get_connection().unwrap();
    let _: () = con_a.set("only-in-a", "1").unwrap();
    let _: () = con_b.set("only-in-b", "2").unwrap();

    let in_b: Option<String> = con_b.get("only-in-a").unwrap();
    let in_a: Option<String> = con_a.get("only-in-b").unwrap();
    assert_eq!(in_b, None);
    assert_eq!(in_a, None);
    let own: String = con_a.get("only-in-a").unwrap();
    assert_eq!(own, "1");
}

#[test]
fn many_servers_start_in_parallel() {
    let handles: Vec<_> = (0..6)
        .map(|_| std::thread::spawn(RedisServer::start))
        .collect();
    let servers: Vec<RedisServer> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ports: HashSet<u16> = servers.iter().map(RedisServer::port).collect();
    assert_eq!(ports.len(), servers.len());
    for (i, server) in servers.iter().enumerate() {
        set_get_roundtrip(server, "k", &i.to_string());
    }
}

#[test]
fn kill_makes_connections_fail() {
    let mut server = RedisServer::start();
    let client = server.client();
    let mut con = client.get_connection().unwrap();
    let _: () = con.set("k", "v").unwrap();

    server.kill();
    assert!(!server.is_running());

    let existing: redis::RedisResult<Option<String>> = con.get("k");
    assert!(
        existing.is_err(),
        "old connection still works: {existing:?}"
    );
    assert!(
        client
            .get_connection_with_timeout(Duration::from_secs(1))
            .is_err(),
        "new connection succeeded after kill"
    );
    // Killing twice is harmless.
    server.kill();
}

#[test]
fn restart_with_appendonly_keeps_data() {
    let mut server = RedisServer::start_with(RedisOptions {
        appendonly: true,
        ..RedisOptions::default()
    });
    let port = server.port();
    {
        let mut con = server.client().get_connection().unwrap();
        let _: () = con.set("durable", "yes").unwrap();
        let _: () = con.rpush("list", &["a", "b", "c"]).unwrap();
    }

    server.kill();
    assert!(!server.is_running());
    server.restart();
    assert!(server.is_running());
    assert_eq!(server.port(), port);

    let mut con = server.client().get_connection().unwrap();
    let value: Option<String> = con.get("durable").unwrap();
    assert_eq!(value.as_deref(), Some("yes"));
    let list: Vec<String> = con.lrange("list", 0, -1).unwrap();
    assert_eq!(list, ["a", "b", "c"]);
}

#[test]
fn restart_without_appendonly_loses_data() {
    let mut server = RedisServer::start();
    let port = server.port();
    set_get_roundtrip(&server, "ephemeral", "gone soon");

    server.kill();
    server.restart();
    assert_eq!(server.port(), port);

    let mut con = server.client().get_connection().unwrap();
    let value: Option<String> = con.get("ephemeral").unwrap();
    assert_eq!(value, None);
}

#[test]
fn restart_of_a_running_server_kills_it_first() {
    let mut server = RedisServer::start();
    let mut old = server.client().get_connection().unwrap();
    server.restart();
    assert!(server.is_running());
    let stale: redis::RedisResult<String> = redis::cmd("PING").query(&mut old);
    assert!(stale.is_err());
    set_get_roundtrip(&server, "after", "restart");
}

#[test]
fn unix_socket_server_answers_ping() {
    let server = RedisServer::start_with(RedisOptions {
        unix_socket: true,
        ..RedisOptions::default()
    });
    let url = server.url();
    assert!(url.starts_with("redis+unix:///"), "{url}");
    assert!(url.ends_with("/redis.sock"), "{url}");

    let client = redis::Client::open(url.as_str()).unwrap();
    assert!(matches!(
        client.get_connection_info().addr(),
        redis::ConnectionAddr::Unix(_)
    ));
    let mut con = client.get_connection().unwrap();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    set_get_roundtrip(&server, "via", "socket");
}

#[tokio::test]
async fn unix_socket_server_async_and_restart() {
    let mut server = RedisServer::start_with(RedisOptions {
        unix_socket: true,
        appendonly: true,
        ..RedisOptions::default()
    });
    let mut con = server
        .client()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = con.set("k", "v").await.unwrap();
    drop(con);

    server.kill();
    server.restart();

    let mut con = server
        .client()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let value: Option<String> = con.get("k").await.unwrap();
    assert_eq!(value.as_deref(), Some("v"));
}

#[tokio::test]
async fn server_works_from_async_tests() {
    let server = RedisServer::start();
    let mut con = server
        .client()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = con.set("async", 42).await.unwrap();
    let value: i64 = con.get("async").await.unwrap();
    assert_eq!(value, 42);
}

#[tokio::test]
async fn cluster_spreads_keys_over_slots() {
    let cluster = RedisCluster::start();
    let urls = cluster.urls();
    assert_eq!(urls.len(), 3);
    let distinct: HashSet<&String> = urls.iter().collect();
    assert_eq!(distinct.len(), 3);
    for url in &urls {
        assert!(url.starts_with("redis://127.0.0.1:"), "{url}");
    }

    let mut con = cluster.client().get_async_connection().await.unwrap();
    for i in 0..100 {
        let _: () = con.set(format!("key:{i}"), i).await.unwrap();
    }
    for i in 0..100 {
        let value: i64 = con.get(format!("key:{i}")).await.unwrap();
        assert_eq!(value, i);
    }

    // Every node holds some of the keys: the slots really are spread out.
    for url in &urls {
        let mut node = redis::Client::open(url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let size: i64 = redis::cmd("DBSIZE").query_async(&mut node).await.unwrap();
        assert!(size > 0, "node {url} holds no keys");

        let info: String = redis::cmd("CLUSTER")
            .arg("INFO")
            .query_async(&mut node)
            .await
            .unwrap();
        assert!(info.contains("cluster_state:ok"), "{info}");
        assert!(info.contains("cluster_slots_assigned:16384"), "{info}");
    }
}

#[tokio::test]
async fn cluster_hash_tag_transactions_and_scripts() {
    let cluster = RedisCluster::start();
    let mut con = cluster.client().get_async_connection().await.unwrap();

    let (a, b): (i64, i64) = redis::pipe()
        .atomic()
        .incr("{mailroom}:a", 1)
        .incr("{mailroom}:b", 2)
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!((a, b), (1, 2));

    let script = redis::Script::new(
        r"
        redis.call('SET', KEYS[1], ARGV[1])
        return redis.call('INCRBY', KEYS[2], tonumber(ARGV[1]))
        ",
    );
    let total: i64 = script
        .key("{mailroom}:c")
        .key("{mailroom}:b")
        .arg(40)
        .invoke_async(&mut con)
        .await
        .unwrap();
    assert_eq!(total, 42);

    let c: String = con.get("{mailroom}:c").await.unwrap();
    assert_eq!(c, "40");

    // Keys in different slots are refused in one transaction.
    let cross: redis::RedisResult<()> = redis::pipe()
        .atomic()
        .set("left", 1)
        .set("right", 2)
        .query_async(&mut con)
        .await;
    assert!(cross.is_err());
}

#[test]
fn dropping_a_server_kills_it_and_removes_its_dir() {
    let server = RedisServer::start_with(RedisOptions {
        unix_socket: true,
        ..RedisOptions::default()
    });
    let port = server.port();
    let url = server.url();
    let socket = url.strip_prefix("redis+unix://").unwrap().to_owned();
    let dir = std::path::Path::new(&socket).parent().unwrap().to_owned();
    assert!(dir.is_dir());
    drop(server);
    assert!(!dir.exists());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}
