//! The `minqing` command line: `serve` (the default), `migrate`, `openapi`, `seed-demo`,
//! `admin create`, `audit verify` and `audit prune`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use migration::{Migrator, MigratorTrait};

use crate::{config::SettingsArgs, db, seed, startup::Application, telemetry};

/// Minqing: the backend of the 访民情·听民意·解民忧 campaign.
#[derive(Debug, Parser)]
#[command(name = "minqing", version, about)]
pub struct Cli {
    /// Settings (flags or environment variables; see `.env.example`).
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations and serve the API (the default).
    Serve,
    /// Manage the database schema.
    Migrate {
        /// What to do with the migrations.
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Print the OpenAPI document (what `openapi/openapi.json` must contain).
    Openapi,
    /// Fill the database with a small demo county. Running it twice changes nothing.
    SeedDemo,
    /// Manage administrator accounts.
    Admin {
        /// What to do.
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Check or prune the audit trail.
    Audit {
        /// What to do.
        #[command(subcommand)]
        action: AuditAction,
    },
}

/// Audit trail actions.
#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// Walk the audit hash chain and report the first entry altered, removed or added in the
    /// database behind the application's back (exit code 1), or `ok: N entries, head <hash>`.
    Verify,
    /// Remove audit entries older than `MINQING_AUDIT_RETENTION_DAYS` in one transaction,
    /// leaving a checkpoint so that `verify` still checks the rest. Run it daily (cron).
    /// Without the setting nothing is removed.
    Prune,
}

/// Administrator account actions.
#[derive(Debug, Subcommand)]
pub enum AdminAction {
    /// Create an administrator of the whole deployment (the first account of a new install).
    Create {
        /// Login name (3–64 lower-case letters, digits, `_`, `.`, `-`).
        username: String,
        /// Name shown to people.
        #[arg(long, default_value = "系统管理员")]
        display_name: String,
        /// The password. When omitted (so it stays out of the shell history) it is asked for
        /// twice at a terminal, without echo, or read from the first line of standard input
        /// when that is a pipe or a file.
        #[arg(long)]
        password: Option<String>,
    },
}

/// Migration actions.
#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back the latest migrations.
    Down {
        /// How many to roll back.
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
}

/// Runs the command and returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    telemetry::init(&cli.settings.log, cli.settings.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("minqing: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("minqing: {}", explain(error.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// An error as a county's IT admin needs to read it: a refused field with its reason, and
/// every cause down the chain (a database fault is not just "internal error").
fn explain(error: &(dyn std::error::Error + 'static)) -> String {
    match error.downcast_ref::<crate::error::ApiError>() {
        Some(crate::error::ApiError::Validation(fields)) => fields
            .iter()
            .map(|field| format!("{}: {}", field.field, field.message))
            .collect::<Vec<_>>()
            .join("; "),
        _ => crate::error::cause_chain(error),
    }
}

type CliResult = Result<(), Box<dyn std::error::Error>>;

async fn execute(cli: Cli) -> CliResult {
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Openapi = command {
        print!("{}", crate::openapi::spec_json());
        return Ok(());
    }
    let settings = match command {
        Command::Serve => cli.settings.resolve()?,
        _ => cli.settings.resolve_for_tools()?,
    };
    match command {
        Command::Serve => {
            let started = std::time::Instant::now();
            let application = Application::build(settings.clone()).await?;
            tracing::info!(
                addr = %settings.addr,
                port = application.port(),
                database = ?settings.database.engine(),
                startup_ms = started.elapsed().as_millis() as u64,
                "minqing is listening"
            );
            application.run_until_stopped().await?;
        }
        Command::Migrate { action } => {
            let db = db::connect(&settings.database).await?;
            match action {
                MigrateAction::Up => Migrator::up(&db, None).await?,
                MigrateAction::Down { steps } => Migrator::down(&db, Some(steps)).await?,
                MigrateAction::Status => {}
            }
            for migration in Migrator::get_migration_with_status(&db).await? {
                println!("{:<8} {}", migration.status().to_string(), migration.name());
            }
        }
        Command::SeedDemo => {
            let db = db::connect_and_migrate(&settings.database).await?;
            seed::check_demo_only(&db).await?;
            let report = seed::seed_demo(&db).await?;
            println!("{report}");
            println!("Database: {}.", settings.database.described());
        }
        Command::Admin {
            action:
                AdminAction::Create {
                    username,
                    display_name,
                    password,
                },
        } => {
            let password = match password {
                Some(password) => password,
                None => password_for(&username)?,
            };
            let db = db::connect_and_migrate(&settings.database).await?;
            let created =
                crate::accounts::create_first_admin(&db, &username, &display_name, &password)
                    .await?;
            println!(
                "Created admin `{}` ({}) in {}.",
                created.username,
                created.id,
                settings.database.described()
            );
        }
        Command::Audit { action } => {
            let db = db::connect(&settings.database).await?;
            match action {
                AuditAction::Verify => {
                    let report = crate::audit::verify(&db).await?;
                    println!("{report}");
                    if !report.is_ok() {
                        return Err("the audit chain is broken".into());
                    }
                }
                AuditAction::Prune => match cli.settings.audit_retention_days {
                    Some(days) => {
                        let report = crate::audit::prune(&db, days, chrono::Utc::now()).await?;
                        println!("{report}");
                    }
                    None => println!(
                        "MINQING_AUDIT_RETENTION_DAYS is not set: audit entries are kept forever; nothing pruned"
                    ),
                },
            }
        }
        Command::Openapi => {}
    }
    Ok(())
}

/// The new admin's password when `--password` is not given. At a terminal it is asked for
/// twice, on the terminal and without echo (no one reads it over a shoulder or in the
/// scrollback, and a typo is caught); from a pipe or a file, the first line is taken as it is.
fn password_for(username: &str) -> Result<String, Box<dyn std::error::Error>> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let password = rpassword::prompt_password(format!("Password for `{username}`: "))?;
    let again = rpassword::prompt_password("The same password again: ")?;
    if password != again {
        return Err("the two passwords typed differ; nothing was created".into());
    }
    Ok(password)
}
