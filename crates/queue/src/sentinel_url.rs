//! The Sentinel form of the queue's URL:
//! `redis+sentinel://[user:password@]host1:26379,host2:26379/MASTER_NAME[/db][?sentinel_username=…&sentinel_password=…]`
//! (`rediss+sentinel://` for TLS to the Sentinels and the data nodes).
//!
//! The URL's user and password are those of the data nodes (the primary and its replicas); the
//! Sentinels' own credentials, when they have any, go in the `sentinel_username` and
//! `sentinel_password` query parameters. Every part may be percent-encoded. This form is
//! parsed here by hand because a list of hosts is not a URL the `url` crate accepts.

use percent_encoding::percent_decode_str;

use crate::QueueError;

/// The port a Sentinel listens on when the URL names none.
const SENTINEL_PORT: u16 = 26379;

/// Where the Sentinels are, which primary they watch, and how to log in to both.
#[derive(Clone, PartialEq, Eq)]
pub struct SentinelTarget {
    /// The Sentinels, as host and port.
    pub sentinels: Vec<(String, u16)>,
    /// The name the Sentinels know the primary by (`sentinel monitor NAME …`).
    pub master: String,
    /// The database on the data nodes. Default 0.
    pub db: i64,
    /// TLS to the Sentinels and to the data nodes (`rediss+sentinel://`).
    pub tls: bool,
    /// The data nodes' user (ACL), if any.
    pub username: Option<String>,
    /// The data nodes' password, if any.
    pub password: Option<String>,
    /// The Sentinels' user (ACL), if any.
    pub sentinel_username: Option<String>,
    /// The Sentinels' password, if any.
    pub sentinel_password: Option<String>,
}

impl SentinelTarget {
    /// Parses what follows `redis+sentinel://` (or `rediss+sentinel://` when `tls`).
    pub(crate) fn parse(rest: &str, tls: bool) -> Result<Self, QueueError> {
        let bad = |message: String| QueueError::config("url", message);
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            Some(u) => {
                let (user, pass) = u.split_once(':').map_or((u, None), |(a, b)| (a, Some(b)));
                (non_empty(decode(user)?), pass.map(decode).transpose()?)
            }
            None => (None, None),
        };
        let sentinels = hosts
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(host_port)
            .collect::<Result<Vec<_>, _>>()?;
        if sentinels.is_empty() {
            return Err(bad("names no sentinels".into()));
        }
        let mut segments = path.split('/').filter(|s| !s.is_empty());
        let master = decode(segments.next().unwrap_or_default())?;
        if master.is_empty() {
            return Err(bad(
                "names no primary: write redis+sentinel://HOST:PORT,…/MASTER_NAME".into(),
            ));
        }
        let db = match segments.next() {
            Some(db) => db
                .parse::<i64>()
                .ok()
                .filter(|d| *d >= 0)
                .ok_or_else(|| bad(format!("database {db:?} is not a number")))?,
            None => 0,
        };
        if let Some(extra) = segments.next() {
            return Err(bad(format!("unexpected path segment {extra:?}")));
        }
        let mut target = Self {
            sentinels,
            master,
            db,
            tls,
            username,
            password,
            sentinel_username: None,
            sentinel_password: None,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sentinel_username" => target.sentinel_username = non_empty(decode(value)?),
                "sentinel_password" => target.sentinel_password = Some(decode(value)?),
                other => {
                    return Err(bad(format!(
                        "unknown parameter {other:?} (known: sentinel_username, sentinel_password)"
                    )));
                }
            }
        }
        Ok(target)
    }
}

fn decode(s: &str) -> Result<String, QueueError> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| QueueError::config("url", "is not UTF-8 once percent-decoded"))
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn host_port(node: &str) -> Result<(String, u16), QueueError> {
    let (host, port) = match node.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || node.starts_with('[') => {
            let port = p.parse().map_err(|_| {
                QueueError::config("url", format!("sentinel {node:?} has a bad port"))
            })?;
            (h, port)
        }
        _ => (node, SENTINEL_PORT),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(QueueError::config(
            "url",
            format!("sentinel {node:?} has no host"),
        ));
    }
    Ok((host.to_owned(), port))
}

impl std::fmt::Debug for SentinelTarget {
    // Passwords never print; users and hosts do.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let masked = |p: &Option<String>| p.as_ref().map(|_| "***");
        f.debug_struct("SentinelTarget")
            .field("sentinels", &self.sentinels)
            .field("master", &self.master)
            .field("db", &self.db)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &masked(&self.password))
            .field("sentinel_username", &self.sentinel_username)
            .field("sentinel_password", &masked(&self.sentinel_password))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hosts_primary_db_and_credentials() {
        let t = SentinelTarget::parse(
            "app:p%40ss@s1:26380,s2,[::1]:5000/mymaster/2?sentinel_password=s3cret",
            true,
        )
        .unwrap();
        assert_eq!(
            t.sentinels,
            [
                ("s1".to_owned(), 26380),
                ("s2".to_owned(), 26379),
                ("::1".to_owned(), 5000)
            ]
        );
        assert_eq!(t.master, "mymaster");
        assert_eq!(t.db, 2);
        assert!(t.tls);
        assert_eq!(t.username.as_deref(), Some("app"));
        assert_eq!(t.password.as_deref(), Some("p@ss"));
        assert_eq!(t.sentinel_username, None);
        assert_eq!(t.sentinel_password.as_deref(), Some("s3cret"));
        let shown = format!("{t:?}");
        assert!(
            !shown.contains("p@ss") && !shown.contains("s3cret"),
            "{shown}"
        );
    }

    #[test]
    fn a_password_alone_and_defaults() {
        let t = SentinelTarget::parse(":pw@h:1/m", false).unwrap();
        assert_eq!((t.username, t.password.as_deref()), (None, Some("pw")));
        assert_eq!((t.db, t.tls), (0, false));
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        for (rest, says) in [
            ("/m", "names no sentinels"),
            ("h:1", "names no primary"),
            ("h:1/", "names no primary"),
            ("h:x/m", "bad port"),
            ("h:1/m/x", "not a number"),
            ("h:1/m/0/y", "unexpected path segment"),
            ("h:1/m?password=x", "unknown parameter"),
        ] {
            let e = SentinelTarget::parse(rest, false).unwrap_err().to_string();
            assert!(e.starts_with("url: ") && e.contains(says), "{rest}: {e}");
        }
    }
}
