//! `cargo run --release -p bench -- [options]`: Minqing's county-scale benchmark (issue 10).
//!
//! 1. Makes a fresh database (a SQLite file, or a PostgreSQL database beside
//!    `--database-url`), migrates it and generates a county into it ([`county`]) — 15 towns,
//!    300 villages, 150,000 households, 1,000 cadres, 1,000,000 visits and 200,000 issues at
//!    `--scale 1` — reproducibly from `--seed`.
//! 2. Starts the release server against it.
//! 3. Drives real HTTP load ([`scenarios`]): sync pull and push, single visit POST, the
//!    deadlines dashboard, the ledger's first page and the xlsx export; and runs the raw
//!    database doing the same work in the same run, alternating, so each figure has a ratio.
//! 4. Appends a dated markdown section to `BENCHMARKS.md`, then drops the database.
//!
//! Speed is measured here, never asserted in tests.

mod bulk;
mod county;
mod load;
mod report;
mod rng;
mod scenarios;
mod server;

use std::{path::PathBuf, sync::Arc};

use chrono::{NaiveDate, Utc};
use clap::Parser;
use migration::MigratorTrait;
use sea_orm::ConnectionTrait;

use crate::{
    report::{Row, RunInfo, count},
    scenarios::Ctx,
    server::{Server, Target},
};

/// Errors of the benchmark: anything, with its message.
pub type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The scenarios, in the order they run (reads before writes).
const SCENARIOS: [&str; 6] = ["dashboard", "ledger", "export", "pull", "push", "visit"];

/// Options.
#[derive(Debug, Parser)]
#[command(about = "Benchmark Minqing on a generated county against the raw database, same run")]
struct Args {
    /// The size of the county: 1.0 = 15 towns, 300 villages, 150,000 households, 1,000,000
    /// visits, 200,000 issues; 0.05 for a quick run.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// The generator's seed: the same seed and day give the same database.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Issues raised as a multiple of the usual rate (18% of visits, 2% by hotline or mailbox):
    /// 5 gives about 1,000,000 issues at scale 1 (issue 7's county).
    #[arg(long, default_value_t = 1)]
    issue_factor: u32,
    /// The day the generated year ends (default: today, UTC).
    #[arg(long)]
    as_of: Option<NaiveDate>,
    /// A PostgreSQL URL to an administrative database (a fresh database is created beside it
    /// and dropped afterwards); default: a fresh SQLite file.
    #[arg(long)]
    database_url: Option<String>,
    /// Concurrent clients for the read and push scenarios.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Concurrent clients for the single visit POST.
    #[arg(long, default_value_t = 32)]
    visit_clients: usize,
    /// Requests per read scenario variant (and as many raw queries). Each side's p99 is then
    /// its 20th slowest: with 400, one scheduling hiccup of the shared machine moved it.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// The most seconds each side (API, raw) of a read scenario variant may take: a slow one
    /// stops early, with fewer requests (the report says how many).
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Batches of 100 visits pushed (and as many inserted raw).
    #[arg(long, default_value_t = 200)]
    batches: usize,
    /// Only these scenarios (comma-separated): pull, dashboard, ledger, export, push, visit.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Generate the county, report the generator's speed, and stop.
    #[arg(long)]
    generate_only: bool,
    /// Keep the database afterwards (its URL is printed) instead of dropping it.
    #[arg(long)]
    keep: bool,
    /// The release server binary.
    #[arg(long, default_value = "target/release/minqing")]
    server: PathBuf,
    /// Where to append the report (a new dated section); `-` to print only.
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let args = Args::parse();
    if let Some(unknown) = args
        .only
        .iter()
        .find(|name| !SCENARIOS.contains(&name.as_str()))
    {
        return Err(format!(
            "unknown scenario {unknown}; known: {}",
            SCENARIOS.join(", ")
        )
        .into());
    }
    if !args.generate_only && !args.server.exists() {
        return Err(format!(
            "{} is missing: run `cargo build --release -p bench -p minqing` first",
            args.server.display()
        )
        .into());
    }
    let target = Target::fresh(args.database_url.as_deref()).await?;
    let result = run(&args, &target).await;
    if args.keep {
        println!("kept the database: {}", target.url);
    } else {
        target.drop().await;
    }
    result
}

/// The command as typed, with the database URL elided.
fn command_line() -> String {
    let mut words = vec!["cargo run --release -p bench --".to_owned()];
    let mut hide_next = false;
    for word in std::env::args().skip(1) {
        if hide_next {
            words.push("<postgres admin URL>".to_owned());
            hide_next = false;
        } else if word == "--database-url" {
            words.push(word);
            hide_next = true;
        } else if word.starts_with("--database-url=") {
            words.push("--database-url=<postgres admin URL>".to_owned());
        } else {
            words.push(word);
        }
    }
    words.join(" ")
}

async fn run(args: &Args, target: &Target) -> BenchResult<()> {
    let options = county::Options {
        scale: args.scale,
        seed: args.seed,
        as_of: args.as_of.unwrap_or_else(|| Utc::now().date_naive()),
        issue_factor: args.issue_factor,
    };
    let loader = target.loader().await?;
    if args.server.exists() {
        server::migrate(&args.server, target)?;
    } else {
        // Without the binary (`--generate-only`), the library's migrations.
        migration::Migrator::up(&loader, None).await?;
    }
    println!(
        "{}: generating the county at scale {} (seed {}, as of {})…",
        target.engine, options.scale, options.seed, options.as_of
    );
    let county = county::generate(&loader, options).await?;
    for (table, rows) in &county.rows {
        println!("  {table:>20}: {:>12} rows", count(*rows));
    }
    println!(
        "  {} rows in {:.1} s ({:.1} s of it waiting for the database): {} rows/s; sync counter left at {}; issues {:?}",
        count(county.total_rows()),
        county.elapsed.as_secs_f64(),
        county.waited.as_secs_f64(),
        count((county.total_rows() as f64 / county.elapsed.as_secs_f64().max(1e-9)) as u64),
        county.last_seq,
        county.issues
    );
    if target.is_postgres() {
        // After a bulk load PostgreSQL has no statistics until autovacuum gets to the tables;
        // a deployment has them. (SQLite is left as the server leaves it: without ANALYZE.)
        loader.execute_unprepared("ANALYZE").await?;
    }
    loader.close().await?;
    if args.generate_only {
        return Ok(());
    }
    let county = Arc::new(county);
    let server = Server::start(&args.server, target).await?;
    println!(
        "server ready in {:.0} ms",
        server.startup.as_secs_f64() * 1000.0
    );
    let raw = api::db::connect(&api::config::DatabaseSettings::new(target.url.clone())).await?;
    let ctx = Ctx {
        client: reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()?,
        address: server.address.clone(),
        raw,
        county: county.clone(),
        clients: args.clients,
        visit_clients: args.visit_clients,
        requests: args.requests,
        batches: args.batches,
        budget: Some(std::time::Duration::from_secs(args.seconds)),
        write_turn: Arc::new(tokio::sync::Mutex::new(())),
    };
    let result = scenarios(args, &ctx, &server).await;
    let startup_ms = server.startup.as_secs_f64() * 1000.0;
    server.stop()?;
    let (mut rows, peak) = result?;
    rows.push(Row {
        scenario: "start-up (spawn to ready, on the generated county)".to_owned(),
        api: report::ms(startup_ms),
        raw: "–".to_owned(),
        ratio: None,
        target: "≤ 1 s".to_owned(),
        met: Some(startup_ms <= 1000.0),
        note: "migrations already applied".to_owned(),
    });
    rows.push(Row {
        scenario: "server peak RSS over the whole run".to_owned(),
        api: peak.map_or("unknown".to_owned(), |mib| format!("{mib:.0} MiB")),
        raw: "–".to_owned(),
        ratio: None,
        target: "≤ 100 MB".to_owned(),
        met: peak.map(|mib| mib * 1024.0 * 1024.0 <= 100e6),
        note: "the highest VmHWM of the server process over all scenarios".to_owned(),
    });
    let section = report::section(
        &RunInfo {
            engine: target.engine,
            command: command_line(),
            scale: args.scale,
            seed: args.seed,
            county: county.as_ref(),
        },
        &rows,
    )?;
    print!("{section}");
    if args.out.as_os_str() != "-" {
        report::append(&args.out, &section)?;
    }
    Ok(())
}

/// Runs the scenarios asked for; each row's note gets the server's resident set at the
/// scenario's start and its peak during it. Returns the rows and the highest peak seen.
async fn scenarios(
    args: &Args,
    ctx: &Ctx,
    server: &Server,
) -> BenchResult<(Vec<Row>, Option<f64>)> {
    let wanted = |name: &str| args.only.is_empty() || args.only.iter().any(|only| only == name);
    let mut rows = Vec::new();
    scenarios::warm_up(ctx).await?;
    let mut highest = server.peak_rss_mib();
    for name in SCENARIOS {
        if !wanted(name) {
            continue;
        }
        println!("running {name}…");
        // The kernel's peak mark restarts from the current resident set, so the peak below
        // is this scenario's (memory the allocator kept from earlier ones included).
        let reset = server.reset_peak_rss();
        let at_start = server.rss_mib();
        let mut produced = match name {
            "pull" => scenarios::pull(ctx).await?,
            "dashboard" => scenarios::dashboard(ctx).await?,
            "ledger" => scenarios::ledger(ctx).await?,
            "export" => scenarios::export(ctx).await?,
            "push" => scenarios::push(ctx).await?,
            _ => scenarios::single_visit(ctx).await?,
        };
        let peak = server.peak_rss_mib();
        highest = match (highest, peak) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let memory = match (reset, at_start, peak) {
            (true, Some(start), Some(peak)) => {
                format!("server RSS {start:.0} MiB at the start, peak {peak:.0} MiB during it")
            }
            (_, _, Some(peak)) => format!("server peak RSS so far {peak:.0} MiB"),
            _ => "server RSS unknown".to_owned(),
        };
        for row in &mut produced {
            if row.scenario == scenarios::EXPORT_SCENARIO && row.api != "skipped" {
                row.met = peak
                    .filter(|_| reset)
                    .map(|mib| mib * 1024.0 * 1024.0 <= 100e6);
            }
            row.note = format!("{}. {memory}", row.note);
            println!("  {} — API {} — raw {}", row.scenario, row.api, row.raw);
        }
        rows.extend(produced);
    }
    Ok((rows, highest))
}
