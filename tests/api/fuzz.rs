//! Parser fuzzing through the real server: arbitrary sync push bodies, sync cursors, list
//! cursors, months and CSV files are answered with a 2xx or a 4xx problem, never a 5xx, and a
//! refused push writes nothing. The values come from proptest's deterministic runner (fixed
//! seed), a few dozen per parser so the test takes seconds; the parsers themselves get
//! hundreds of cases each in the `api` crate's unit tests (`import::proptests`,
//! `sync::push::proptests`, `fuzz`).

use proptest::{
    prelude::*,
    strategy::{Strategy, ValueTree},
    test_runner::TestRunner,
};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestResponse, demo_id, spawn_app, villages};

/// `count` values of `strategy`, the same on every run.
fn samples<S: Strategy>(strategy: S, count: usize) -> Vec<S::Value> {
    let mut runner = TestRunner::deterministic();
    (0..count)
        .map(|_| strategy.new_tree(&mut runner).expect("a value").current())
        .collect()
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |number| {
            serde_json::Number::from_f64(number).map(Value::Number)
        }),
        ".{0,16}".prop_map(Value::String),
        Just(json!(demo_id(&format!(
            "household:{}:0",
            villages::DONGGUAN
        )))),
        Just(json!("door_to_door")),
        Just(json!("progress")),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("id".to_owned()),
                    Just("household_id".to_owned()),
                    Just("visit_id".to_owned()),
                    Just("issue_id".to_owned()),
                    Just("visited_at".to_owned()),
                    Just("channel".to_owned()),
                    Just("kind".to_owned()),
                    Just("village_id".to_owned()),
                    Just("head_name".to_owned()),
                    ".{0,8}",
                ],
                inner,
                0..6
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Push bodies: noise, and the right shape with noise for records.
fn push_body() -> impl Strategy<Value = Value> {
    let table = prop_oneof![
        Just("households"),
        Just("visits"),
        Just("issues"),
        Just("issue_events"),
        Just("pairings"),
        Just("villages"),
        Just("nonsense"),
    ];
    let shaped = prop::collection::btree_map(
        table,
        (
            prop::collection::vec(json_value(), 0..3),
            prop::collection::vec(json_value(), 0..3),
            prop::collection::vec(json_value(), 0..2),
        ),
        0..4,
    )
    .prop_map(|tables| {
        let changes: serde_json::Map<String, Value> = tables
            .into_iter()
            .map(|(table, (created, updated, deleted))| {
                (
                    table.to_owned(),
                    json!({"created": created, "updated": updated, "deleted": deleted}),
                )
            })
            .collect();
        json!({ "changes": changes })
    });
    prop_oneof![1 => json_value(), 2 => shaped]
}

/// Answered, not failed: below 500, and an error is problem+json.
pub(crate) fn assert_answered(response: &TestResponse, case: &str) {
    assert!(
        response.status < 500,
        "{case}: {} {}",
        response.status,
        response.text
    );
    if response.status >= 400 {
        assert_eq!(
            response.header("content-type"),
            Some("application/problem+json"),
            "{case}: {}",
            response.text
        );
    }
}

async fn written(app: &TestApp) -> (i64, i64, i64, i64, u64) {
    let mut counts = Vec::new();
    for table in ["households", "visits", "issues", "issue_events"] {
        counts.push(app.count(table).await);
    }
    (
        counts[0],
        counts[1],
        counts[2],
        counts[3],
        app.audit_count().await,
    )
}

#[tokio::test]
async fn arbitrary_push_bodies_are_refused_as_problems_and_write_nothing() {
    let app = spawn_app().await;
    app.seed().await;
    let token = app.token_for("cadre1").await;
    let before = written(&app).await;
    let mut applied = 0;

    for (index, body) in samples(push_body(), 64).into_iter().enumerate() {
        let text = serde_json::to_string(&body).expect("json");
        let token = token.clone();
        let response = app
            .send(
                reqwest::Method::POST,
                "/api/v1/sync/push?last_pulled_at=0",
                move |request| {
                    request
                        .bearer_auth(token)
                        .header("x-device-id", "fuzz-phone")
                        .header("content-type", "application/json")
                        .body(text)
                },
            )
            .await;
        assert_answered(&response, &format!("push {index}: {body}"));
        if response.status == 200 {
            applied += response.json()["applied"].as_u64().unwrap_or_default();
        }
    }

    assert_eq!(
        applied, 0,
        "noise is never a record the server writes (else the counts below move)"
    );
    assert_eq!(written(&app).await, before, "refused pushes wrote nothing");
}

#[tokio::test]
async fn arbitrary_cursors_months_and_sync_timestamps_are_answered_never_a_5xx() {
    let app = spawn_app().await;
    app.seed().await;
    let leader = app.token_for("leader1").await;
    let cadre = app.token_for("cadre1").await;
    let texts = samples(
        prop_oneof![
            ".{0,30}",
            "[0-9-]{0,20}",
            "-?[0-9]{1,25}",
            "[0-9]{4}-[0-9]{2}-[0-9]{2}~[0-9a-f-]{0,36}",
            Just("null".to_owned()),
            Just(" 12 ".to_owned()),
            Just("9223372036854775807".to_owned()),
            Just("-9223372036854775808".to_owned()),
        ],
        48,
    );
    let months = samples("[0-9A-Za-z+._~-]{0,10}", 32);

    for text in &texts {
        for (token, path, parameter) in [
            (&cadre, "/api/v1/sync/pull", "last_pulled_at"),
            (&leader, "/api/v1/issues", "cursor"),
            (&leader, "/api/v1/households", "cursor"),
            (&leader, "/api/v1/visits", "cursor"),
            (&leader, "/api/v1/org-units", "cursor"),
        ] {
            let (token, parameter, value) = (token.clone(), parameter, text.clone());
            let response = app
                .send(reqwest::Method::GET, path, move |request| {
                    request
                        .bearer_auth(token)
                        .header("x-device-id", "fuzz-phone")
                        .query(&[(parameter, value)])
                })
                .await;
            assert_answered(&response, &format!("{path}?{parameter}={text:?}"));
            assert!(
                matches!(response.status, 200 | 409 | 422 | 400),
                "{path}?{parameter}={text:?}: {}",
                response.status
            );
        }
    }
    for month in &months {
        for path in [
            format!("/api/v1/ledger/monthly/{month}"),
            format!("/api/v1/ledger/monthly/{month}/export?format=csv"),
        ] {
            let response = app.get_as(&leader, &path).await;
            assert_answered(&response, &path);
        }
    }
}

#[tokio::test]
async fn arbitrary_csv_files_get_a_report_never_a_5xx() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let files = samples(
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..600),
            ".{0,200}"
                .prop_map(|text| format!("村,户主姓名,联系电话,身份证号\n{text}").into_bytes()),
            prop::collection::vec(any::<u8>(), 0..300).prop_map(|garbage| {
                let mut file =
                    b"\xEF\xBB\xBF\xE6\x9D\x91,\xE6\x88\xB7\xE4\xB8\xBB\xE5\xA7\x93\xE5\x90\x8D\n"
                        .to_vec();
                file.extend(garbage);
                file
            }),
        ],
        40,
    );
    let households = |app: &TestApp| {
        let db = app.db.clone();
        async move {
            use sea_orm::{EntityTrait, PaginatorTrait};
            entity::household::Entity::find()
                .count(&db)
                .await
                .expect("count")
        }
    };
    let before = households(&app).await;

    for (index, file) in files.into_iter().enumerate() {
        let token = admin.clone();
        let response = app
            .send(
                reqwest::Method::POST,
                "/api/v1/households/import?dry_run=true",
                move |request| {
                    request
                        .bearer_auth(token)
                        .header("content-type", "text/csv")
                        .body(file)
                },
            )
            .await;
        assert_answered(&response, &format!("file {index}"));
        assert!(
            matches!(response.status, 200 | 422),
            "file {index}: {} {}",
            response.status,
            response.text
        );
    }

    assert_eq!(households(&app).await, before, "a dry run writes nothing");
}
