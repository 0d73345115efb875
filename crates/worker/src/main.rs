//! `mailroom`: parses the command line and hands it to [`mailroom_worker::cli::main`].

use clap::Parser;

fn main() -> std::process::ExitCode {
    mailroom_worker::cli::main(mailroom_worker::cli::Cli::parse())
}
