//! `cargo run --release -p bench -- [options]`: Minqing's benchmark. It makes a fresh
//! database, seeds the demo county and grows one cadre's scope to county-like size, starts the
//! release server, drives real HTTP load, runs the raw database doing the same work in the same
//! run, and writes the figures to `BENCHMARKS.md`. Speed is measured here, never asserted in
//! tests.

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::Utc;
use clap::Parser;
use hdrhistogram::Histogram;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, EntityTrait};
use serde_json::{Value, json};
use uuid::Uuid;

/// Options.
#[derive(Debug, Parser)]
#[command(about = "Benchmark Minqing against the raw database, same run, same machine")]
struct Args {
    /// A PostgreSQL URL to an administrative database (a fresh database is created beside it
    /// and dropped afterwards); default: a fresh SQLite file.
    #[arg(long)]
    database_url: Option<String>,
    /// Concurrent clients for the push and list benchmarks.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Batches of 100 visits pushed in total.
    #[arg(long, default_value_t = 200)]
    batches: usize,
    /// Households in the benchmarked cadre's scope (a cadre of five villages has ~2,500).
    #[arg(long, default_value_t = 2500)]
    scope_households: usize,
    /// The release server binary.
    #[arg(long, default_value = "target/release/minqing")]
    server: PathBuf,
    /// Where to write the report (appended as a new section).
    #[arg(long, default_value = "BENCHMARKS.md")]
    out: PathBuf,
}

type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const SECRET: &str = "bench-secret-that-is-long-enough-0123456789";

fn demo_id(code: &str) -> Uuid {
    api::seed::demo_id(code)
}

struct Target {
    url: String,
    engine: &'static str,
    cleanup: Option<(String, String)>,
    file: Option<PathBuf>,
}

async fn fresh_database(args: &Args) -> BenchResult<Target> {
    let unique = Uuid::new_v4().simple().to_string();
    match &args.database_url {
        Some(admin_url) if admin_url.starts_with("postgres") => {
            let name = format!("minqing_bench_{unique}");
            let admin = Database::connect(admin_url.as_str()).await?;
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await?;
            admin.close().await?;
            let base = admin_url
                .rsplit_once('/')
                .map_or(admin_url.as_str(), |(base, _)| base)
                .to_owned();
            Ok(Target {
                url: format!("{base}/{name}"),
                engine: "PostgreSQL",
                cleanup: Some((admin_url.clone(), name)),
                file: None,
            })
        }
        _ => {
            let path = std::env::temp_dir().join(format!("minqing-bench-{unique}.db"));
            Ok(Target {
                url: format!("sqlite://{}?mode=rwc", path.display()),
                engine: "SQLite",
                cleanup: None,
                file: Some(path),
            })
        }
    }
}

async fn drop_database(target: &Target) {
    if let Some((admin_url, name)) = &target.cleanup
        && let Ok(admin) = Database::connect(admin_url.as_str()).await
    {
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await;
    }
    if let Some(path) = &target.file {
        for suffix in ["", "-wal", "-shm", ".jwt-secret"] {
            let mut file = path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

fn server_command(args: &Args, target: &Target, subcommand: &str) -> Command {
    let mut command = Command::new(&args.server);
    command
        .arg(subcommand)
        .env("DATABASE_URL", &target.url)
        .env("MINQING_JWT_SECRET", SECRET)
        .env("MINQING_LOG", "warn,api::cli=info")
        .env("MINQING_LOG_FORMAT", "json");
    command
}

/// Starts the server; returns it, its address and the time to its first `readyz` 200.
async fn start_server(args: &Args, target: &Target) -> BenchResult<(Child, String, Duration)> {
    let started = Instant::now();
    let mut child = server_command(args, target, "serve")
        .env("MINQING_ADDR", "127.0.0.1:0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let logged: Value = serde_json::from_str(&line).unwrap_or_default();
            if let Some(port) = logged["port"].as_u64() {
                let _ = sender.send(port);
            } else if matches!(logged["level"].as_str(), Some("WARN" | "ERROR")) {
                // The server's own complaints belong in the benchmark's output.
                eprintln!("server: {line}");
            }
        }
    });
    let port = receiver.recv_timeout(Duration::from_secs(30))?;
    let address = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    loop {
        if client
            .get(format!("{address}/readyz"))
            .send()
            .await
            .is_ok_and(|response| response.status().is_success())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok((child, address, started.elapsed()))
}

fn peak_rss_mib(child: &Child) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Grows cadre1's two villages to `households` households with a year of visits (two per
/// household) and issues (one per four households), straight into the database.
async fn grow_scope(db: &DatabaseConnection, households: usize) -> BenchResult<(usize, usize)> {
    use entity::{household, issue, visit};
    let villages = [demo_id("371526100201"), demo_id("371526100202")];
    let (county, town, cadre) = (
        demo_id("371526"),
        demo_id("371526100"),
        demo_id("user:cadre1"),
    );
    let now = Utc::now();
    let txn = api::db::begin_write(db).await?;
    let mut visit_count = 0;
    let mut issue_count = 0;
    for chunk_start in (0..households).step_by(500) {
        let mut household_rows = Vec::new();
        let mut visit_rows = Vec::new();
        let mut issue_rows = Vec::new();
        for index in chunk_start..(chunk_start + 500).min(households) {
            let village = villages[index % 2];
            let household_id = Uuid::now_v7();
            household_rows.push(household::ActiveModel::from(household::Model {
                id: household_id,
                county_id: county,
                town_id: town,
                village_id: village,
                head_name: format!("户主{index}"),
                phone: Some(format!("139{index:08}")),
                address: Some(format!("{}组", index % 9 + 1)),
                members_count: Some(3),
                id_card_number: None,
                latitude: None,
                longitude: None,
                tags: if index % 5 == 0 { 16 } else { 0 },
                notes: None,
                last_visited_at: None,
                version: 1,
                created_by: None,
                created_at: now,
                updated_at: now,
                change_seq: 0,
                created_seq: 0,
                origin_device: None,
            }));
            for visit_number in 0..2 {
                let visit_id = Uuid::now_v7();
                let visited_at =
                    now - chrono::Duration::days(((index * 7 + visit_number * 150) % 360) as i64);
                visit_rows.push(visit::ActiveModel::from(visit::Model {
                    id: visit_id,
                    county_id: county,
                    town_id: town,
                    village_id: village,
                    household_id: Some(household_id),
                    enterprise_id: None,
                    cadre_id: cadre,
                    channel: visit::Channel::DoorToDoor,
                    visited_at,
                    received_at: visited_at,
                    answers: Some(json!({"difficulties": "无"})),
                    cadre_rating: Some(4),
                    diary_note: None,
                    service_card_given: true,
                    latitude: None,
                    longitude: None,
                    device_id: None,
                    duty_id: None,
                    change_seq: 0,
                    created_seq: 0,
                    origin_device: None,
                }));
                visit_count += 1;
                if visit_number == 0 && index % 4 == 0 {
                    issue_rows.push(issue::ActiveModel::from(issue::Model {
                        id: Uuid::now_v7(),
                        county_id: county,
                        town_id: town,
                        village_id: village,
                        visit_id: Some(visit_id),
                        channel: visit::Channel::DoorToDoor,
                        applicant_household_id: Some(household_id),
                        applicant_name: format!("户主{index}"),
                        applicant_phone: None,
                        category: issue::Category::PracticalDifficulty,
                        matter: "道路维修".to_owned(),
                        answered_on_spot: false,
                        spot_answer: None,
                        level: issue::Level::Village,
                        lead_responsible_id: cadre,
                        handler_org_unit_id: village,
                        handler_department_id: None,
                        named_cadre_id: None,
                        deadline: Some(visited_at.date_naive() + chrono::Days::new(15)),
                        status: if index % 8 == 0 {
                            issue::Status::Open
                        } else {
                            issue::Status::Closed
                        },
                        is_deed: false,
                        latest_progress: None,
                        resolution: None,
                        feedback_given: false,
                        applicant_satisfied: None,
                        resolved_at: None,
                        closed_at: None,
                        version: 1,
                        created_at: visited_at,
                        updated_at: visited_at,
                        change_seq: 0,
                        created_seq: 0,
                        origin_device: None,
                    }));
                    issue_count += 1;
                }
            }
        }
        household::Entity::insert_many(household_rows)
            .exec_without_returning(&txn)
            .await?;
        for rows in visit_rows.chunks(500) {
            visit::Entity::insert_many(rows.to_vec())
                .exec_without_returning(&txn)
                .await?;
        }
        if !issue_rows.is_empty() {
            issue::Entity::insert_many(issue_rows)
                .exec_without_returning(&txn)
                .await?;
        }
    }
    api::db::commit(txn).await?;
    Ok((visit_count, issue_count))
}

fn percentile_ms(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1000.0
}

struct Measured {
    name: String,
    throughput: Option<(f64, &'static str)>,
    p50_ms: f64,
    p99_ms: f64,
    baseline: Option<(f64, &'static str)>,
    note: String,
}

async fn login(client: &reqwest::Client, address: &str, username: &str) -> BenchResult<String> {
    let body: Value = client
        .post(format!("{address}/api/v1/auth/login"))
        .json(&json!({"username": username, "password": api::seed::DEMO_PASSWORD}))
        .send()
        .await?
        .json()
        .await?;
    Ok(body["access_token"].as_str().ok_or("no token")?.to_owned())
}

fn visit_records(households: &[Uuid], count: usize, seed: usize) -> Vec<Value> {
    (0..count)
        .map(|index| {
            json!({"id": Uuid::new_v4(), "household_id": households[(seed * 31 + index) % households.len()], "channel": "door_to_door",
                   "visited_at": Utc::now().timestamp_millis() - (index as i64) * 1000, "answers": "{\"difficulties\":\"缺劳力\"}",
                   "service_card_given": true})
        })
        .collect()
}

/// Runs `total` jobs over `clients` workers, timing each; returns the histogram (µs) and wall time.
async fn drive<F, Fut>(
    clients: usize,
    total: usize,
    job: F,
) -> BenchResult<(Histogram<u64>, Duration)>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = BenchResult<()>> + Send,
{
    let job = Arc::new(job);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..clients {
        let (job, next) = (job.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut histogram = Histogram::<u64>::new(3).map_err(|error| error.to_string())?;
            loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if index >= total {
                    return Ok::<_, Box<dyn std::error::Error + Send + Sync>>(histogram);
                }
                let begun = Instant::now();
                job(index).await?;
                histogram
                    .record(begun.elapsed().as_micros() as u64)
                    .map_err(|error| error.to_string())?;
            }
        }));
    }
    let mut merged = Histogram::<u64>::new(3).map_err(|error| error.to_string())?;
    for worker in workers {
        merged
            .add(worker.await??)
            .map_err(|error| error.to_string())?;
    }
    Ok((merged, started.elapsed()))
}

#[tokio::main]
async fn main() -> BenchResult<()> {
    let args = Args::parse();
    if !args.server.exists() {
        return Err(format!(
            "{} is missing: run `cargo build --release` first",
            args.server.display()
        )
        .into());
    }
    let target = fresh_database(&args).await?;
    let result = run(&args, &target).await;
    drop_database(&target).await;
    result
}

async fn run(args: &Args, target: &Target) -> BenchResult<()> {
    let seeded = server_command(args, target, "seed-demo")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if !seeded.success() {
        return Err("seed-demo failed".into());
    }
    let db = Database::connect(target.url.as_str()).await?;
    let (scope_visits, scope_issues) = grow_scope(&db, args.scope_households).await?;
    let (mut server, address, startup) = start_server(args, target).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let cadre = login(&client, &address, "cadre1").await?;
    let leader = login(&client, &address, "leader1").await?;
    let households: Vec<Uuid> = entity::household::Entity::find()
        .all(&db)
        .await?
        .into_iter()
        .filter(|household| {
            household.village_id == demo_id("371526100201")
                || household.village_id == demo_id("371526100202")
        })
        .map(|household| household.id)
        .collect();
    let households = Arc::new(households);
    let mut results = Vec::new();

    // 1. Sync pull of the cadre's whole scope (first sync).
    let mut pull_histogram = Histogram::<u64>::new(3).map_err(|error| error.to_string())?;
    let mut pulled = 0;
    for round in 0..5 {
        let begun = Instant::now();
        let body: Value = client
            .get(format!(
                "{address}/api/v1/sync/pull?last_pulled_at=null&schema_version=1&migration=null"
            ))
            .bearer_auth(&cadre)
            .header("x-device-id", format!("bench-pull-{round}"))
            .send()
            .await?
            .json()
            .await?;
        pull_histogram
            .record(begun.elapsed().as_micros() as u64)
            .map_err(|error| error.to_string())?;
        pulled = ["households", "visits", "issues", "issue_events"]
            .iter()
            .map(|table| {
                body["changes"][table]["created"]
                    .as_array()
                    .map_or(0, Vec::len)
            })
            .sum::<usize>();
    }
    results.push(Measured {
        name: "sync pull, a cadre's whole scope (first sync)".to_owned(),
        throughput: None,
        p50_ms: percentile_ms(&pull_histogram, 0.5),
        p99_ms: percentile_ms(&pull_histogram, 1.0),
        baseline: None,
        note: format!("{pulled} records ({} households, {scope_visits} visits, {scope_issues} issues generated); 5 runs, max shown as p99", args.scope_households),
    });

    // 2. Sync push, batches of 100 visits, `clients` phones at once.
    let (histogram, wall) = {
        let (client, address, cadre, households) = (
            client.clone(),
            address.clone(),
            cadre.clone(),
            households.clone(),
        );
        drive(args.clients, args.batches, move |index| {
            let (client, address, cadre, households) = (client.clone(), address.clone(), cadre.clone(), households.clone());
            async move {
                let body = json!({"changes": {"visits": {"created": visit_records(&households, 100, index), "updated": [], "deleted": []}}});
                let response = client
                    .post(format!("{address}/api/v1/sync/push?last_pulled_at=0"))
                    .bearer_auth(&cadre)
                    .header("x-device-id", format!("bench-phone-{}", index % 8))
                    .json(&body)
                    .send()
                    .await?;
                if !response.status().is_success() {
                    return Err(format!("push: {} {}", response.status(), response.text().await?).into());
                }
                Ok(())
            }
        })
        .await?
    };
    let push_rate = (args.batches * 100) as f64 / wall.as_secs_f64();

    // 2b. The raw database doing the same writes: 100 visits per multi-row INSERT, one
    // transaction per batch, the same number of concurrent connections.
    let raw_db = Arc::new(db.clone());
    let (raw_histogram, raw_wall) = {
        let households = households.clone();
        drive(args.clients, args.batches, move |index| {
            let (db, households) = (raw_db.clone(), households.clone());
            async move {
                use entity::visit;
                let (county, town, cadre) = (
                    demo_id("371526"),
                    demo_id("371526100"),
                    demo_id("user:cadre1"),
                );
                let rows: Vec<visit::ActiveModel> = (0..100)
                    .map(|offset| {
                        let household = households[(index * 31 + offset) % households.len()];
                        visit::ActiveModel::from(visit::Model {
                            id: Uuid::now_v7(),
                            county_id: county,
                            town_id: town,
                            village_id: demo_id("371526100201"),
                            household_id: Some(household),
                            enterprise_id: None,
                            cadre_id: cadre,
                            channel: visit::Channel::DoorToDoor,
                            visited_at: Utc::now(),
                            received_at: Utc::now(),
                            answers: Some(json!({"difficulties": "缺劳力"})),
                            cadre_rating: None,
                            diary_note: None,
                            service_card_given: true,
                            latitude: None,
                            longitude: None,
                            device_id: Some("raw".to_owned()),
                            duty_id: None,
                            change_seq: 1,
                            created_seq: 1,
                            origin_device: None,
                        })
                    })
                    .collect();
                // A plain write transaction (IMMEDIATE on SQLite), as a hand-written service would.
                let txn = sea_orm::TransactionTrait::begin_with_options(
                    db.as_ref(),
                    sea_orm::TransactionOptions {
                        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                        ..Default::default()
                    },
                )
                .await?;
                visit::Entity::insert_many(rows)
                    .exec_without_returning(&txn)
                    .await?;
                txn.commit().await?;
                Ok(())
            }
        })
        .await?
    };
    let raw_rate = (args.batches * 100) as f64 / raw_wall.as_secs_f64();
    results.push(Measured {
        name: format!("sync push, batches of 100 visits, {} clients", args.clients),
        throughput: Some((push_rate, "visits/s")),
        p50_ms: percentile_ms(&histogram, 0.5),
        p99_ms: percentile_ms(&histogram, 0.99),
        baseline: Some((raw_rate, "visits/s")),
        note: format!(
            "{} visits; raw: multi-row INSERT of 100 per transaction (p50 {:.1} ms, p99 {:.1} ms); ratio {:.0}%. Each pushed visit also checks scope, writes an audit row and is stamped for sync",
            args.batches * 100,
            percentile_ms(&raw_histogram, 0.5),
            percentile_ms(&raw_histogram, 0.99),
            push_rate / raw_rate * 100.0
        ),
    });

    // 3. Single visit POST, 32 clients.
    let (histogram, wall) = {
        let (client, address, cadre, households) = (
            client.clone(),
            address.clone(),
            cadre.clone(),
            households.clone(),
        );
        drive(32, 2000, move |index| {
            let (client, address, cadre, households) = (client.clone(), address.clone(), cadre.clone(), households.clone());
            async move {
                let response = client
                    .post(format!("{address}/api/v1/visits"))
                    .bearer_auth(&cadre)
                    .json(&json!({"id": Uuid::new_v4(), "household_id": households[index % households.len()], "channel": "door_to_door",
                                  "visited_at": Utc::now().to_rfc3339(), "service_card_given": true}))
                    .send()
                    .await?;
                if response.status().as_u16() != 201 {
                    return Err(format!("visit: {}", response.status()).into());
                }
                Ok(())
            }
        })
        .await?
    };
    results.push(Measured {
        name: "single visit POST, 32 clients".to_owned(),
        throughput: Some((2000.0 / wall.as_secs_f64(), "requests/s")),
        p50_ms: percentile_ms(&histogram, 0.5),
        p99_ms: percentile_ms(&histogram, 0.99),
        baseline: None,
        note: "2,000 visits, each its own transaction with its audit row".to_owned(),
    });

    // 4. The ledger's first page for a town leader, beside the same query run raw.
    let (histogram, _) = {
        let (client, address, leader) = (client.clone(), address.clone(), leader.clone());
        drive(args.clients, 1000, move |_| {
            let (client, address, leader) = (client.clone(), address.clone(), leader.clone());
            async move {
                let response = client
                    .get(format!("{address}/api/v1/issues?limit=50"))
                    .bearer_auth(&leader)
                    .send()
                    .await?;
                if !response.status().is_success() {
                    return Err(format!("ledger: {}", response.status()).into());
                }
                response.bytes().await?;
                Ok(())
            }
        })
        .await?
    };
    let raw_db = Arc::new(db.clone());
    let town = demo_id("371526100");
    let (raw_histogram, _) = drive(args.clients, 1000, move |_| {
        let db = raw_db.clone();
        async move {
            use entity::issue;
            use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
            issue::Entity::find()
                .filter(issue::Column::TownId.eq(town))
                .filter(issue::Column::AnsweredOnSpot.eq(false))
                .order_by_asc(issue::Column::Deadline)
                .order_by_asc(issue::Column::Id)
                .limit(51)
                .all(db.as_ref())
                .await?;
            Ok(())
        }
    })
    .await?;
    results.push(Measured {
        name: format!(
            "ledger first page (50), town leader, {} clients",
            args.clients
        ),
        throughput: None,
        p50_ms: percentile_ms(&histogram, 0.5),
        p99_ms: percentile_ms(&histogram, 0.99),
        baseline: Some((percentile_ms(&raw_histogram, 0.99), "ms p99 raw")),
        note: format!(
            "raw: the same SELECT by hand, p50 {:.2} ms",
            percentile_ms(&raw_histogram, 0.5)
        ),
    });

    let rss = peak_rss_mib(&server);
    server.kill()?;
    server.wait()?;
    write_report(args, target, startup, rss, &results)?;
    Ok(())
}

fn write_report(
    args: &Args,
    target: &Target,
    startup: Duration,
    rss: Option<f64>,
    results: &[Measured],
) -> BenchResult<()> {
    use std::fmt::Write as _;
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .map(|line| line.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1);
    let mut text = String::new();
    writeln!(
        text,
        "\n## {} — {}\n",
        target.engine,
        Utc::now().format("%Y-%m-%d %H:%M UTC")
    )?;
    writeln!(
        text,
        "Machine: {cores} cores ({cpu}); client and server share it. Command: `cargo run --release -p bench -- --clients {} --batches {} --scope-households {}{}`.\n",
        args.clients,
        args.batches,
        args.scope_households,
        if target.engine == "PostgreSQL" {
            " --database-url <postgres admin URL>"
        } else {
            ""
        }
    )?;
    writeln!(
        text,
        "| benchmark | throughput | p50 | p99 | raw database, same run | notes |"
    )?;
    writeln!(text, "| --- | --- | --- | --- | --- | --- |")?;
    for result in results {
        writeln!(
            text,
            "| {} | {} | {:.1} ms | {:.1} ms | {} | {} |",
            result.name,
            result
                .throughput
                .map_or("–".to_owned(), |(value, unit)| format!(
                    "{value:.0} {unit}"
                )),
            result.p50_ms,
            result.p99_ms,
            result
                .baseline
                .map_or("–".to_owned(), |(value, unit)| format!(
                    "{value:.1} {unit}"
                )),
            result.note
        )?;
    }
    writeln!(
        text,
        "| start-up (spawn to ready, migrations on an empty database) | – | {:.0} ms | – | – | |",
        startup.as_secs_f64() * 1000.0
    )?;
    writeln!(
        text,
        "| server peak RSS over the whole run | – | – | – | – | {} |",
        rss.map_or("unknown".to_owned(), |mib| format!("{mib:.0} MiB"))
    )?;
    print!("{text}");
    let mut existing = std::fs::read_to_string(&args.out).unwrap_or_else(|_| "# Benchmarks\n\nFigures from `cargo run --release -p bench`, newest last. Compare only rows of the same run.\n".to_owned());
    existing.push_str(&text);
    std::fs::write(&args.out, existing)?;
    Ok(())
}
