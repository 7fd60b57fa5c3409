//! `spawn_app()`: a real server on port 0 over a database of its own — a fresh SQLite file,
//! or, when `TEST_DATABASE_URL` is set to a PostgreSQL URL, a fresh PostgreSQL database
//! created from it and dropped when the test ends.

use std::{path::PathBuf, sync::Once, time::Duration};

use api::{
    Application,
    config::{DatabaseSettings, Secret, Settings},
};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::Value;

/// A running application and a client for it.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// A client that does not follow redirects.
    pub client: reqwest::Client,
    /// The application's own pool, to look at what it stored.
    pub db: DatabaseConnection,
    server: actix_web::dev::ServerHandle,
    database_url: String,
    /// The database, dropped with the first server started on it.
    _database: Option<TestDatabase>,
}

/// A response read whole: status, headers and body.
pub struct TestResponse {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: reqwest::header::HeaderMap,
    /// Body as text.
    pub text: String,
}

impl TestResponse {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|error| panic!("body is not JSON ({error}): {}", self.text))
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// Asserts that this is an RFC 9457 problem with this status and code.
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "error without problem+json; body: {}",
            self.text
        );
        let body = self.json();
        assert_eq!(body["status"], status, "problem.status: {body}");
        assert_eq!(body["code"], code, "problem.code: {body}");
        assert!(
            body["type"].is_string() && body["title"].is_string() && body["detail"].is_string()
        );
    }
}

impl TestApp {
    /// Sends a request built by `build` (given the client and the absolute URL of `path`).
    /// A first sync push (`last_pulled_at=0`) of `changes` by `token` from the phone `device`.
    pub async fn push_as(&self, token: &str, device: &str, changes: Value) -> TestResponse {
        let (token, device) = (token.to_owned(), device.to_owned());
        self.send(
            reqwest::Method::POST,
            "/api/v1/sync/push?last_pulled_at=0",
            move |request| {
                request
                    .bearer_auth(token)
                    .header("x-device-id", device)
                    .json(&serde_json::json!({ "changes": changes }))
            },
        )
        .await
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> TestResponse {
        let request = self
            .client
            .request(method, format!("{}{path}", self.address));
        let response = build(request).send().await.expect("request failed");
        TestResponse {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            text: response.text().await.expect("body unreadable"),
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(reqwest::Method::GET, path, |request| request)
            .await
    }

    /// `POST path` with a raw body and content type.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: &str) -> TestResponse {
        let (content_type, body) = (content_type.to_owned(), body.to_owned());
        self.send(reqwest::Method::POST, path, move |request| {
            request.header("content-type", content_type).body(body)
        })
        .await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Sends the stop command now; the workers wind down on their own threads.
        drop(self.server.stop(false));
    }
}

/// The JWT secret of every test server (the forgery tests sign with it).
pub const TEST_JWT_SECRET: &str = "test-secret-that-is-long-enough-0123456789";

/// Which engine the suite runs on.
pub fn on_postgres() -> bool {
    std::env::var("TEST_DATABASE_URL").is_ok_and(|url| url.starts_with("postgres"))
}

/// Starts the application on a fresh database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the application with settings changed by `adjust`.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    init_logging();
    let database = TestDatabase::create().await;
    let mut settings = settings_for(&database.url);
    adjust(&mut settings);
    start(settings, Some(database)).await
}

/// The test settings for a server on `database_url`.
fn settings_for(database_url: &str) -> Settings {
    Settings {
        addr: "127.0.0.1:0".parse().expect("address"),
        database: DatabaseSettings {
            max_connections: 4,
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(3),
            ..DatabaseSettings::new(database_url.to_owned())
        },
        jwt_secret: Secret::new(TEST_JWT_SECRET),
        shutdown_timeout: Duration::from_secs(1),
        workers: Some(1),
        utc_offset: api::clock::CHINA_STANDARD_TIME,
        trusted_proxies: Vec::new(),
        due_soon_days: 3,
        cors_origins: Vec::new(),
    }
}

async fn start(settings: Settings, database: Option<TestDatabase>) -> TestApp {
    let database_url = settings.database.url.clone();
    let application = Application::build(settings)
        .await
        .expect("application builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    let db = application.db().clone();
    let server = application.handle();
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        db,
        server,
        database_url,
        _database: database,
    }
}

fn init_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // `TEST_LOG=debug cargo test` shows the server's logs.
        if let Ok(filter) = std::env::var("TEST_LOG") {
            api::telemetry::init(&filter, api::config::LogFormat::Text);
        }
    });
}

/// A database that exists for one test.
struct TestDatabase {
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    SqliteFile(PathBuf),
    PostgresDatabase { admin_url: String, name: String },
}

impl TestDatabase {
    async fn create() -> Self {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) if admin_url.starts_with("postgres") => {
                let name = format!("minqing_test_{unique}");
                let admin = Database::connect(admin_url.as_str())
                    .await
                    .expect("TEST_DATABASE_URL reachable");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create test database");
                admin.close().await.ok();
                Self {
                    url: replace_database_name(&admin_url, &name),
                    cleanup: Cleanup::PostgresDatabase { admin_url, name },
                }
            }
            _ => {
                let path = std::env::temp_dir().join(format!("minqing-test-{unique}.db"));
                Self {
                    url: format!("sqlite://{}?mode=rwc", path.display()),
                    cleanup: Cleanup::SqliteFile(path),
                }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            Cleanup::PostgresDatabase { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Drop cannot await; a short-lived runtime on its own thread does the work.
                let dropped = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("runtime");
                    runtime.block_on(async move {
                        if let Ok(admin) = Database::connect(admin_url.as_str()).await {
                            let _ = admin
                                .execute_unprepared(&format!(
                                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                                ))
                                .await;
                            admin.close().await.ok();
                        }
                    });
                });
                let _ = dropped.join();
            }
        }
    }
}

/// `postgres://user@host:port/db?x` with `db` replaced by `name`.
fn replace_database_name(url: &str, name: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(base, query)| (base, Some(query)));
    let authority_end = base.find("://").map_or(0, |index| index + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

/// The password of every seeded demo account.
pub const DEMO_PASSWORD: &str = "demo-password";

/// The stable id of a seeded record, from its code (`371526100201`, `user:cadre1`, …).
pub fn demo_id(code: &str) -> uuid::Uuid {
    api::seed::demo_id(code)
}

/// Village codes of the demo county.
pub mod villages {
    /// 东岭镇 东关村 (cadre1, official1).
    pub const DONGGUAN: &str = "371526100201";
    /// 东岭镇 柳树屯村 (cadre1).
    pub const LIUSHUTUN: &str = "371526100202";
    /// 东岭镇 石桥村 (nobody assigned).
    pub const SHIQIAO: &str = "371526100203";
    /// 西河镇 河湾村 (cadre2).
    pub const HEWAN: &str = "371526101201";
}

/// A signed-in session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Bearer token.
    pub access_token: String,
    /// Refresh token.
    pub refresh_token: String,
}

impl TestApp {
    /// A second server process on the same database (sharing nothing in memory with this
    /// one), as in a deployment with several instances behind a proxy.
    pub async fn second_server(&self) -> TestApp {
        start(settings_for(&self.database_url), None).await
    }

    /// Seeds the demo county, its accounts and roster (no visits or issues: tests make their
    /// own, and count them).
    pub async fn seed(&self) {
        api::seed::seed_demo_with(&self.db, api::seed::SeedOptions { ledger: false })
            .await
            .expect("seed demo data");
    }

    /// `POST /api/v1/auth/login` with a JSON body.
    pub async fn login_raw(&self, username: &str, password: &str) -> TestResponse {
        self.post_json(
            None,
            "/api/v1/auth/login",
            &serde_json::json!({"username": username, "password": password}),
        )
        .await
    }

    /// Signs in a demo account.
    pub async fn login(&self, username: &str) -> Session {
        let response = self.login_raw(username, DEMO_PASSWORD).await;
        assert_eq!(
            response.status, 200,
            "login of {username}: {}",
            response.text
        );
        let body = response.json();
        Session {
            access_token: body["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
            refresh_token: body["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_owned(),
        }
    }

    /// The access token of a demo account.
    pub async fn token_for(&self, username: &str) -> String {
        self.login(username).await.access_token
    }

    /// A request with an optional bearer token and an optional JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        token: Option<&str>,
        path: &str,
        body: Option<&Value>,
    ) -> TestResponse {
        let (token, body) = (token.map(str::to_owned), body.cloned());
        self.send(method, path, move |mut request| {
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            if let Some(body) = body {
                request = request.json(&body);
            }
            request
        })
        .await
    }

    /// `GET` with a token.
    pub async fn get_as(&self, token: &str, path: &str) -> TestResponse {
        self.call(reqwest::Method::GET, Some(token), path, None)
            .await
    }

    /// `POST` JSON, with or without a token.
    pub async fn post_json(&self, token: Option<&str>, path: &str, body: &Value) -> TestResponse {
        self.call(reqwest::Method::POST, token, path, Some(body))
            .await
    }

    /// `PATCH` JSON with a token.
    pub async fn patch_json(&self, token: &str, path: &str, body: &Value) -> TestResponse {
        self.call(reqwest::Method::PATCH, Some(token), path, Some(body))
            .await
    }

    /// Ends, as the admin holding `admin_token`, the demo `cadre`'s assignment to `village`
    /// (its code) yesterday in the township (dates are local, UTC+8): from today the village
    /// is out of the cadre's scope.
    pub async fn take_village_from(
        &self,
        admin_token: &str,
        cadre: &str,
        village: &str,
    ) -> TestResponse {
        let yesterday = today() - chrono::Days::new(1);
        self.patch_json(
            admin_token,
            &format!(
                "/api/v1/assignments/{}",
                demo_id(&format!("assignment:{cadre}:{village}"))
            ),
            &serde_json::json!({"ends_on": yesterday.to_string()}),
        )
        .await
    }

    /// Creates, as the admin holding `admin_token`, an API token of `role` scoped to the org
    /// unit with `org_unit_code`, and returns its secret: a script or wall screen of one town.
    pub async fn scoped_api_token(
        &self,
        admin_token: &str,
        role: &str,
        org_unit_code: &str,
    ) -> String {
        let created = self
            .post_json(
                Some(admin_token),
                "/api/v1/api-tokens",
                &serde_json::json!({"name": format!("{role} of {org_unit_code}"), "role": role, "scope_org_unit_id": demo_id(org_unit_code)}),
            )
            .await;
        assert_eq!(created.status, 201, "{}", created.text);
        created.json()["token"].as_str().expect("token").to_owned()
    }

    /// The URL of this test's database.
    pub fn db_url(&self) -> String {
        self.database_url.clone()
    }

    /// The integer a one-row query answers in its column `n`.
    pub async fn scalar(&self, sql: &str) -> i64 {
        use sea_orm::{ConnectionTrait, Statement};
        self.db
            .query_one_raw(Statement::from_string(
                self.db.get_database_backend(),
                sql.to_owned(),
            ))
            .await
            .expect("query")
            .expect("a row")
            .try_get::<i64>("", "n")
            .expect("n")
    }

    /// How many rows `table` has.
    pub async fn count(&self, table: &str) -> i64 {
        self.scalar(&format!("SELECT COUNT(*) AS n FROM {table}"))
            .await
    }

    /// How many audit rows exist.
    pub async fn audit_count(&self) -> u64 {
        use sea_orm::{EntityTrait, PaginatorTrait};
        entity::audit_log::Entity::find()
            .count(&self.db)
            .await
            .expect("count audit rows")
    }
}

/// Today in the township (UTC+8): dates people write are local.
pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now()
        .with_timezone(&api::clock::CHINA_STANDARD_TIME)
        .date_naive()
}

/// The demo household `index` of a village (by code).
pub fn household(village: &str, index: usize) -> uuid::Uuid {
    demo_id(&format!("household:{village}:{index}"))
}
