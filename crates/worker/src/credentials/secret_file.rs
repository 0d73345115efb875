//! Secret files (the service account key, the OAuth client secrets, the token keys, the admin
//! token, the Redis TLS client key) must not be readable by anyone but the worker's user: [`check`] refuses a file its
//! group or everyone may read, with the `chmod` to run. Kubernetes Secret mounts are 0440 and
//! owned by the pod's group by design, so `credentials.allow_group_readable_secrets` lets the
//! group read (never write); everyone else may never read.

use std::path::Path;

/// A secret file whose permissions let others read it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct SecretFileError {
    /// The config key naming the file.
    pub key: String,
    /// What is wrong, and the command that fixes it.
    pub message: String,
}

/// Checks the permissions of the secret file `path`, named by the config key `key`.
///
/// # Errors
/// [`SecretFileError`] when the file cannot be read, or others may read or write it.
pub fn check(path: &Path, key: &str, allow_group: bool) -> Result<(), SecretFileError> {
    let fail = |message: String| SecretFileError {
        key: key.to_owned(),
        message,
    };
    let metadata = std::fs::metadata(path)
        .map_err(|e| fail(format!("cannot read {}: {e}", path.display())))?;
    let mode = mode_of(&metadata);
    let others = mode & 0o007 != 0;
    let group = if allow_group {
        mode & 0o030 != 0
    } else {
        mode & 0o070 != 0
    };
    if !others && !group {
        return Ok(());
    }
    let who = if others { "everyone" } else { "its group" };
    let override_hint = if others || allow_group {
        String::new()
    } else {
        "; a Kubernetes Secret mount (0440, the pod's group) may set \
         credentials.allow_group_readable_secrets = true instead"
            .to_owned()
    };
    Err(fail(format!(
        "{} is open to {who} (mode {mode:04o}); it holds a secret: run `chmod 600 {}`{override_hint}",
        path.display(),
        path.display()
    )))
}

/// Checks `redis.tls_key_file`, when set, like every secret file.
///
/// # Errors
/// As [`check`].
pub fn check_redis_tls_key(config: &crate::config::Config) -> Result<(), SecretFileError> {
    match &config.redis.tls_key_file {
        Some(path) => check(
            path,
            "redis.tls_key_file",
            config.credentials.allow_group_readable_secrets,
        ),
        None => Ok(()),
    }
}

#[cfg(unix)]
fn mode_of(metadata: &std::fs::Metadata) -> u32 {
    std::os::unix::fs::PermissionsExt::mode(&metadata.permissions()) & 0o777
}

#[cfg(not(unix))]
fn mode_of(_: &std::fs::Metadata) -> u32 {
    0o600
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn file(mode: u32) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::set_permissions(f.path(), std::fs::Permissions::from_mode(mode)).unwrap();
        f
    }

    #[test]
    fn only_the_owner_may_read_unless_the_group_is_allowed() {
        for mode in [0o600, 0o400] {
            assert_eq!(check(file(mode).path(), "k", false), Ok(()), "{mode:o}");
        }
        let group = file(0o640);
        let err = check(group.path(), "credentials.token_keys", false).unwrap_err();
        assert_eq!(err.key, "credentials.token_keys");
        assert!(
            err.message.contains("open to its group (mode 0640)"),
            "{err}"
        );
        assert!(
            err.message
                .contains(&format!("run `chmod 600 {}`", group.path().display())),
            "{err}"
        );
        assert!(
            err.message.contains("allow_group_readable_secrets"),
            "{err}"
        );
        assert_eq!(
            check(file(0o440).path(), "k", true),
            Ok(()),
            "a Secret mount"
        );
        assert!(check(file(0o460).path(), "k", true).is_err(), "group write");
        let world = check(file(0o444).path(), "k", true).unwrap_err();
        assert!(world.message.contains("open to everyone"), "{world}");
    }
}
