//! The `minqing` binary: reads the command line and environment, then hands over to the API.

use clap::Parser;

fn main() -> std::process::ExitCode {
    api::cli::run(api::cli::Cli::parse())
}
