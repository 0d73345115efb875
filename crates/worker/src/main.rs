//! `mailroom`: parses the command line and hands it to [`mailroom_worker::cli::main`]; `run`
//! first fixes glibc's mmap threshold ([`mailroom_worker::malloc_tuning`]), which may execute
//! the program again.

use clap::Parser;
use mailroom_worker::cli::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Run) {
        mailroom_worker::malloc_tuning::fix_mmap_threshold();
    }
    mailroom_worker::cli::main(cli)
}
