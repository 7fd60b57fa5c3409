//! Body limits, exactly: each route's documented limit is accepted, and one byte (or one
//! record) more is refused with 413 problem+json before anything is written. The limits are
//! the code's own constants: the sync push 4 MiB and 1,000 records (`api::sync::push`), the
//! CSV import 32 MiB (`api::import`), and 64 KiB for the JSON body of every other route
//! (`api::startup::DEFAULT_JSON_LIMIT`).
//!
//! The big bodies are built in memory. A body exactly at a limit is a valid request padded
//! with whitespace (JSON) or empty lines (CSV, which the import skips), so the request at the
//! limit succeeds and the one byte more differs from it only in its size.

use api::{import::MAX_IMPORT_BYTES, startup::DEFAULT_JSON_LIMIT, sync::push};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{TestApp, TestResponse, demo_id, spawn_app, villages};

/// Rows of the tables a refused request could have written, and the audit trail.
async fn written(app: &TestApp) -> [i64; 4] {
    [
        app.count("households").await,
        app.count("visits").await,
        app.count("issues").await,
        app.count("audit_log").await,
    ]
}

/// `body` followed by spaces up to exactly `size` bytes (JSON allows trailing whitespace).
fn padded(body: &Value, size: usize) -> String {
    let mut text = body.to_string();
    assert!(text.len() <= size, "the body itself is over {size} bytes");
    text.extend(std::iter::repeat_n(' ', size - text.len()));
    text
}

/// Sends `body` as is (no re-encoding), with a bearer token and a content type.
async fn send_raw(
    app: &TestApp,
    token: &str,
    path: &str,
    content_type: &str,
    body: String,
) -> TestResponse {
    let (token, content_type) = (token.to_owned(), content_type.to_owned());
    app.send(reqwest::Method::POST, path, move |request| {
        request
            .bearer_auth(token)
            .header("content-type", content_type)
            .header("x-device-id", "limits-phone")
            .body(body)
    })
    .await
}

fn visit(household: &str, index: usize) -> Value {
    json!({
        "id": Uuid::new_v4(),
        "household_id": demo_id(&format!("household:{household}:{}", index % 50)),
        "channel": "door_to_door",
        "visited_at": 1_780_000_000_000_i64 + index as i64 * 60_000,
        "service_card_given": true,
    })
}

fn visits_push(visits: Vec<Value>) -> Value {
    json!({"changes": {"visits": {"created": visits, "updated": [], "deleted": []}}})
}

const PUSH: &str = "/api/v1/sync/push?last_pulled_at=0";

#[tokio::test]
async fn a_sync_push_of_exactly_four_mebibytes_is_applied_and_one_byte_more_is_413_writing_nothing()
{
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    assert_eq!(push::MAX_BYTES, 4 * 1024 * 1024, "the documented limit");

    let before = written(&app).await;
    let over = send_raw(
        &app,
        &cadre,
        PUSH,
        "application/json",
        padded(
            &visits_push(vec![visit(villages::DONGGUAN, 1)]),
            push::MAX_BYTES + 1,
        ),
    )
    .await;
    let after_refusal = written(&app).await;
    let at_limit = send_raw(
        &app,
        &cadre,
        PUSH,
        "application/json",
        padded(
            &visits_push(vec![visit(villages::DONGGUAN, 2)]),
            push::MAX_BYTES,
        ),
    )
    .await;

    over.assert_problem(413, "payload_too_large");
    assert_eq!(after_refusal, before, "the refused push wrote nothing");
    assert_eq!(at_limit.status, 200, "{}", at_limit.text);
    assert_eq!(
        app.count("visits").await,
        before[1] + 1,
        "the push at the limit was applied"
    );
}

#[tokio::test]
async fn a_sync_push_of_exactly_a_thousand_records_is_applied_and_one_more_is_413_writing_nothing()
{
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    assert_eq!(push::MAX_RECORDS, 1000, "the documented limit");
    let batch = |size: usize| {
        visits_push(
            (0..size)
                .map(|index| visit(villages::DONGGUAN, index))
                .collect(),
        )
        .to_string()
    };

    let before = written(&app).await;
    let over = send_raw(
        &app,
        &cadre,
        PUSH,
        "application/json",
        batch(push::MAX_RECORDS + 1),
    )
    .await;
    let after_refusal = written(&app).await;
    let at_limit = send_raw(
        &app,
        &cadre,
        PUSH,
        "application/json",
        batch(push::MAX_RECORDS),
    )
    .await;

    over.assert_problem(413, "payload_too_large");
    assert_eq!(after_refusal, before, "the refused push wrote nothing");
    assert_eq!(at_limit.status, 200, "{}", at_limit.text);
    assert_eq!(at_limit.json()["applied"], 1000, "{}", at_limit.text);
    assert_eq!(app.count("visits").await, before[1] + 1000);
}

/// A roster of one valid row, followed by empty lines up to exactly `size` bytes.
fn roster_of_size(head_name: &str, size: usize) -> String {
    let mut csv = format!("村,户主姓名,联系电话\n东关村,{head_name},13900000001\n");
    assert!(csv.len() <= size);
    csv.extend(std::iter::repeat_n('\n', size - csv.len()));
    csv
}

#[tokio::test]
async fn a_csv_import_of_exactly_thirty_two_mebibytes_is_read_and_one_byte_more_is_413_writing_nothing()
 {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    assert_eq!(MAX_IMPORT_BYTES, 32 * 1024 * 1024, "the documented limit");
    let import = "/api/v1/households/import";

    let before = written(&app).await;
    let over = send_raw(
        &app,
        &admin,
        import,
        "text/csv",
        roster_of_size("超限户", MAX_IMPORT_BYTES + 1),
    )
    .await;
    let after_refusal = written(&app).await;
    let at_limit = send_raw(
        &app,
        &admin,
        import,
        "text/csv",
        roster_of_size("限内户", MAX_IMPORT_BYTES),
    )
    .await;

    over.assert_problem(413, "payload_too_large");
    assert_eq!(after_refusal, before, "the refused import wrote nothing");
    assert_eq!(at_limit.status, 200, "{}", at_limit.text);
    let report = at_limit.json();
    assert_eq!(report["rows"], 1, "empty lines are not rows: {report}");
    assert_eq!(report["created"], 1, "{report}");
    assert_eq!(app.count("households").await, before[0] + 1);
}

#[tokio::test]
async fn an_ordinary_json_body_of_exactly_sixty_four_kibibytes_is_read_and_one_byte_more_is_413_writing_nothing()
 {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    assert_eq!(DEFAULT_JSON_LIMIT, 64 * 1024, "the documented limit");
    let household =
        |name: &str| json!({"village_id": demo_id(villages::DONGGUAN), "head_name": name});

    let before = written(&app).await;
    let over = send_raw(
        &app,
        &cadre,
        "/api/v1/households",
        "application/json",
        padded(&household("超限户"), DEFAULT_JSON_LIMIT + 1),
    )
    .await;
    let after_refusal = written(&app).await;
    let at_limit = send_raw(
        &app,
        &cadre,
        "/api/v1/households",
        "application/json",
        padded(&household("限内户"), DEFAULT_JSON_LIMIT),
    )
    .await;

    over.assert_problem(413, "payload_too_large");
    assert_eq!(after_refusal, before, "the refused request wrote nothing");
    assert_eq!(at_limit.status, 201, "{}", at_limit.text);
    assert_eq!(app.count("households").await, before[0] + 1);
}

/// `Idempotency-Key` makes the server read the whole body to fingerprint it before the
/// route sees it; that must not put a limit of its own in front of the route's.
#[tokio::test]
async fn an_idempotency_key_neither_lowers_nor_raises_the_import_limit() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let import_with_key = |key: &'static str, csv: String| {
        let token = admin.clone();
        app.send(
            reqwest::Method::POST,
            "/api/v1/households/import",
            move |request| {
                request
                    .bearer_auth(token)
                    .header("content-type", "text/csv")
                    .header("idempotency-key", key)
                    .body(csv)
            },
        )
    };

    let before = written(&app).await;
    let over = import_with_key("over", roster_of_size("超限户", MAX_IMPORT_BYTES + 1)).await;
    let after_refusal = written(&app).await;
    let at_limit = import_with_key("at-limit", roster_of_size("限内户", MAX_IMPORT_BYTES)).await;

    over.assert_problem(413, "payload_too_large");
    assert!(
        over.json()["detail"]
            .as_str()
            .is_some_and(|detail| detail.contains(&MAX_IMPORT_BYTES.to_string())),
        "the problem names the import's own limit: {}",
        over.text
    );
    assert_eq!(after_refusal, before, "the refused import wrote nothing");
    assert_eq!(at_limit.status, 200, "{}", at_limit.text);
    assert_eq!(at_limit.json()["created"], 1, "{}", at_limit.text);
}
