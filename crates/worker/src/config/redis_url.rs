//! [`RedisUrl`]: a Redis URL whose password never reaches `Debug`, `Display` or serialized
//! output.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A Redis URL (see [`RedisSection::url`](super::RedisSection::url)). It may carry a password,
/// so every printed form replaces the password with `***`; [`RedisUrl::expose`] gives the real
/// URL to the connection code only.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

impl RedisUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL, password included: for opening connections, never for output.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced by `***`: the userinfo's, and a Sentinel URL's
    /// `sentinel_password` parameter.
    #[must_use]
    pub fn redacted(&self) -> String {
        let (url, query) = match self.0.split_once('?') {
            Some((url, query)) => (url, Some(redact_query(query))),
            None => (self.0.as_str(), None),
        };
        let url = url.split(',').map(redact_one).collect::<Vec<_>>().join(",");
        match query {
            Some(q) => format!("{url}?{q}"),
            None => url,
        }
    }
}

fn redact_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, _)) if key.contains("password") => format!("{key}=***"),
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn redact_one(part: &str) -> String {
    let (scheme, rest) = match part.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, part),
    };
    let rest = match rest.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("***@{host}"),
        },
        None => rest.to_owned(),
    };
    match scheme {
        Some(s) => format!("{s}://{rest}"),
        None => rest,
    }
}

impl Default for RedisUrl {
    fn default() -> Self {
        Self::new("redis://127.0.0.1:6379/")
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisUrl({:?})", self.redacted())
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl Serialize for RedisUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted())
    }
}

impl<'de> Deserialize<'de> for RedisUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_print() {
        for (url, shown) in [
            ("redis://:hunter2@db:6379/0", "redis://:***@db:6379/0"),
            ("rediss://app:hunter2@db:6380/", "rediss://app:***@db:6380/"),
            ("redis://hunter2@db/", "redis://***@db/"),
            ("redis://127.0.0.1:6379/", "redis://127.0.0.1:6379/"),
            (
                "redis+cluster://:hunter2@a:1,b:2",
                "redis+cluster://:***@a:1,b:2",
            ),
            (
                "redis+sentinel://:hunter2@a:26379,b:26379/main/1?sentinel_password=hunter2",
                "redis+sentinel://:***@a:26379,b:26379/main/1?sentinel_password=***",
            ),
            (
                "rediss+sentinel://a,b/main?sentinel_username=s&sentinel_password=hunter2",
                "rediss+sentinel://a,b/main?sentinel_username=s&sentinel_password=***",
            ),
        ] {
            let u = RedisUrl::new(url);
            assert_eq!(u.to_string(), shown);
            assert!(!format!("{u:?}").contains("hunter2"));
            assert!(!serde_json::to_string(&u).unwrap().contains("hunter2"));
            assert_eq!(u.expose(), url);
        }
    }
}
