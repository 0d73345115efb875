//! The world the stored-token tests run in: a Redis of their own and what
//! [`stored_tokens::Tokens`](crate::stored_tokens::Tokens) brings (the fake Google, an OAuth
//! client and a token key file), and helpers to look at what they left.

use std::ops::Deref;

use mailroom_queue::{Queue, QueueConfig};
use mailroom_testkit::RedisServer;
use mailroom_testkit::google::ClientKind;
use mailroom_worker::config::{Config, CredentialKind, CredentialsSection, JobsSection};

use crate::stored_tokens::Tokens;
pub(crate) use crate::stored_tokens::{http, location, query, write_secret};

/// A Redis of its own and a directory for the files the credentials are read from.
pub(crate) struct Env {
    pub(crate) redis: RedisServer,
    pub(crate) dir: tempfile::TempDir,
}

impl Env {
    pub(crate) async fn queue(&self) -> Queue {
        Queue::connect(&self.redis.url(), QueueConfig::default())
            .await
            .expect("connect to redis")
    }
}

/// A world for stored tokens: Redis, and the fake Google, an OAuth client and a key file.
pub(crate) struct World {
    pub(crate) env: Env,
    tokens: Tokens,
}

impl Deref for World {
    type Target = Tokens;

    fn deref(&self) -> &Tokens {
        &self.tokens
    }
}

impl World {
    pub(crate) fn new(kind: ClientKind) -> Self {
        let env = Env {
            redis: RedisServer::start(),
            dir: tempfile::tempdir().expect("temp dir"),
        };
        let tokens = Tokens::new(kind, env.dir.path(), env.redis.url());
        Self { env, tokens }
    }

    pub(crate) fn config(&self) -> Config {
        Config {
            google: self.google_section(),
            credentials: CredentialsSection {
                kind: CredentialKind::AuthorizedUser,
                client_secrets: Some(self.client_file.clone()),
                token_keys: Some(self.keys_file.clone()),
                ..CredentialsSection::default()
            },
            jobs: JobsSection {
                allowed_senders: vec!["*@example.com".to_owned()],
                ..JobsSection::default()
            },
            ..Config::default()
        }
    }
}

/// A plain connection to the test's Redis, for looking at keys directly.
pub(crate) async fn raw_conn(env: &Env) -> redis::aio::MultiplexedConnection {
    redis::Client::open(env.redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Every key and value in the Redis, as text.
pub(crate) async fn raw_redis(env: &Env) -> String {
    mailroom_testkit::redis_dump(&mut raw_conn(env).await).await
}
