//! The committed `openapi/openapi.json` is what the code generates and what the server serves.

use crate::helpers::spawn_app;

const COMMITTED: &str = include_str!("../../openapi/openapi.json");
const REGENERATE: &str =
    "regenerate it with `cargo run -- openapi > openapi/openapi.json` and commit";

#[test]
fn the_committed_spec_matches_the_code() {
    let generated = api::openapi::spec_json();
    if generated != COMMITTED {
        let line = generated
            .lines()
            .zip(COMMITTED.lines())
            .position(|(generated, committed)| generated != committed)
            .map_or_else(
                || "the end".to_owned(),
                |index| format!("line {}", index + 1),
            );
        panic!("openapi/openapi.json is out of date (first difference at {line}): {REGENERATE}");
    }
}

#[tokio::test]
async fn the_served_spec_is_the_committed_one() {
    let app = spawn_app().await;

    let response = app.get("/api-docs/openapi.json").await;

    assert_eq!(response.status, 200);
    let committed: serde_json::Value =
        serde_json::from_str(COMMITTED).expect("committed spec is JSON");
    // Compared as values (key order aside); the message stays short — the documents are large.
    assert!(
        response.json() == committed,
        "the served spec differs from the committed one: {REGENERATE}"
    );
}

#[test]
fn the_spec_is_openapi_3_1_and_every_operation_is_described() {
    let spec: serde_json::Value = serde_json::from_str(COMMITTED).expect("JSON");
    assert!(
        spec["openapi"]
            .as_str()
            .is_some_and(|version| version.starts_with("3.1"))
    );
    let paths = spec["paths"].as_object().expect("paths");
    assert!(!paths.is_empty());
    for (path, item) in paths {
        for (method, operation) in item.as_object().expect("path item") {
            let described = operation["description"]
                .as_str()
                .or(operation["summary"].as_str());
            assert!(
                described.is_some_and(|text| !text.is_empty()),
                "{method} {path} has no description"
            );
            assert!(
                operation["operationId"].is_string(),
                "{method} {path} has no operationId"
            );
            let responses = operation["responses"].as_object().expect("responses");
            for status in ["500", "503"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} does not document {status}"
                );
            }
        }
    }
}

#[test]
fn every_writing_transaction_commits_through_db_commit() {
    // `db::commit` stamps synced rows for the sync cursor; a bare `txn.commit()` would leave
    // them unstamped until some later transaction picked them up.
    let mut offenders = Vec::new();
    let mut stack = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/api/src"
    ))];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|extension| extension == "rs")
                && !path.ends_with("db.rs")
            {
                let text = std::fs::read_to_string(&path).expect("read");
                if text.contains(".commit().await") {
                    offenders.push(path.display().to_string());
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "commit through crate::db::commit: {offenders:?}"
    );
}
