//! `mailroom`: parses the command line and hands it to [`mailroom_worker::cli::main`].
//!
//! The program allocates through mimalloc rather than the C library's allocator: a worker's
//! send path makes many short-lived allocations (decoding, rendering, Redis replies), and with
//! glibc's allocator a profile of `mailroom run` spent about 29 % of its instructions in
//! `malloc` and `free` (20 % fewer instructions per job with mimalloc, measured with callgrind
//! on the same backlog). Built as `.cargo/config.toml` sets it, mimalloc commits memory as it is
//! used and unmaps a large message's buffers when they are freed, which glibc's allocator kept
//! once it had raised its mmap threshold.

use clap::Parser;
use mailroom_worker::cli::Cli;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    mailroom_worker::cli::main(Cli::parse())
}
