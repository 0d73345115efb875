//! Records the git revision the binary is built from as `MAILROOM_REVISION` (shown by
//! `mailroom_build_info`). `MAILROOM_REVISION` set in the build environment wins; outside a git
//! checkout, or without git, the revision is `unknown`. Never fails the build.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=MAILROOM_REVISION");
    let revision = std::env::var("MAILROOM_REVISION")
        .ok()
        .filter(|r| !r.trim().is_empty())
        .or_else(|| {
            let revision = git(&["rev-parse", "--short", "HEAD"])?;
            // Rebuild when HEAD moves: HEAD itself, the branch it points at, packed refs.
            if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
                let dir = Path::new(&dir);
                let mut watched = vec![dir.join("HEAD"), dir.join("packed-refs")];
                if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
                    watched.push(dir.join(branch));
                }
                for path in watched.iter().filter(|p| p.exists()) {
                    println!("cargo:rerun-if-changed={}", path.display());
                }
            }
            Some(revision)
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=MAILROOM_REVISION={}", revision.trim());
}
