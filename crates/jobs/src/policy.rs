//! [`Policy`]: the limits a job is validated against.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::{Address, AllowlistError};

/// Default for [`Policy::max_recipients`].
pub const DEFAULT_MAX_RECIPIENTS: usize = 100;

/// Default for [`Policy::max_message_bytes`]: 35 MiB, the Gmail API's limit
/// on a sent message.
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 36_700_160;

/// Limits applied by [`EmailJob::validate`](crate::EmailJob::validate).
///
/// Deserializable (e.g. from worker configuration); missing fields take
/// their defaults, and `allowed_senders` is a list of patterns.
///
/// ```
/// use mailroom_jobs::{Policy, SenderAllowlist};
///
/// let policy = Policy {
///     allowed_senders: Some(SenderAllowlist::new(["*@example.com"]).unwrap()),
///     ..Policy::default()
/// };
/// assert_eq!(policy.max_recipients, 100);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Policy {
    /// Most recipients a job may have across `to`, `cc` and `bcc`.
    /// Default: 100 ([`DEFAULT_MAX_RECIPIENTS`]).
    pub max_recipients: usize,
    /// Largest rendered message, in bytes.
    /// Default: 36 700 160 = 35 MiB ([`DEFAULT_MAX_MESSAGE_BYTES`]).
    pub max_message_bytes: usize,
    /// Senders allowed in `from`. Default: `None`, no allowlist: any sender
    /// (what a producer checks before the worker's own allowlist; a worker
    /// that sends as the job's sender always has one, see the README).
    pub allowed_senders: Option<SenderAllowlist>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            max_recipients: DEFAULT_MAX_RECIPIENTS,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            allowed_senders: None,
        }
    }
}

/// The senders a job may use as `from`.
///
/// Each pattern is an exact addr-spec (`noreply@example.com`), a whole
/// domain (`*@example.com`; subdomains are not included), or `*`, any sender
/// at all, which must be asked for explicitly. Matching ignores case and the
/// display name. An empty list allows nobody.
///
/// ```
/// use mailroom_jobs::{Address, SenderAllowlist};
///
/// let list = SenderAllowlist::new(["alerts@example.org", "*@Example.COM"]).unwrap();
/// assert!(list.allows(&Address::parse("Team <team@example.com>").unwrap()));
/// assert!(list.allows(&Address::parse("ALERTS@example.org").unwrap()));
/// assert!(!list.allows(&Address::parse("other@example.org").unwrap()));
/// assert!(!list.allows(&Address::parse("x@mail.example.com").unwrap()));
/// assert!(SenderAllowlist::new(["*"]).unwrap().allows_any());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct SenderAllowlist {
    patterns: Vec<String>,
    addresses: BTreeSet<String>,
    domains: BTreeSet<String>,
    any: bool,
}

impl SenderAllowlist {
    /// Builds an allowlist from patterns (see the type docs).
    ///
    /// # Errors
    ///
    /// [`AllowlistError`] naming the first pattern that is neither a valid
    /// addr-spec nor `*@` followed by a valid domain.
    pub fn new(
        patterns: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> Result<Self, AllowlistError> {
        let mut list = Self {
            patterns: Vec::new(),
            addresses: BTreeSet::new(),
            domains: BTreeSet::new(),
            any: false,
        };
        for pattern in patterns {
            let pattern = pattern.as_ref().trim();
            if pattern == "*" {
                list.any = true;
            } else if let Some(domain) = pattern.strip_prefix("*@") {
                lettre::Address::new("x", domain)
                    .map_err(|e| AllowlistError::new(pattern, format!("bad domain: {e}")))?;
                list.domains.insert(domain.to_lowercase());
            } else if pattern.contains('*') {
                return Err(AllowlistError::new(
                    pattern,
                    "the only wildcard forms are *@domain and * alone (any sender)",
                ));
            } else {
                let address: lettre::Address = pattern.parse().map_err(|e| {
                    AllowlistError::new(pattern, format!("not an address or *@domain: {e}"))
                })?;
                list.addresses.insert(address.to_string().to_lowercase());
            }
            list.patterns.push(pattern.to_owned());
        }
        Ok(list)
    }

    /// Whether `sender` matches one of the patterns.
    #[must_use]
    pub fn allows(&self, sender: &Address) -> bool {
        self.any
            || self.addresses.contains(&sender.email().to_lowercase())
            || self.domains.contains(&sender.domain().to_lowercase())
    }

    /// Whether the list holds `*`: any sender at all.
    #[must_use]
    pub fn allows_any(&self) -> bool {
        self.any
    }

    /// Whether the list allows nobody (it has no pattern).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The patterns as given (trimmed).
    #[must_use]
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// The exact addresses it lists (not the `*@domain` patterns), in lower case and sorted.
    ///
    /// ```
    /// use mailroom_jobs::SenderAllowlist;
    ///
    /// let list = SenderAllowlist::new(["Alerts@Example.org", "*@example.com"]).unwrap();
    /// assert_eq!(list.addresses().collect::<Vec<_>>(), ["alerts@example.org"]);
    /// ```
    pub fn addresses(&self) -> impl Iterator<Item = &str> {
        self.addresses.iter().map(String::as_str)
    }
}

impl TryFrom<Vec<String>> for SenderAllowlist {
    type Error = AllowlistError;

    fn try_from(patterns: Vec<String>) -> Result<Self, Self::Error> {
        Self::new(patterns)
    }
}

impl From<SenderAllowlist> for Vec<String> {
    fn from(list: SenderAllowlist) -> Self {
        list.patterns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_bad_patterns() {
        for bad in [
            "",
            "**",
            "*@",
            "*.example.com",
            "foo@*",
            "@example.com",
            "Bob <bob@example.com>",
        ] {
            assert!(SenderAllowlist::new([bad]).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn empty_list_allows_nobody() {
        let list = SenderAllowlist::new(Vec::<String>::new()).unwrap();
        assert!(!list.allows(&Address::parse("a@example.com").unwrap()));
    }

    #[test]
    fn a_lone_star_allows_any_sender() {
        let list = SenderAllowlist::new(["*"]).unwrap();
        assert!(list.allows_any());
        assert!(list.allows(&Address::parse("anyone@anywhere.example").unwrap()));
        assert_eq!(list.patterns(), ["*"]);
        let narrow = SenderAllowlist::new(["*@example.com"]).unwrap();
        assert!(!narrow.allows_any());
    }

    #[test]
    fn policy_deserializes_with_defaults() {
        let policy: Policy =
            serde_json::from_str(r#"{"allowed_senders":["*@example.com"]}"#).unwrap();
        assert_eq!(policy.max_recipients, DEFAULT_MAX_RECIPIENTS);
        assert_eq!(policy.max_message_bytes, DEFAULT_MAX_MESSAGE_BYTES);
        assert_eq!(
            policy.allowed_senders.unwrap().patterns(),
            ["*@example.com"]
        );
        assert!(serde_json::from_str::<Policy>(r#"{"allowed_senders":["*.com"]}"#).is_err());
    }
}
