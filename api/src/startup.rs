//! Building and running the application: the one path used by `main` and by every test.

use std::net::TcpListener;

use actix_web::{
    App, HttpServer,
    dev::{Server, ServerHandle},
    guard,
    middleware::{Compress, Condition, from_fn},
    web,
};
use chrono::Datelike;
use sea_orm::{DatabaseConnection, DbErr};
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::{
    access,
    auth::token::TokenKeys,
    clock::LocalClock,
    config::{Engine, Settings},
    db, error,
    middleware::request_context,
    openapi,
    route_table::RouteTable,
    routes,
};

/// Body limit for ordinary JSON requests. Routes that take more (sync push, imports) set
/// their own.
pub const DEFAULT_JSON_LIMIT: usize = 64 * 1024;

/// What every handler can reach.
#[derive(Debug)]
pub struct AppState {
    /// The connection pool.
    pub db: DatabaseConnection,
    /// Which database engine the pool talks to.
    pub engine: Engine,
    /// Signs and verifies access tokens.
    pub token_keys: TokenKeys,
    /// The deployment's local calendar.
    pub clock: LocalClock,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Days ahead that count as "due soon".
    pub due_soon_days: u32,
    /// How many ledger exports may run at once (per process and per caller).
    pub exports: crate::ledger::export::ExportLimiter,
    /// How many roster imports may run at once (per process and per caller).
    pub imports: crate::ledger::export::ExportLimiter,
    /// The live part of the ledger, kept for the deadline counts.
    pub live_ledger: crate::dashboard::LiveLedger,
    /// Names of places and departments, kept a minute (the deadline dashboard names its groups).
    pub names: crate::dashboard::NameCache,
    /// Callers' roles and scopes, kept a second (`auth::kept`).
    pub principals: crate::auth::kept::KeptPrincipals,
    /// Single visits waiting to be stored together (`visits::group`).
    pub visit_queue: crate::visits::group::VisitQueue,
    /// The public notice boards, kept a minute per place.
    pub boards: crate::routes::board::KeptBoards,
}

impl AppState {
    /// Commits a change to accounts, village assignments or API tokens — what callers'
    /// principals are read from — and forgets the principals kept, so it takes effect at once.
    pub async fn commit_access_change(
        &self,
        write: crate::db::WriteTxn,
    ) -> Result<(), sea_orm::DbErr> {
        let committed = crate::db::commit(write).await;
        // Also when the commit failed: whether it took effect may be unknown.
        self.principals.forget_all();
        committed
    }

    /// Deadline questions as of today (local date).
    pub fn deadlines(&self) -> crate::ledger::Deadlines {
        crate::ledger::Deadlines {
            today: self.clock.today(),
            due_soon_days: self.due_soon_days,
        }
    }

    /// The start of this month (local midnight of its first day, as UTC): struck-off issues
    /// since then are "closed this month".
    pub fn month_start(&self) -> chrono::DateTime<chrono::Utc> {
        let today = self.clock.today();
        self.clock.start_of(today.with_day(1).unwrap_or(today))
    }

    /// `sqlite` or `postgres`.
    pub fn engine_name(&self) -> &'static str {
        match self.engine {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// Connecting or migrating failed.
    #[error("database: {0}")]
    Database(#[from] DbErr),
    /// Binding the listener failed.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
    /// The OpenAPI document could not be written.
    #[error("openapi document: {0}")]
    Spec(#[from] serde_json::Error),
    /// An operation has no entry in the access policy.
    #[error("operation `{0}` has no access policy (add it to access::requirement)")]
    UnguardedOperation(String),
}

/// CORS for the configured browser origins (dashboards on another host). Off when none are
/// configured: the API is then for same-origin pages, phones and scripts only.
fn cors(origins: &[String]) -> actix_cors::Cors {
    use actix_web::http::{Method, header};
    let mut cors = actix_cors::Cors::default()
        .allowed_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::ACCEPT,
        ])
        .allowed_header("idempotency-key")
        .allowed_header("x-device-id")
        .allowed_header("x-request-id")
        .expose_headers([header::ETAG, header::RETRY_AFTER])
        .expose_headers(["x-request-id", "idempotent-replayed"])
        .max_age(3600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// A built application: connected, migrated and listening, not yet serving.
pub struct Application {
    port: u16,
    server: Server,
    db: DatabaseConnection,
}

impl Application {
    /// Connects to the database, applies pending migrations and binds the listener.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let db = db::connect_and_migrate(&settings.database.with_background_checkpoints()).await?;
        let listener = TcpListener::bind(settings.addr)?;
        let port = listener.local_addr()?.port();
        let clock = LocalClock::new(settings.utc_offset);
        let state = web::Data::new(AppState {
            db: db.clone(),
            engine: settings.database.engine(),
            token_keys: TokenKeys::new(settings.jwt_secret.expose()),
            clock,
            trusted_proxies: settings.trusted_proxies.clone(),
            due_soon_days: settings.due_soon_days,
            exports: Default::default(),
            imports: Default::default(),
            live_ledger: Default::default(),
            names: Default::default(),
            principals: Default::default(),
            visit_queue: crate::visits::group::VisitQueue::start(db.clone(), clock),
            boards: Default::default(),
        });
        let spec = openapi::spec();
        let route_table = web::Data::new(RouteTable::from_spec(&spec));
        // Served as written once: every worker holding its own copy of the document (and the
        // Swagger UI another) kept ~20 MiB of the server's memory.
        let spec_json = web::Data::new(openapi::SpecJson::new(&spec)?);
        drop(spec);
        if let Some(unguarded) = route_table
            .operation_ids()
            .find(|operation| access::requirement(operation).is_none())
        {
            return Err(StartupError::UnguardedOperation(unguarded.to_owned()));
        }
        // Audit rows a stopped server committed but did not get to seal, then the sealer that
        // links each commit's rows just after it (PostgreSQL; see `audit`).
        crate::audit::seal_pending(&db).await?;
        crate::audit::spawn_sealer(db.clone());
        db::spawn_checkpointer(db.clone());
        // The deadline dashboard's live ledger loads in the background (a county of a million
        // issues takes seconds), so that the first leader after a start does not wait for it.
        let warming = state.clone();
        tokio::spawn(async move {
            if let Err(error) = warming
                .live_ledger
                .bring_up_to_date(&warming.db, warming.month_start())
                .await
            {
                tracing::warn!(%error, "the live ledger loads at the first dashboard request");
            }
        });
        let cors_origins = settings.cors_origins.clone();
        let mut server = HttpServer::new(move || {
            let (app, _) = App::new()
                .into_utoipa_app()
                .app_data(state.clone())
                .app_data(route_table.clone())
                .app_data(error::json_config(DEFAULT_JSON_LIMIT))
                .app_data(error::path_config())
                .app_data(error::query_config())
                .configure(routes::configure)
                .split_for_parts();
            app.service(
                web::resource(openapi::SPEC_PATH)
                    .guard(guard::Get())
                    .app_data(spec_json.clone())
                    .to(openapi::serve),
            )
            .service(
                SwaggerUi::new("/docs/{_:.*}")
                    // The default validator badge loads from the internet; intranets have none.
                    .config(Config::new([openapi::SPEC_PATH]).validator_url("none")),
            )
            .service(web::redirect("/docs", "/docs/"))
            .default_service(web::to(routes::fallback::no_route))
            .wrap(from_fn(crate::idempotency::replay))
            .wrap(from_fn(crate::auth::authorize))
            .wrap(Condition::new(
                !cors_origins.is_empty(),
                cors(&cors_origins),
            ))
            .wrap(Compress::default())
            .wrap(from_fn(crate::body_deadline::limit_body_time))
            .wrap(from_fn(request_context))
        })
        .listen(listener)?
        .shutdown_timeout(settings.shutdown_timeout.as_secs())
        // Slow clients: a request head must arrive within 10 s (else 408 and the connection
        // closes), an idle keep-alive connection closes after 30 s, and a closing client gets
        // 5 s to read the answer. The body's own bound is `body_deadline`.
        .client_request_timeout(std::time::Duration::from_secs(10))
        .client_disconnect_timeout(std::time::Duration::from_secs(5))
        .keep_alive(std::time::Duration::from_secs(30));
        if let Some(workers) = settings.workers {
            server = server.workers(workers.max(1));
        }
        Ok(Self {
            port,
            server: server.run(),
            db,
        })
    }

    /// The port the server listens on (useful with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The connection pool (tests inspect persistence through it).
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM or a stop through the handle; in-flight requests get
    /// the shutdown timeout to finish. Then the audit rows their commits left to the sealer
    /// are sealed (PostgreSQL), so a server stopped cleanly leaves the chain whole.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        if let Err(error) = crate::audit::seal_pending(&self.db).await {
            tracing::warn!(%error, "audit rows left for the next start to seal");
        }
        served
    }
}
