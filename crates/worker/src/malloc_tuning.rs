//! A fixed mmap threshold for glibc's allocator, so that a worker hands the memory of a large
//! message back to the system once the send ends.
//!
//! glibc serves an allocation of at least its mmap threshold (128 KiB at first) with a mapping
//! of its own, unmapped when freed. Its threshold is dynamic, though: freeing such a block
//! raises the threshold to the block's size, so after one 25 MB message is sent the next ones
//! come from the heap, which keeps them when they are freed (about 140 MB was seen held after a
//! few large sends). Setting the threshold fixes it and turns the dynamic rule off; glibc reads
//! `MALLOC_MMAP_THRESHOLD_` once, at startup, and `unsafe_code` (`mallopt`, `set_var`) is
//! forbidden here, so `mailroom run` executes itself again with the variable set.
//!
//! The new program keeps the process: its pid (for systemd and anyone who watches it), its
//! resource limits (`prlimit`), its open files (stdin, stdout, stderr) and its signal mask.
//! Nothing else has run yet, so no handler or thread is lost.

/// The variable glibc reads its mmap threshold from, in bytes.
pub const MMAP_THRESHOLD_VAR: &str = "MALLOC_MMAP_THRESHOLD_";

/// The threshold `mailroom run` sets: allocations of 1 MiB or more get mappings of their own.
pub const MMAP_THRESHOLD: &str = "1048576";

/// On glibc Linux, when [`MMAP_THRESHOLD_VAR`] is not set, replaces the process with the same
/// executable and arguments with it set to [`MMAP_THRESHOLD`]; an operator's own value is kept.
/// Returns when the variable is already set, on other platforms, and when the executable cannot
/// be executed again (the reason goes to stderr and the worker runs with glibc's defaults).
pub fn fix_mmap_threshold() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os(MMAP_THRESHOLD_VAR).is_none() {
        let error = reexec();
        eprintln!(
            "warning: cannot execute mailroom again with {MMAP_THRESHOLD_VAR}={MMAP_THRESHOLD} \
             ({error}); memory freed after large sends may stay with the process"
        );
    }
}

/// Executes the current executable with the same arguments and the variable set; returns only
/// on failure.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn reexec() -> std::io::Error {
    use std::os::unix::process::CommandExt as _;

    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => return e,
    };
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        command.arg0(arg0);
    }
    command
        .args(args)
        .env(MMAP_THRESHOLD_VAR, MMAP_THRESHOLD)
        .exec()
}
