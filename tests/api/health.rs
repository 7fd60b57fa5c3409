//! Liveness and readiness.

use crate::helpers::{on_postgres, spawn_app};

#[tokio::test]
async fn healthz_answers_ok_without_a_token() {
    let app = spawn_app().await;

    let response = app.get("/healthz").await;

    assert_eq!(response.status, 200);
    assert_eq!(response.json()["status"], "ok");
    assert!(
        response.header("x-request-id").is_some(),
        "every response carries a request id"
    );
}

#[tokio::test]
async fn readyz_reports_a_migrated_database_of_the_right_engine() {
    let app = spawn_app().await;

    let response = app.get("/readyz").await;

    assert_eq!(response.status, 200, "{}", response.text);
    let expected = if on_postgres() { "postgres" } else { "sqlite" };
    assert_eq!(response.json()["database"], expected);
}

#[tokio::test]
async fn readyz_is_503_problem_when_a_migration_is_missing() {
    use migration::MigratorTrait;
    let app = spawn_app().await;
    migration::Migrator::down(&app.db, Some(1))
        .await
        .expect("roll back one migration");

    let response = app.get("/readyz").await;

    response.assert_problem(503, "service_unavailable");
    assert!(response.header("retry-after").is_some());
}

#[tokio::test]
async fn a_caller_supplied_request_id_is_echoed_and_a_bad_one_replaced() {
    let app = spawn_app().await;

    let kept = app
        .send(reqwest::Method::GET, "/healthz", |request| {
            request.header("x-request-id", "abc-123")
        })
        .await;
    let replaced = app
        .send(reqwest::Method::GET, "/healthz", |request| {
            request.header("x-request-id", "has spaces and is not sane")
        })
        .await;

    assert_eq!(kept.header("x-request-id"), Some("abc-123"));
    let replacement = replaced.header("x-request-id").expect("request id");
    assert!(
        uuid::Uuid::parse_str(replacement).is_ok(),
        "a fresh UUID, got {replacement}"
    );
}

#[tokio::test]
async fn the_seed_is_idempotent_and_fills_the_ledger_in_every_state() {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let app = spawn_app().await;

    let first = api::seed::seed_demo(&app.db).await.expect("first seed");
    let units = entity::org_unit::Entity::find()
        .count(&app.db)
        .await
        .expect("count");
    let households = entity::household::Entity::find()
        .count(&app.db)
        .await
        .expect("count");
    let issues = entity::issue::Entity::find()
        .all(&app.db)
        .await
        .expect("issues");
    let second = api::seed::seed_demo(&app.db).await.expect("second seed");

    assert_eq!(first.org_units_inserted, units);
    assert_eq!(units, 12, "a county, 2 towns, 3 districts and 6 villages");
    assert_eq!(households, 300);
    assert_eq!(first.issues_inserted, issues.len() as u64);
    for status in ["open", "in_progress", "resolved", "closed"] {
        assert!(
            issues
                .iter()
                .any(|issue| serde_json::to_value(issue.status).expect("status") == status),
            "{status}"
        );
    }
    assert!(issues.iter().any(|issue| issue.answered_on_spot));
    assert!(
        issues
            .iter()
            .any(|issue| issue.handler_department_id.is_some()),
        "some escalated"
    );
    let today = chrono::Utc::now().date_naive();
    assert!(
        issues
            .iter()
            .any(|issue| issue.status == entity::issue::Status::Open
                && issue.deadline.is_some_and(|deadline| deadline < today)),
        "some overdue"
    );
    let nothing = (
        second.org_units_inserted,
        second.users_inserted,
        second.households_inserted,
        second.visits_inserted,
        second.issues_inserted,
    );
    assert_eq!(nothing, (0, 0, 0, 0, 0));
    assert_eq!(
        entity::issue::Entity::find()
            .count(&app.db)
            .await
            .expect("count"),
        issues.len() as u64
    );
}
