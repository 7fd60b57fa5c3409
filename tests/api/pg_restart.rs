//! Database restart under load (RELIABILITY.md, "Faults"): the real binary serves mixed load
//! while the machine's PostgreSQL is restarted, first `-m fast`, then `-m immediate`. During
//! the outage every failure is a 503 problem+json; from 5 s after PostgreSQL is back at least
//! 99% of requests succeed again; the server process is never restarted.
//!
//! It restarts the PostgreSQL every other test uses, so it is `#[ignore]`d and runs alone:
//! `.ci/pg-restart` (= `TEST_DATABASE_URL=… cargo test --test api pg_restart:: -- --ignored
//! --test-threads=1`), never beside another test run on PostgreSQL.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{DEMO_PASSWORD, demo_id, villages};

/// Answers are counted from this long after PostgreSQL is back.
const RECOVERY_BOUND: Duration = Duration::from_secs(5);
/// Load kept up after each restart.
const AFTER_RESTART: Duration = Duration::from_secs(9);

/// One request of the load.
#[derive(Debug)]
struct Sample {
    started: Instant,
    what: &'static str,
    /// The status, or the client's error (the server did not answer at all).
    answer: Result<(u16, bool), String>,
}

fn cluster_version() -> String {
    std::fs::read_dir("/etc/postgresql")
        .expect("/etc/postgresql (a Debian PostgreSQL cluster)")
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .max()
        .expect("a cluster version")
}

fn restart_postgres(mode: &str) {
    let status = Command::new("pg_ctlcluster")
        .args([
            "--skip-systemctl-redirect",
            &cluster_version(),
            "main",
            "restart",
            "-m",
            mode,
        ])
        .status()
        .expect("pg_ctlcluster");
    assert!(
        status.success(),
        "pg_ctlcluster restart -m {mode}: {status}"
    );
}

fn start_server(database_url: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_minqing"))
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env(
            "MINQING_JWT_SECRET",
            "restart-test-secret-that-is-long-enough-0",
        )
        .env("MINQING_ADDR", "127.0.0.1:0")
        .env("MINQING_LOG", "warn,api=info")
        .env("MINQING_LOG_FORMAT", "json")
        .env("MINQING_WORKERS", "2")
        .env("MINQING_DB_ACQUIRE_TIMEOUT_SECS", "2")
        .env("MINQING_DB_STATEMENT_TIMEOUT_SECS", "5")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("server starts");
    let stderr = child.stderr.take().expect("stderr");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let logged: Value = serde_json::from_str(&line).unwrap_or_default();
            if let Some(port) = logged["port"].as_u64() {
                let _ = sender.send(port.to_string());
            }
        }
    });
    let port = receiver
        .recv_timeout(Duration::from_secs(60))
        .expect("the server says its port");
    (child, format!("http://127.0.0.1:{port}"))
}

async fn one_request(
    client: &reqwest::Client,
    address: &str,
    token: &str,
    turn: usize,
) -> (&'static str, Result<(u16, bool), String>) {
    let (what, request) = match turn % 4 {
        0 => (
            "list households",
            client.get(format!("{address}/api/v1/households?limit=20")),
        ),
        1 => (
            "list issues",
            client.get(format!("{address}/api/v1/issues?limit=20")),
        ),
        2 => (
            "create household",
            client.post(format!("{address}/api/v1/households")).json(
                &json!({"village_id": demo_id(villages::DONGGUAN), "head_name": format!("重启{}", turn % 100_000)}),
            ),
        ),
        _ => ("readiness", client.get(format!("{address}/readyz"))),
    };
    let answer = match request.bearer_auth(token).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let problem = response
                .headers()
                .get("content-type")
                .and_then(|value| value.to_str().ok())
                == Some("application/problem+json");
            // Read the body: a response cut short is a failure of its own.
            match response.bytes().await {
                Ok(_) => Ok((status, problem)),
                Err(error) => Err(format!("body: {error}")),
            }
        }
        Err(error) => Err(error.to_string()),
    };
    (what, answer)
}

#[tokio::test]
#[ignore = "restarts the machine's PostgreSQL: run alone with .ci/pg-restart"]
async fn the_server_rides_out_postgresql_restarts_under_load_without_restarting() {
    let admin_url = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| url.starts_with("postgres"))
        .expect("TEST_DATABASE_URL must name the PostgreSQL to restart");
    let name = format!("minqing_restart_{}", Uuid::new_v4().simple());
    let admin = Database::connect(admin_url.as_str()).await.expect("admin");
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .expect("create database");
    admin.close().await.ok();
    let base = admin_url
        .split('?')
        .next()
        .and_then(|url| url.rsplit_once('/'))
        .map_or(admin_url.as_str(), |(base, _)| base)
        .to_owned();
    let database_url = format!("{base}/{name}");
    let seeded = Command::new(env!("CARGO_BIN_EXE_minqing"))
        .arg("seed-demo")
        .env("DATABASE_URL", &database_url)
        .env(
            "MINQING_JWT_SECRET",
            "restart-test-secret-that-is-long-enough-0",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("seed");
    assert!(seeded.success(), "seed-demo");

    let (mut server, address) = start_server(&database_url);
    let server_pid = server.id();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client");
    let login: Value = client
        .post(format!("{address}/api/v1/auth/login"))
        .json(&json!({"username": "cadre1", "password": DEMO_PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = login["access_token"].as_str().expect("token").to_owned();

    let stop = Arc::new(AtomicBool::new(false));
    let samples = Arc::new(Mutex::new(Vec::<Sample>::new()));
    let mut workers = Vec::new();
    for worker in 0..6 {
        let (client, address, token, stop, samples) = (
            client.clone(),
            address.clone(),
            token.clone(),
            Arc::clone(&stop),
            Arc::clone(&samples),
        );
        workers.push(tokio::spawn(async move {
            let mut turn = worker;
            // Bounded: at most ten minutes' worth of turns, whatever happens.
            while !stop.load(Ordering::Relaxed) && turn < 2_000_000 {
                let started = Instant::now();
                let (what, answer) = one_request(&client, &address, &token, turn).await;
                samples.lock().expect("samples").push(Sample {
                    started,
                    what,
                    answer,
                });
                turn += 6;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }

    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut outages = Vec::new();
    for mode in ["fast", "immediate"] {
        let began = Instant::now();
        tokio::task::spawn_blocking(move || restart_postgres(mode))
            .await
            .expect("restart");
        let back = Instant::now();
        outages.push((mode, began, back));
        tokio::time::sleep(AFTER_RESTART).await;
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.expect("worker");
    }
    let still_running = server.try_wait().expect("try_wait").is_none();
    let health = client
        .get(format!("{address}/healthz"))
        .send()
        .await
        .map(|response| response.status().as_u16());
    server.kill().ok();
    server.wait().ok();
    let admin = Database::connect(admin_url.as_str()).await.expect("admin");
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .await
        .ok();
    admin.close().await.ok();

    let samples = samples.lock().expect("samples");
    let mut failures = Vec::new();
    for sample in samples.iter() {
        match &sample.answer {
            Ok((status, _)) if *status < 400 => {}
            Ok((503, true)) => {}
            Ok((status, problem)) => failures.push(format!(
                "{} → {status} (problem+json: {problem})",
                sample.what
            )),
            Err(error) => failures.push(format!("{} → no answer: {error}", sample.what)),
        }
    }
    let mut report = Vec::new();
    for (mode, began, back) in &outages {
        let during = samples
            .iter()
            .filter(|sample| sample.started >= *began && sample.started <= *back);
        let unavailable = during
            .filter(|sample| matches!(sample.answer, Ok((503, _))))
            .count();
        let recovered: Vec<&Sample> = samples
            .iter()
            .filter(|sample| {
                sample.started >= *back + RECOVERY_BOUND && sample.started < *back + AFTER_RESTART
            })
            .collect();
        let succeeded = recovered
            .iter()
            .filter(|sample| matches!(sample.answer, Ok((status, _)) if status < 400))
            .count();
        report.push(format!(
            "restart -m {mode}: took {:?}, {unavailable} answered 503 meanwhile; from {RECOVERY_BOUND:?} after: {succeeded}/{} succeeded",
            back.duration_since(*began),
            recovered.len()
        ));
        assert!(
            recovered.len() >= 20,
            "{mode}: too little load to judge: {}",
            recovered.len()
        );
        assert!(
            succeeded * 100 >= recovered.len() * 99,
            "{mode}: {succeeded} of {} succeeded from {RECOVERY_BOUND:?} after PostgreSQL was back",
            recovered.len()
        );
    }
    println!("{} requests; {}", samples.len(), report.join("; "));
    assert!(
        failures.is_empty(),
        "failures other than 503 problem+json:\n{}",
        failures.join("\n")
    );
    assert!(
        still_running,
        "the server process {server_pid} exited during the restarts"
    );
    assert_eq!(health.ok(), Some(200), "the same process still answers");
}
