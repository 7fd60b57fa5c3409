//! Faults: a database that stops answering gives 503 problem+json quickly, and the server
//! recovers by itself when it answers again.

use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Database, TransactionTrait};
use serde_json::json;

use crate::helpers::{demo_id, on_postgres, spawn_app, villages};

#[tokio::test]
async fn a_locked_database_answers_503_within_the_timeout_and_recovers_without_a_restart() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let household =
        |name: &str| json!({"village_id": demo_id(villages::DONGGUAN), "head_name": name});

    // Another program takes the database (SQLite: an exclusive lock on the file; PostgreSQL:
    // an exclusive lock on the households table) and holds it.
    let url = app.db_url();
    let intruder = Database::connect(url.as_str())
        .await
        .expect("second connection");
    let locking = intruder.begin().await.expect("begin");
    if on_postgres() {
        locking
            .execute_unprepared("LOCK TABLE households IN ACCESS EXCLUSIVE MODE")
            .await
            .expect("lock");
    } else {
        locking
            .execute_unprepared("INSERT INTO sync_counter (id, value) VALUES (2, 0)")
            .await
            .expect("take the write lock");
    }
    let began = Instant::now();
    let during = app
        .post_json(Some(&cadre), "/api/v1/households", &household("锁期间"))
        .await;
    let waited = began.elapsed();
    locking.rollback().await.expect("release");
    intruder.close().await.ok();
    let after = app
        .post_json(Some(&cadre), "/api/v1/households", &household("锁之后"))
        .await;

    during.assert_problem(503, "service_unavailable");
    assert!(during.header("retry-after").is_some());
    assert!(
        !during.text.contains("locked") && !during.text.contains("LOCK"),
        "no database text in the body: {}",
        during.text
    );
    assert!(
        waited < Duration::from_secs(10),
        "answered within the timeout, not hung: {waited:?}"
    );
    assert_eq!(after.status, 201, "recovered by itself: {}", after.text);
    assert_eq!(app.get("/readyz").await.status, 200);
}
