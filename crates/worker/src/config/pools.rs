//! `[[pools]]`: sender pools. A pool is one visible From address (a verified send-as alias of
//! every member) over several member mailboxes; a job whose `from` is the pool's address is
//! sent by the member with the most quota left.

use serde::{Deserialize, Serialize};

use super::{Config, ConfigError};

/// One `[[pools]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSection {
    /// The visible From address, e.g. `notifications@acme.com`: a verified send-as alias of
    /// every member. Jobs name it as their `from`. Required; must be allowed by
    /// `jobs.allowed_senders`.
    pub address: String,
    /// The member mailboxes that send as the pool, e.g. `["n1@acme.com", "n2@acme.com"]`.
    /// At least one, all distinct, none a pool address; each must be allowed by
    /// `jobs.allowed_senders` (the worker sends as each of them).
    pub members: Vec<String>,
}

impl Config {
    /// `[[pools]]`: addresses that parse and are allowed, members distinct and allowed.
    pub(super) fn check_pools(&self) -> Result<(), ConfigError> {
        let policy = self.policy()?;
        let allowed = |a: &mailroom_jobs::Address| {
            policy
                .allowed_senders
                .as_ref()
                .is_none_or(|list| list.allows(a))
        };
        let parse = |key: &str, raw: &str| {
            mailroom_jobs::Address::parse(raw).map_err(|e| {
                ConfigError::invalid(key, format!("{raw:?} is not an email address: {e}"))
            })
        };
        let mut addresses = std::collections::HashSet::new();
        for (i, pool) in self.pools.iter().enumerate() {
            let key = format!("pools[{i}].address");
            let address = parse(&key, &pool.address)?;
            let normal = mailroom_queue::normalize_sender(address.email());
            if !addresses.insert(normal) {
                return Err(ConfigError::invalid(
                    key,
                    "names the same address as another pool",
                ));
            }
            if !allowed(&address) {
                return Err(ConfigError::invalid(
                    key,
                    format!(
                        "{} is not allowed by jobs.allowed_senders: a job could not name it",
                        address.email()
                    ),
                ));
            }
        }
        for (i, pool) in self.pools.iter().enumerate() {
            let key = format!("pools[{i}].members");
            if pool.members.is_empty() {
                return Err(ConfigError::invalid(key, "must list at least one mailbox"));
            }
            let mut seen = std::collections::HashSet::new();
            for (j, raw) in pool.members.iter().enumerate() {
                let key = format!("pools[{i}].members[{j}]");
                let member = parse(&key, raw)?;
                let normal = mailroom_queue::normalize_sender(member.email());
                if !seen.insert(normal.clone()) {
                    return Err(ConfigError::invalid(
                        key,
                        format!("{normal} is listed twice"),
                    ));
                }
                if addresses.contains(&normal) {
                    return Err(ConfigError::invalid(
                        key,
                        format!("{normal} is a pool's address; a member must be a mailbox"),
                    ));
                }
                if !allowed(&member) {
                    return Err(ConfigError::invalid(
                        key,
                        format!(
                            "{normal} is not allowed by jobs.allowed_senders; the worker sends \
                             as each member, so list it there"
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Config, ConfigError};

    fn parsed(toml: &str) -> Result<Config, ConfigError> {
        let config: Config = toml::from_str(toml).map_err(|e| ConfigError::Load(e.to_string()))?;
        config.validate().map(|()| config)
    }

    const ALLOWED: &str = "[jobs]\nallowed_senders = [\"*@acme.com\"]\n";

    #[test]
    fn a_pool_loads_with_its_members() {
        let config = parsed(&format!(
            "{ALLOWED}[[pools]]\naddress = \"Notifications <notifications@acme.com>\"\nmembers = [\"n1@acme.com\", \"N2@acme.com\"]\n"
        ))
        .unwrap();
        let pools = crate::pools::Pools::from_config(&config.pools);
        let pool = pools.get("NOTIFICATIONS@acme.com").expect("the pool");
        assert_eq!(pool.members, ["n1@acme.com", "n2@acme.com"]);
    }

    #[test]
    fn bad_pools_are_refused_naming_the_key() {
        for (toml, key) in [
            (
                "[[pools]]\naddress = \"notifications@acme.com\"\nmembers = []\n",
                "pools[0].members",
            ),
            (
                "[[pools]]\naddress = \"notifications@acme.com\"\nmembers = [\"n1@acme.com\", \"N1@acme.com\"]\n",
                "pools[0].members[1]",
            ),
            (
                "[[pools]]\naddress = \"notifications@other.org\"\nmembers = [\"n1@acme.com\"]\n",
                "pools[0].address",
            ),
            (
                "[[pools]]\naddress = \"notifications@acme.com\"\nmembers = [\"n1@other.org\"]\n",
                "pools[0].members[0]",
            ),
            (
                "[[pools]]\naddress = \"not an address\"\nmembers = [\"n1@acme.com\"]\n",
                "pools[0].address",
            ),
            (
                "[[pools]]\naddress = \"a@acme.com\"\nmembers = [\"b@acme.com\"]\n\n\
                 [[pools]]\naddress = \"b@acme.com\"\nmembers = [\"c@acme.com\"]\n",
                "pools[0].members[0]",
            ),
        ] {
            let err = parsed(&format!("{ALLOWED}{toml}")).expect_err(toml);
            assert_eq!(err.key(), Some(key), "{err}");
        }
    }
}
