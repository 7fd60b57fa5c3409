//! The `minqing` binary: reads the command line and environment, then hands over to the API.

use clap::Parser;

/// mimalloc gives freed pages back to the system within milliseconds. glibc's malloc keeps
/// them in its per-thread arenas, and after the first large block it freed (an Argon2 sign-in
/// takes 19 MiB, a phone's first pull builds ~20 MB of JSON) serves blocks of that size from
/// the arenas too: the server's resident memory stayed at its highest point for good.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    api::cli::run(api::cli::Cli::parse())
}
