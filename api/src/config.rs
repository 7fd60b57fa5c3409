//! Typed settings. They are read from the command line and the environment by `main`
//! (through [`crate::cli::Cli`]) and passed down; no other code reads the environment.

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
    path::PathBuf,
    time::Duration,
};

use chrono::FixedOffset;
use clap::{Args, ValueEnum};

/// Every setting the server needs, resolved (defaults applied, secret loaded).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free port (tests).
    pub addr: SocketAddr,
    /// Where the data lives.
    pub database: DatabaseSettings,
    /// Key that signs access tokens.
    pub jwt_secret: Secret,
    /// How long in-flight requests may run after SIGTERM before the server exits.
    pub shutdown_timeout: Duration,
    /// HTTP worker threads (default: one per core).
    pub workers: Option<usize>,
    /// The deployment's offset from UTC: local dates (assignments, deadlines) are read in it.
    pub utc_offset: FixedOffset,
    /// Reverse proxies whose `X-Forwarded-For` is believed; empty: the peer is the client.
    pub trusted_proxies: Vec<IpAddr>,
    /// How many days ahead an open issue counts as "due soon".
    pub due_soon_days: u32,
    /// Browser origins allowed to call the API (CORS); empty: CORS is off.
    pub cors_origins: Vec<String>,
}

/// How to reach the database.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// `sqlite://path?mode=rwc` or `postgres://…`.
    pub url: String,
    /// Pool size. About 8 is best on a 2-core machine; more only worsens p99.
    pub max_connections: u32,
    /// How long a request waits for a free connection before it is answered 503.
    pub acquire_timeout: Duration,
    /// The longest a statement may run or wait for a lock (PostgreSQL) before it is cancelled
    /// and the request answered 503; SQLite waits at most its busy timeout (5 s).
    pub statement_timeout: Duration,
    /// SQLite: commits leave their pages in the write-ahead log and a background task copies
    /// them into the database file (`db::spawn_checkpointer`), instead of the commit that
    /// fills the log doing it while every other writer waits. The server sets it; short-lived
    /// commands leave it off.
    pub background_checkpoints: bool,
}

impl DatabaseSettings {
    /// Settings for `url` with the defaults for pool size and acquire timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(30),
            background_checkpoints: false,
        }
    }

    /// These settings with [`Self::background_checkpoints`] on (the server's).
    pub fn with_background_checkpoints(&self) -> Self {
        Self {
            background_checkpoints: true,
            ..self.clone()
        }
    }

    /// Which engine the URL names.
    pub fn engine(&self) -> Engine {
        if self.url.starts_with("postgres://") || self.url.starts_with("postgresql://") {
            Engine::Postgres
        } else {
            Engine::Sqlite
        }
    }

    /// The database as a person should be told which one a command used: the SQLite file's
    /// absolute path, or the PostgreSQL URL without its password.
    pub fn described(&self) -> String {
        if let Some(path) = self.sqlite_path() {
            let absolute = std::path::absolute(&path).unwrap_or(path);
            return format!("the SQLite file {}", absolute.display());
        }
        // Without the query (`?password=` is taken there too), and split at the last `@`
        // (a password may hold one).
        let url = self.url.split('?').next().unwrap_or_default();
        match url.split_once("://") {
            Some((scheme, rest)) => {
                let rest = match rest.rsplit_once('@') {
                    Some((credentials, host)) => {
                        let user = credentials.split(':').next().unwrap_or_default();
                        format!("{user}@{host}")
                    }
                    None => rest.to_owned(),
                };
                format!("{scheme}://{rest}")
            }
            None => url.to_owned(),
        }
    }

    /// The SQLite file this URL names (`None` for PostgreSQL or in-memory SQLite).
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        if self.engine() != Engine::Sqlite {
            return None;
        }
        let rest = self
            .url
            .strip_prefix("sqlite://")
            .or_else(|| self.url.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or_default();
        (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
    }
}

/// The two databases Minqing runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Embedded SQLite (the default; one file).
    Sqlite,
    /// PostgreSQL (production).
    Postgres,
}

/// A secret string that never prints.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The settings as given on the command line or in the environment (see `.env.example`).
#[derive(Debug, Clone, Args)]
pub struct SettingsArgs {
    /// Address to listen on.
    #[arg(
        long,
        env = "MINQING_ADDR",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub addr: SocketAddr,
    /// Database URL; default: the SQLite file `minqing.db` in the working directory.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Pool size.
    #[arg(
        long,
        env = "MINQING_DB_MAX_CONNECTIONS",
        default_value_t = 8,
        global = true
    )]
    pub db_max_connections: u32,
    /// Seconds a request waits for a database connection before it gets 503.
    #[arg(
        long,
        env = "MINQING_DB_ACQUIRE_TIMEOUT_SECS",
        default_value_t = 3,
        global = true
    )]
    pub db_acquire_timeout_secs: u64,
    /// Seconds a statement may run or wait for a lock on PostgreSQL before it is cancelled (503).
    #[arg(
        long,
        env = "MINQING_DB_STATEMENT_TIMEOUT_SECS",
        default_value_t = 30,
        global = true
    )]
    pub db_statement_timeout_secs: u64,
    /// Log filter, e.g. `info` or `minqing=debug,sqlx=warn`.
    #[arg(long, env = "MINQING_LOG", default_value = "info", global = true)]
    pub log: String,
    /// Log format.
    #[arg(
        long,
        env = "MINQING_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
    /// Secret that signs access tokens (at least 32 characters). When unset on SQLite, one is
    /// generated and kept beside the database file; serving on PostgreSQL requires it.
    #[arg(
        long,
        env = "MINQING_JWT_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub jwt_secret: Option<String>,
    /// Seconds in-flight requests get to finish after SIGTERM.
    #[arg(
        long,
        env = "MINQING_SHUTDOWN_TIMEOUT_SECS",
        default_value_t = 30,
        global = true
    )]
    pub shutdown_timeout_secs: u64,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "MINQING_WORKERS", global = true)]
    pub workers: Option<usize>,
    /// The deployment's offset from UTC, for local dates (China: +08:00).
    #[arg(long, env = "MINQING_UTC_OFFSET", default_value = "+08:00", value_parser = crate::clock::parse_offset, global = true)]
    pub utc_offset: FixedOffset,
    /// Comma-separated addresses of reverse proxies whose `X-Forwarded-For` is trusted.
    #[arg(
        long,
        env = "MINQING_TRUSTED_PROXIES",
        value_delimiter = ',',
        global = true
    )]
    pub trusted_proxies: Vec<IpAddr>,
    /// How many days ahead an open issue counts as "due soon" on dashboards and filters.
    #[arg(
        long,
        env = "MINQING_DUE_SOON_DAYS",
        default_value_t = 3,
        global = true
    )]
    pub due_soon_days: u32,
    /// Comma-separated browser origins allowed to call the API (CORS), e.g.
    /// `https://dashboard.county.gov.cn`; unset: CORS is off.
    #[arg(
        long,
        env = "MINQING_CORS_ORIGINS",
        value_delimiter = ',',
        global = true
    )]
    pub cors_origins: Vec<String>,
    /// Days audit entries are kept; `minqing audit prune` (run daily, e.g. from cron) removes
    /// older ones. At least 180 (network logs are kept six months); unset: kept forever. Read
    /// by the `audit prune` command only, so it is not part of [`Settings`].
    #[arg(
        long,
        env = "MINQING_AUDIT_RETENTION_DAYS",
        value_parser = clap::value_parser!(u32).range(i64::from(crate::audit::MIN_RETENTION_DAYS)..),
        global = true
    )]
    pub audit_retention_days: Option<u32>,
}

/// Why the settings could not be resolved.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// PostgreSQL without `MINQING_JWT_SECRET`.
    #[error(
        "MINQING_JWT_SECRET must be set when DATABASE_URL is PostgreSQL (several servers must share it)"
    )]
    SecretRequired,
    /// A secret that is too short to resist guessing.
    #[error("MINQING_JWT_SECRET must be at least 32 characters")]
    SecretTooShort,
    /// The generated secret could not be read or written.
    #[error("could not read or write the JWT secret file {path}: {source}")]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The operating system's random source failed.
    #[error("no randomness available: {0}")]
    Random(String),
}

/// The SQLite file used when `DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://minqing.db?mode=rwc";

impl SettingsArgs {
    /// Applies defaults and loads (or creates) the JWT secret.
    pub fn resolve(&self) -> Result<Settings, ConfigError> {
        let mut database = DatabaseSettings::new(
            self.database_url
                .clone()
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
        );
        database.max_connections = self.db_max_connections.max(1);
        database.acquire_timeout = Duration::from_secs(self.db_acquire_timeout_secs.max(1));
        database.statement_timeout = Duration::from_secs(self.db_statement_timeout_secs.max(1));
        let jwt_secret = match &self.jwt_secret {
            Some(secret) if secret.chars().count() < 32 => return Err(ConfigError::SecretTooShort),
            Some(secret) => Secret::new(secret.clone()),
            None => generated_secret(&database)?,
        };
        Ok(Settings {
            addr: self.addr,
            database,
            jwt_secret,
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout_secs),
            workers: self.workers,
            utc_offset: self.utc_offset,
            trusted_proxies: self.trusted_proxies.clone(),
            due_soon_days: self.due_soon_days,
            cors_origins: self.cors_origins.clone(),
        })
    }
}

impl SettingsArgs {
    /// As [`resolve`](Self::resolve), for the commands that sign no tokens (`migrate`,
    /// `seed-demo`, `admin`, `audit`): on PostgreSQL they need no `MINQING_JWT_SECRET`, so that
    /// cron can run `audit prune` without the server's signing key in its environment.
    pub fn resolve_for_tools(&self) -> Result<Settings, ConfigError> {
        let url = self.database_url.as_deref().unwrap_or(DEFAULT_DATABASE_URL);
        if self.jwt_secret.is_none()
            && DatabaseSettings::new(url.to_owned()).engine() == Engine::Postgres
        {
            let mut args = self.clone();
            args.jwt_secret = Some(random_secret()?);
            return args.resolve();
        }
        self.resolve()
    }
}

/// Reads the secret kept beside the SQLite file, creating it on first start.
fn generated_secret(database: &DatabaseSettings) -> Result<Secret, ConfigError> {
    if database.engine() == Engine::Postgres {
        return Err(ConfigError::SecretRequired);
    }
    let Some(db_path) = database.sqlite_path() else {
        // In-memory SQLite: nothing to keep, a fresh secret per process is right.
        return random_secret().map(Secret::new);
    };
    let path = db_path.with_extension("jwt-secret");
    let file_error = |source| ConfigError::SecretFile {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(secret) if secret.trim().len() >= 32 => return Ok(Secret::new(secret.trim())),
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => return Err(file_error(error)),
    }
    let secret = random_secret()?;
    write_private_file(&path, &secret).map_err(file_error)?;
    tracing::warn!(
        path = %path.display(),
        "MINQING_JWT_SECRET is not set: generated a secret and kept it beside the database"
    );
    Ok(Secret::new(secret))
}

fn random_secret() -> Result<String, ConfigError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|error| ConfigError::Random(error.to_string()))?;
    Ok(bytes.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// Writes a file only its owner can read.
fn write_private_file(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_is_described_by_its_file_or_its_url_without_the_password() {
        let postgres = DatabaseSettings::new("postgres://minqing:s3cret@db-host:5432/minqing");
        assert_eq!(
            postgres.described(),
            "postgres://minqing@db-host:5432/minqing"
        );
        let awkward =
            DatabaseSettings::new("postgres://u:p@ss@db-host/minqing?password=x&sslmode=require");
        assert_eq!(awkward.described(), "postgres://u@db-host/minqing");
        let sqlite = DatabaseSettings::new("sqlite://minqing.db?mode=rwc").described();
        assert!(sqlite.starts_with("the SQLite file /"), "{sqlite}");
        assert!(sqlite.ends_with("/minqing.db"), "{sqlite}");
    }

    #[test]
    fn sqlite_path_is_read_from_the_url() {
        let settings = DatabaseSettings::new("sqlite://data/minqing.db?mode=rwc");
        assert_eq!(
            settings.sqlite_path(),
            Some(PathBuf::from("data/minqing.db"))
        );
        assert_eq!(DatabaseSettings::new("sqlite::memory:").sqlite_path(), None);
        assert_eq!(
            DatabaseSettings::new("postgres://x/y").engine(),
            Engine::Postgres
        );
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(…)");
    }
}
