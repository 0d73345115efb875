use std::collections::HashMap;

use super::*;
use mailroom_queue::QueueConfig;
use mailroom_testkit::RedisServer;
use redis::AsyncCommands as _;

fn keys(lines: &[&str]) -> Arc<TokenKeys> {
    Arc::new(TokenKeys::parse(&lines.join("\n"), "test", false).unwrap())
}

async fn queue(redis: &RedisServer) -> Queue {
    Queue::connect(&redis.url(), QueueConfig::default())
        .await
        .unwrap()
}

/// Every key in Redis with its value, to look for secrets in clear.
async fn raw_dump(redis: &RedisServer) -> String {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let names: Vec<String> = c.keys("*").await.unwrap();
    let mut dump = names.join("\n");
    for name in names {
        let kind: String = c.key_type(&name).await.unwrap();
        let read = match kind.as_str() {
            "hash" => "HGETALL",
            "set" => "SMEMBERS",
            "string" => "GET",
            _ => continue,
        };
        let value: redis::Value = redis::cmd(read)
            .arg(&name)
            .query_async(&mut c)
            .await
            .unwrap();
        dump.push_str(&format!("\n{name} {value:?}"));
    }
    dump
}

const TOKEN: &str = "1//0g-refresh-token-in-clear";

#[tokio::test]
async fn put_get_list_remove() {
    let redis = RedisServer::start();
    let k1 = TokenKeys::generate_line("k1");
    let store = TokenStore::new(queue(&redis).await, keys(&[&k1]));
    assert!(store.get("a@example.com").await.unwrap().is_none());
    let scopes = vec![
        "openid".to_owned(),
        crate::credentials::GMAIL_SEND_SCOPE.to_owned(),
    ];
    store
        .put(
            "A@Example.com",
            &SecretString::from(TOKEN.to_owned()),
            "cid",
            &scopes,
        )
        .await
        .unwrap();
    let got = store.get("a@example.com").await.unwrap().unwrap();
    assert_eq!(got.sender, "a@example.com");
    assert_eq!(got.refresh_token.expose_secret(), TOKEN);
    assert_eq!(got.info.client_id, "cid");
    assert_eq!(got.info.scopes, scopes);
    assert_eq!(got.info.key_id, "k1");
    assert!(got.info.created_at.is_some());
    assert!(got.info.refreshed_at.is_none());
    assert!(!format!("{got:?}").contains(TOKEN));

    let dump = raw_dump(&redis).await;
    assert!(dump.contains("{mailroom}:token:a@example.com"), "{dump}");
    assert!(dump.contains("{mailroom}:tokens"), "{dump}");
    assert!(!dump.contains(TOKEN), "{dump}");
    assert!(!dump.contains("refresh-token"), "{dump}");

    store
        .mark_refreshed("a@example.com", false, Some("grant refused"))
        .await
        .unwrap();
    let info = &store.list().await.unwrap()[0];
    assert_eq!(info.last_error.as_deref(), Some("grant refused"));
    assert!(info.refreshed_at.is_none());
    store
        .mark_refreshed("a@example.com", true, None)
        .await
        .unwrap();
    let list = store.list().await.unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0].refreshed_at.is_some());
    assert!(list[0].last_error.is_none());

    assert!(store.remove("a@example.com").await.unwrap());
    assert!(!store.remove("a@example.com").await.unwrap());
    assert!(store.list().await.unwrap().is_empty());
    // A late refresh outcome does not bring back a removed sender.
    store
        .mark_refreshed("a@example.com", true, None)
        .await
        .unwrap();
    assert!(!raw_dump(&redis).await.contains("token"));
}

#[tokio::test]
async fn ciphertexts_are_bound_to_their_sender() {
    let redis = RedisServer::start();
    let store = TokenStore::new(
        queue(&redis).await,
        keys(&[&TokenKeys::generate_line("k1")]),
    );
    let secret = SecretString::from(TOKEN.to_owned());
    store
        .put("a@example.com", &secret, "cid", &[])
        .await
        .unwrap();
    store
        .put("b@example.com", &secret, "cid", &[])
        .await
        .unwrap();
    // Copy a's ciphertext over b's.
    let mut c = store.queue().connection();
    let a: HashMap<String, String> = c
        .hgetall(store.queue().key("token:a@example.com"))
        .await
        .unwrap();
    let () = c
        .hset_multiple(
            store.queue().key("token:b@example.com"),
            &[("nonce", &a["nonce"]), ("ct", &a["ct"])],
        )
        .await
        .unwrap();
    let err = store.get("b@example.com").await.unwrap_err();
    assert!(matches!(err, StoreError::Key { .. }), "{err}");
    assert!(!err.to_string().contains(TOKEN));
}

#[tokio::test]
async fn rotate_re_encrypts_under_the_current_key() {
    let redis = RedisServer::start();
    let q = queue(&redis).await;
    let (k1, k2) = (
        TokenKeys::generate_line("k1"),
        TokenKeys::generate_line("k2"),
    );
    let old = TokenStore::new(q.clone(), keys(&[&k1]));
    for sender in ["a@example.com", "b@example.com"] {
        old.put(
            sender,
            &SecretString::from(format!("tok-{sender}")),
            "cid",
            &[],
        )
        .await
        .unwrap();
    }
    let both = TokenStore::new(q.clone(), keys(&[&k2, &k1]));
    both.put(
        "c@example.com",
        &SecretString::from("tok-c".to_owned()),
        "cid",
        &[],
    )
    .await
    .unwrap();
    let rotation = both.rotate().await.unwrap();
    assert_eq!(
        rotation,
        Rotation {
            rotated: 2,
            already_current: 1
        }
    );
    assert_eq!(
        both.rotate().await.unwrap(),
        Rotation {
            rotated: 0,
            already_current: 3
        }
    );
    let new_only = TokenStore::new(q.clone(), keys(&[&k2]));
    let a = new_only.get("a@example.com").await.unwrap().unwrap();
    assert_eq!(a.refresh_token.expose_secret(), "tok-a@example.com");
    assert_eq!(a.info.key_id, "k2");
    // The old key alone no longer reads anything.
    let err = old.get("a@example.com").await.unwrap_err();
    assert!(
        matches!(&err, StoreError::Key { source: KeyError::UnknownKey(id), .. } if id == "k2"),
        "{err}"
    );
}

#[tokio::test]
async fn a_store_without_keys_lists_but_does_not_read() {
    let redis = RedisServer::start();
    let q = queue(&redis).await;
    let store = TokenStore::new(q.clone(), keys(&[&TokenKeys::generate_line("k1")]));
    store
        .put(
            "a@example.com",
            &SecretString::from(TOKEN.to_owned()),
            "cid",
            &[],
        )
        .await
        .unwrap();
    let bare = TokenStore::without_keys(q);
    assert_eq!(bare.list().await.unwrap().len(), 1);
    assert!(matches!(
        bare.get("a@example.com").await.unwrap_err(),
        StoreError::NoKeys
    ));
    assert!(bare.remove("a@example.com").await.unwrap());
}
