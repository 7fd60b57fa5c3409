//! The `minqing` binary: reads the command line and environment, then hands over to the API.

use clap::Parser;

fn main() -> std::process::ExitCode {
    tune_the_allocator();
    api::cli::run(api::cli::Cli::parse())
}

/// Sets glibc's allocator for a small server: two arenas rather than eight per core (each
/// worker thread otherwise keeps its own heap, and what it freed), blocks of 128 KiB and more
/// given back to the system when freed, and a heap trimmed once 1 MiB at its top is free.
/// Measured at county scale (BENCHMARKS.md, session 5): the server's peak RSS 142 → 84 MiB on
/// PostgreSQL with the same throughput.
///
/// glibc reads its tunables only when a program starts: without `GLIBC_TUNABLES` in the
/// environment, the process replaces itself with itself, the settings added (same pid, same
/// arguments). An operator's own `GLIBC_TUNABLES`, even empty, is left as it is.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn tune_the_allocator() {
    use std::os::unix::process::CommandExt;
    const TUNABLES: &str = "glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=131072:\
                            glibc.malloc.trim_threshold=1048576";
    if std::env::var_os("GLIBC_TUNABLES").is_some() {
        return;
    }
    let Ok(binary) = std::env::current_exe() else {
        return;
    };
    let error = std::process::Command::new(binary)
        .args(std::env::args_os().skip(1))
        .env("GLIBC_TUNABLES", TUNABLES)
        .exec();
    eprintln!("minqing: running with glibc's allocator defaults (could not restart: {error})");
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_the_allocator() {}
