//! The database the run uses (a fresh SQLite file, or a fresh PostgreSQL database beside an
//! administrative URL) and the release server started against it.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use serde_json::Value;
use uuid::Uuid;

use crate::BenchResult;

/// The JWT secret the server is started with.
const SECRET: &str = "bench-secret-that-is-long-enough-0123456789";

/// The database of one run.
pub struct Target {
    /// Its URL.
    pub url: String,
    /// `SQLite` or `PostgreSQL`.
    pub engine: &'static str,
    /// PostgreSQL: the administrative URL and the database to drop afterwards.
    cleanup: Option<(String, String)>,
    /// SQLite: the file to remove afterwards.
    file: Option<PathBuf>,
}

impl Target {
    /// A fresh, empty database: a SQLite file in the temporary directory, or (with a
    /// PostgreSQL URL) a new database created beside it.
    pub async fn fresh(database_url: Option<&str>) -> BenchResult<Self> {
        let unique = Uuid::new_v4().simple().to_string();
        match database_url {
            Some(admin_url) if admin_url.starts_with("postgres") => {
                let name = format!("minqing_bench_{unique}");
                let admin = Database::connect(admin_url).await?;
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await?;
                admin.close().await?;
                let base = admin_url
                    .rsplit_once('/')
                    .map_or(admin_url, |(base, _)| base)
                    .to_owned();
                Ok(Self {
                    url: format!("{base}/{name}"),
                    engine: "PostgreSQL",
                    cleanup: Some((admin_url.to_owned(), name)),
                    file: None,
                })
            }
            _ => {
                let path = std::env::temp_dir().join(format!("minqing-bench-{unique}.db"));
                Ok(Self {
                    url: format!("sqlite://{}?mode=rwc", path.display()),
                    engine: "SQLite",
                    cleanup: None,
                    file: Some(path),
                })
            }
        }
    }

    /// True on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.cleanup.is_some()
    }

    /// A one-connection pool for bulk loading: on SQLite without fsync and with a large page
    /// cache, on PostgreSQL without waiting for the WAL flush at commit. Only the generator
    /// uses it; the server and the raw baselines use the server's own settings.
    pub async fn loader(&self) -> BenchResult<DatabaseConnection> {
        let mut options = ConnectOptions::new(self.url.clone());
        options
            .max_connections(1)
            .min_connections(1)
            .max_lifetime(Duration::from_secs(24 * 3600))
            .idle_timeout(Duration::from_secs(24 * 3600))
            .sqlx_logging(false);
        if self.is_postgres() {
            options.map_sqlx_postgres_opts(|postgres| {
                postgres.options([("synchronous_commit", "off")])
            });
        } else {
            options.map_sqlx_sqlite_opts(|sqlite| {
                sqlite
                    .create_if_missing(true)
                    .journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Off)
                    .foreign_keys(true)
                    .pragma("cache_size", "-262144")
                    .pragma("temp_store", "memory")
            });
        }
        Ok(Database::connect(options).await?)
    }

    /// Removes the database (PostgreSQL: drops it; SQLite: deletes the files).
    pub async fn drop(&self) {
        if let Some((admin_url, name)) = &self.cleanup
            && let Ok(admin) = Database::connect(admin_url.as_str()).await
        {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
        if let Some(path) = &self.file {
            for suffix in ["", "-wal", "-shm", ".jwt-secret"] {
                let mut file = path.clone().into_os_string();
                file.push(suffix);
                let _ = std::fs::remove_file(file);
            }
        }
    }
}

/// Creates the schema with the server binary's own migrations (`minqing migrate up`), so
/// that the schema is the one the binary expects even while the source moves on.
pub fn migrate(binary: &Path, target: &Target) -> BenchResult<()> {
    let status = Command::new(binary)
        .args(["migrate", "up"])
        .env("DATABASE_URL", &target.url)
        .env("MINQING_JWT_SECRET", SECRET)
        .env("MINQING_LOG", "warn")
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        return Err(format!("{} migrate up failed: {status}", binary.display()).into());
    }
    Ok(())
}

/// The release server, running.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// From spawn to the first `readyz` 200.
    pub startup: Duration,
}

impl Server {
    /// Starts `binary serve` against the target and waits until it is ready.
    pub async fn start(binary: &Path, target: &Target) -> BenchResult<Self> {
        let started = Instant::now();
        let mut child = Command::new(binary)
            .arg("serve")
            .env("DATABASE_URL", &target.url)
            .env("MINQING_JWT_SECRET", SECRET)
            .env("MINQING_LOG", "warn,api::cli=info")
            .env("MINQING_LOG_FORMAT", "json")
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
        let port = receiver.recv_timeout(Duration::from_secs(60))?;
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
        Ok(Self {
            child,
            address,
            startup: started.elapsed(),
        })
    }

    /// The server's peak resident set since start (or since [`Server::reset_peak_rss`]), MiB.
    pub fn peak_rss_mib(&self) -> Option<f64> {
        self.status_kib("VmHWM:").map(|kib| kib / 1024.0)
    }

    /// The server's resident set now, MiB.
    pub fn rss_mib(&self) -> Option<f64> {
        self.status_kib("VmRSS:").map(|kib| kib / 1024.0)
    }

    fn status_kib(&self, field: &str) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|line| line.starts_with(field))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// Resets the kernel's peak-RSS mark (`/proc/<pid>/clear_refs` ← 5); false when the
    /// kernel refuses.
    pub fn reset_peak_rss(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5").is_ok()
    }

    /// Stops the server.
    pub fn stop(mut self) -> BenchResult<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}
