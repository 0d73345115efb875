//! [`write_secret`]: a secret file (key file, OAuth client secrets) as the product accepts it.

use std::path::{Path, PathBuf};

/// Writes `bytes` to the file `name` in `dir` with mode 600 (mailroom refuses secret files
/// that others may read); returns its path.
///
/// # Panics
/// When the file cannot be written.
pub fn write_secret(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write file");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod 600");
    path
}
