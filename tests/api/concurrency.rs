//! Many writers at once: optimistic concurrency with sixteen writers of one version (of a
//! household and of an issue), SQLite's connection settings read back from the server's own
//! pool, and many concurrent read-then-write requests with no 5xx and no "database is
//! locked". Everything runs on both engines except the SQLite settings.

use futures_util::future::join_all;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, TestResponse, demo_id, on_postgres, spawn_app, villages};

/// How many requests race for one version.
const WRITERS: usize = 16;

/// `method path` with a token, an `If-Match` and a JSON body.
async fn send_if_match(
    app: &TestApp,
    method: reqwest::Method,
    token: &str,
    path: &str,
    if_match: &str,
    body: Value,
) -> TestResponse {
    let (token, if_match) = (token.to_owned(), if_match.to_owned());
    app.send(method, path, move |request| {
        request
            .bearer_auth(token)
            .header("if-match", if_match)
            .json(&body)
    })
    .await
}

/// The statuses of `responses`, counted: (200s, 412s).
fn winners_and_stale(responses: &[TestResponse]) -> (usize, usize) {
    let won = responses.iter().filter(|r| r.status == 200).count();
    let stale = responses.iter().filter(|r| r.status == 412).count();
    (won, stale)
}

#[tokio::test]
async fn sixteen_writers_of_one_household_version_leave_one_winner_and_fifteen_412s() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let path = format!(
        "/api/v1/households/{}",
        demo_id(&format!("household:{}:3", villages::DONGGUAN))
    );
    let read = app.get_as(&cadre, &path).await;
    assert_eq!(read.status, 200, "{}", read.text);
    let version = read.json()["version"].as_i64().expect("version");
    let etag = read.header("etag").expect("ETag").to_owned();
    assert_eq!(etag, format!("\"{version}\""));

    // Each writer changes something different, so no write is a no-op.
    let responses = join_all((0..WRITERS).map(|writer| {
        send_if_match(
            &app,
            reqwest::Method::PATCH,
            &cadre,
            &path,
            &etag,
            json!({"notes": format!("第{writer}位写者")}),
        )
    }))
    .await;

    let (won, stale) = winners_and_stale(&responses);
    assert_eq!(
        (won, stale),
        (1, WRITERS - 1),
        "statuses: {:?}",
        responses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for refused in responses.iter().filter(|r| r.status == 412) {
        refused.assert_problem(412, "version_mismatch");
        assert_eq!(refused.json()["current_version"], version + 1);
    }
    let winner = responses
        .iter()
        .find(|r| r.status == 200)
        .expect("a winner")
        .json();
    let stored = app.get_as(&cadre, &path).await.json();
    assert_eq!(stored["version"], version + 1, "one new version, not more");
    assert_eq!(
        stored["notes"], winner["notes"],
        "the winner's change is stored"
    );
    let household_id = stored["id"].as_str().expect("id");
    let trail = app
        .get_as(
            &app.token_for("admin").await,
            &format!("/api/v1/audit?entity_type=household&entity_id={household_id}"),
        )
        .await;
    assert_eq!(trail.status, 200, "{}", trail.text);
    let updates = trail.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|entry| entry["action"] == "household.update")
        .count();
    assert_eq!(updates, 1, "one audit row: the refused writers wrote none");
}

#[tokio::test]
async fn sixteen_progress_steps_on_one_issue_version_leave_one_winner_and_fifteen_412s() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let deadline = (chrono::Utc::now().date_naive() + chrono::Days::new(20)).to_string();
    let issue_id = Uuid::new_v4();
    let recorded = app
        .post_json(
            Some(&cadre),
            "/api/v1/visits",
            &json!({
                "id": Uuid::new_v4(),
                "household_id": demo_id(&format!("household:{}:4", villages::DONGGUAN)),
                "channel": "door_to_door", "visited_at": chrono::Utc::now().to_rfc3339(),
                "service_card_given": true,
                "issues": [{"id": issue_id, "category": "practical_difficulty",
                            "matter": "村口路灯坏了", "deadline": deadline}],
            }),
        )
        .await;
    assert_eq!(recorded.status, 201, "{}", recorded.text);
    let path = format!("/api/v1/issues/{issue_id}");
    let read = app.get_as(&cadre, &path).await;
    assert_eq!(read.status, 200, "{}", read.text);
    let version = read.json()["version"].as_i64().expect("version");
    let etag = read.header("etag").expect("ETag").to_owned();

    let progress = format!("{path}/progress");
    let responses = join_all((0..WRITERS).map(|writer| {
        send_if_match(
            &app,
            reqwest::Method::POST,
            &cadre,
            &progress,
            &etag,
            json!({"note": format!("第{writer}次办理")}),
        )
    }))
    .await;

    let (won, stale) = winners_and_stale(&responses);
    assert_eq!(
        (won, stale),
        (1, WRITERS - 1),
        "statuses: {:?}",
        responses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for refused in responses.iter().filter(|r| r.status == 412) {
        refused.assert_problem(412, "version_mismatch");
        assert_eq!(refused.json()["current_version"], version + 1);
    }
    let stored = app.get_as(&cadre, &path).await.json();
    assert_eq!(stored["version"], version + 1, "one new version, not more");
    assert_eq!(stored["status"], "in_progress");
    let events = stored["events"].as_array().expect("events");
    assert_eq!(events.len(), 2, "created + one progress note: {events:?}");
}

/// Reads one PRAGMA on a connection (its first column, as text).
async fn pragma(txn: &sea_orm::DatabaseTransaction, name: &str) -> String {
    use sea_orm::{ConnectionTrait, Statement};
    let row = txn
        .query_one_raw(Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            format!("PRAGMA {name}"),
        ))
        .await
        .expect("pragma")
        .expect("a row");
    row.try_get_by_index::<String>(0)
        .or_else(|_| {
            row.try_get_by_index::<i64>(0)
                .map(|value| value.to_string())
        })
        .expect("a value")
}

/// The settings are per connection, so each connection of the pool is asked: the test holds
/// as many transactions open at once as the pool has connections (4 in the tests), which
/// makes them four different connections, opened by `db::connect` as the server opens them.
#[tokio::test]
async fn every_sqlite_connection_of_the_servers_pool_has_wal_foreign_keys_a_busy_timeout_normal_sync_and_no_checkpoint_in_commits()
 {
    use sea_orm::TransactionTrait;
    if on_postgres() {
        // SQLite's settings; PostgreSQL keeps its defaults (ARCHITECTURE.md).
        return;
    }
    let app = spawn_app().await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(app.db.begin().await.expect("a connection of the pool"));
    }

    for (index, txn) in held.iter().enumerate() {
        assert_eq!(
            pragma(txn, "journal_mode").await,
            "wal",
            "connection {index}"
        );
        assert_eq!(pragma(txn, "foreign_keys").await, "1", "connection {index}");
        let busy: i64 = pragma(txn, "busy_timeout")
            .await
            .parse()
            .expect("milliseconds");
        assert!(busy > 0, "connection {index}: busy_timeout {busy}");
        // 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA.
        assert_eq!(pragma(txn, "synchronous").await, "1", "connection {index}");
        // Commits never copy the log into the file: the checkpointer does, in the background.
        assert_eq!(
            pragma(txn, "wal_autocheckpoint").await,
            "0",
            "connection {index}"
        );
    }
    for txn in held {
        txn.rollback().await.expect("rollback");
    }
}

/// The server's connections leave committed pages in the write-ahead log; its checkpointer
/// copies them into the database file shortly after the commits.
#[tokio::test]
async fn committed_pages_reach_the_sqlite_file_in_the_background() {
    use sea_orm::ConnectionTrait;
    if on_postgres() {
        return;
    }
    let app = spawn_app().await;
    let url = app.db_url();
    let path = url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .expect("a path")
        .to_owned();
    let file_size = || std::fs::metadata(&path).expect("the database file").len();
    let wal_size = || {
        std::fs::metadata(format!("{path}-wal"))
            .map(|meta| meta.len())
            .unwrap_or(0)
    };
    // Copies what the migrations left in the log, so the file's size is measured after it.
    app.db
        .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
        .await
        .expect("checkpoint");
    let before = file_size();

    app.seed().await;
    let admin = app.token_for("admin").await;
    let written = app
        .post_json(
            Some(&admin),
            "/api/v1/departments",
            &json!({"name": "县水务局", "code": "371526-water", "org_unit_id": demo_id("371526")}),
        )
        .await;
    let in_log = wal_size();
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let after = file_size();

    assert_eq!(written.status, 201, "{}", written.text);
    assert!(in_log > 0, "the commits went to the log first");
    assert!(
        after > before,
        "the file grew from {before} to {after} bytes (log {in_log} bytes)"
    );
}

/// The SQLite linked into the server is built with the options of `.cargo/config.toml`: plans
/// that never look at bound values (else every statement with a bound `LIMIT` is parsed again
/// on each run) and no global memory statistics (a process-wide mutex on every allocation).
#[tokio::test]
async fn the_bundled_sqlite_plans_without_bound_values_and_keeps_no_memory_statistics() {
    if on_postgres() {
        return;
    }
    let app = spawn_app().await;
    let used = async |option: &str| {
        app.scalar(&format!(
            "SELECT sqlite_compileoption_used('{option}') AS n"
        ))
        .await
    };

    assert_eq!(
        used("ENABLE_QPSG").await,
        1,
        "the planner's stability guarantee"
    );
    assert_eq!(used("DEFAULT_MEMSTATUS=0").await, 1, "no memory statistics");
}

/// Each of 64 clients creates a household, reads it back and changes it with the version it
/// read: three read-then-write transactions (the create reads the village first) per client,
/// all at once. On SQLite a deferred transaction that reads and then writes can fail with
/// "database is locked" whatever the busy timeout; `db::begin_write` starts them `IMMEDIATE`.
#[tokio::test]
async fn sixty_four_concurrent_creates_and_updates_give_no_5xx_and_no_locked_database() {
    const CLIENTS: usize = 64;
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let official = app.token_for("official1").await;
    let households_before = app.scalar("SELECT COUNT(*) AS n FROM households").await;

    let outcomes = join_all((0..CLIENTS).map(|client| {
        let (app, cadre, official) = (&app, &cadre, &official);
        async move {
            let token = if client % 2 == 0 { cadre } else { official };
            let id = Uuid::new_v4();
            let created = app
                .post_json(
                    Some(token),
                    "/api/v1/households",
                    &json!({"id": id, "village_id": demo_id(villages::DONGGUAN),
                            "head_name": format!("并发户{client}"), "members_count": 3}),
                )
                .await;
            let path = format!("/api/v1/households/{id}");
            let read = app.get_as(token, &path).await;
            let etag = read.header("etag").unwrap_or("\"0\"").to_owned();
            let updated = send_if_match(
                app,
                reqwest::Method::PATCH,
                token,
                &path,
                &etag,
                json!({"members_count": 4, "notes": format!("第{client}户已核实")}),
            )
            .await;
            vec![created, read, updated]
        }
    }))
    .await;

    let mut failures = Vec::new();
    for (client, responses) in outcomes.iter().enumerate() {
        for (step, (response, expected)) in responses.iter().zip([201, 200, 200]).enumerate() {
            let locked = response.text.to_lowercase().contains("locked")
                || response.text.to_lowercase().contains("busy");
            if response.status != expected || locked {
                failures.push(format!(
                    "client {client} step {step}: {} {}",
                    response.status, response.text
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(
        app.scalar("SELECT COUNT(*) AS n FROM households").await,
        households_before + CLIENTS as i64
    );
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) AS n FROM households WHERE head_name LIKE '并发户%' \
             AND version = 2 AND members_count = 4"
        )
        .await,
        CLIENTS as i64,
        "every update landed once"
    );
}

/// SQLite writers take turns, each waiting at most the same time for its turn. A writer that
/// has used up its wait already (a single visit its group left out) is refused at once while
/// another holds the turn, and the next writer is served once it is free.
#[tokio::test]
async fn a_writer_with_no_wait_left_is_refused_at_once_while_another_holds_the_turn() {
    if on_postgres() {
        // PostgreSQL writers do not take turns.
        return;
    }
    let app = spawn_app().await;
    let holder = api::db::begin_write(&app.db).await.expect("the turn");

    let began = std::time::Instant::now();
    let refused = api::db::begin_write_within(&app.db, std::time::Duration::ZERO).await;
    let waited = began.elapsed();

    let error = api::error::ApiError::from(refused.err().expect("refused while the turn is held"));
    assert_eq!(
        actix_web::ResponseError::status_code(&error),
        actix_web::http::StatusCode::SERVICE_UNAVAILABLE
    );
    assert!(
        waited < std::time::Duration::from_secs(1),
        "refused at once, not after {waited:?}"
    );
    drop(holder);
    let next = api::db::begin_write(&app.db).await;
    assert!(
        next.is_ok(),
        "the next writer gets the turn once it is free"
    );
}
