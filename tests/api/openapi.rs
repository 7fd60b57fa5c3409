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
