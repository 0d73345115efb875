//! Stored refresh tokens (`[credentials] kind = "authorized_user"`) against the fake Google,
//! through the real `mailroom auth` commands: `auth login` end to end (`login`), and key
//! rotation, revocation, `auth list` and `auth check` (`tokens`), and what an enrollment
//! refuses or cleans up (`checks`). The web flow and the token
//! source, which run in the test process, are tested in `crates/worker/tests/auth`, whose
//! `stored_tokens.rs` this suite shares.

mod checks;
#[path = "../common/mod.rs"]
mod common;
mod login;
#[path = "../../crates/worker/tests/auth/stored_tokens.rs"]
mod stored_tokens;
mod tokens;

use std::ops::Deref;

use common::Env;
use mailroom_queue::Queue;
use mailroom_testkit::google::ClientKind;
use stored_tokens::Tokens;
pub(crate) use stored_tokens::{http, location, query};

/// A world for `mailroom auth`: Redis, the fake Google, an OAuth client, a key file, and a
/// config naming them all.
struct World {
    env: Env,
    tokens: Tokens,
}

impl Deref for World {
    type Target = Tokens;

    fn deref(&self) -> &Tokens {
        &self.tokens
    }
}

impl World {
    fn new(kind: ClientKind, allowed: &[&str]) -> Self {
        let env = Env::new("");
        let tokens = Tokens::new(kind, env.dir.path(), env.redis.url());
        let google = &tokens.google;
        let allowed: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
        let extra = format!(
            "\n[google]\ntoken_url = \"{}\"\nauth_url = \"{}\"\nuserinfo_url = \"{}\"\n\
             tokeninfo_url = \"{}\"\nrevoke_url = \"{}\"\ntimeout = \"10s\"\n\n\
             [credentials]\nkind = \"authorized_user\"\nclient_secrets = \"{}\"\n\
             token_keys = \"{}\"\n\n[jobs]\nallowed_senders = [{}]\n",
            google.token_url(),
            google.auth_url(),
            google.userinfo_url(),
            google.tokeninfo_url(),
            google.revoke_url(),
            tokens.client_file.display(),
            tokens.keys_file.display(),
            allowed.join(", "),
        );
        let mut toml = std::fs::read_to_string(&env.config).unwrap();
        toml.push_str(&extra);
        std::fs::write(&env.config, toml).unwrap();
        Self { env, tokens }
    }
}

/// Every key and value in the Redis, as text.
async fn raw_redis(queue: &Queue) -> String {
    mailroom_testkit::redis_dump(&mut queue.connection()).await
}
