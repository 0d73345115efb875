//! `mailroom`: parses the command line and hands it to [`mailroom_worker::cli::main`].

use clap::Parser;

/// mimalloc: a worker allocates and frees small buffers for every message (rendering, the HTTP
/// request, Redis replies); glibc's allocator spent a fifth of the worker's CPU on them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    mailroom_worker::cli::main(mailroom_worker::cli::Cli::parse())
}
