//! Stored templates, versioned and immutable per version: one hash per template,
//! `{name}:template:NAME`, with `latest` (the newest version number) and `v:N` (the JSON of
//! version N, a [`Template`]), and the set `{name}:templates` of the names. A put adds a
//! version in one script, so two puts never get the same number; a job records the version
//! it was rendered from, and that version never changes.

use mailroom_jobs::Template;
use serde::Serialize;

use crate::{Queue, QueueError};

/// Adds a version: KEYS[1] the template's hash, KEYS[2] the set of names; ARGV[1] the JSON,
/// ARGV[2] the name. Returns the new version number.
const PUT: &str = r"
local v = redis.call('HINCRBY', KEYS[1], 'latest', 1)
redis.call('HSET', KEYS[1], 'v:' .. v, ARGV[1])
redis.call('SADD', KEYS[2], ARGV[2])
return v
";

/// One version of a stored template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredTemplate {
    /// The template's name.
    pub name: String,
    /// This version's number (1, 2, …).
    pub version: u32,
    /// The newest version of the template.
    pub latest: u32,
    /// The template.
    pub template: Template,
}

impl Queue {
    fn template_key(&self, name: &str) -> String {
        self.key(&format!("template:{name}"))
    }

    /// Stores `template` as the next version of `name`; returns its version number.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn put_template(&self, name: &str, template: &Template) -> Result<u32, QueueError> {
        let json = serde_json::to_string(template)
            .map_err(|e| QueueError::Protocol(format!("template {name}: {e}")))?;
        let v: i64 = redis::Script::new(PUT)
            .key(self.template_key(name))
            .key(self.key("templates"))
            .arg(json)
            .arg(name)
            .invoke_async(&mut self.conn())
            .await?;
        Ok(u32::try_from(v).unwrap_or(0))
    }

    /// Version `version` of template `name` (the newest when `None`); `None` when there is
    /// no such template or version.
    ///
    /// # Errors
    /// Redis unreachable, or a stored version that does not decode.
    pub async fn template(
        &self,
        name: &str,
        version: Option<u32>,
    ) -> Result<Option<StoredTemplate>, QueueError> {
        let key = self.template_key(name);
        let latest: Option<u32> = redis::cmd("HGET")
            .arg(&key)
            .arg("latest")
            .query_async(&mut self.conn())
            .await?;
        let Some(latest) = latest else {
            return Ok(None);
        };
        let version = version.unwrap_or(latest);
        let json: Option<String> = redis::cmd("HGET")
            .arg(&key)
            .arg(format!("v:{version}"))
            .query_async(&mut self.conn())
            .await?;
        let Some(json) = json else { return Ok(None) };
        let template = serde_json::from_str(&json)
            .map_err(|e| QueueError::Protocol(format!("template {name} v{version}: {e}")))?;
        Ok(Some(StoredTemplate {
            name: name.to_owned(),
            version,
            latest,
            template,
        }))
    }

    /// The stored templates' names with their newest version, sorted by name.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn templates(&self) -> Result<Vec<(String, u32)>, QueueError> {
        let mut names: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.key("templates"))
            .query_async(&mut self.conn())
            .await?;
        names.sort();
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for name in &names {
            pipe.cmd("HGET").arg(self.template_key(name)).arg("latest");
        }
        let latest: Vec<Option<u32>> = pipe.query_async(&mut self.conn()).await?;
        Ok(names
            .into_iter()
            .zip(latest)
            .filter_map(|(n, v)| Some((n, v?)))
            .collect())
    }

    /// Deletes template `name` with every version; returns whether it existed. Jobs already
    /// rendered from it are not affected; new jobs naming it are refused.
    ///
    /// # Errors
    /// Redis unreachable.
    pub async fn delete_template(&self, name: &str) -> Result<bool, QueueError> {
        let (deleted, _): (i64, i64) = redis::pipe()
            .atomic()
            .cmd("DEL")
            .arg(self.template_key(name))
            .cmd("SREM")
            .arg(self.key("templates"))
            .arg(name)
            .query_async(&mut self.conn())
            .await?;
        Ok(deleted == 1)
    }
}
