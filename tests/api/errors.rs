//! Every error is RFC 9457 problem+json: unknown routes, wrong methods, bad bodies.

use crate::helpers::spawn_app;

#[tokio::test]
async fn an_unknown_route_is_404_problem() {
    let app = spawn_app().await;

    let response = app.get("/api/v1/no-such-thing").await;

    response.assert_problem(404, "not_found");
}

#[tokio::test]
async fn a_wrong_method_is_405_problem_with_allow() {
    let app = spawn_app().await;

    let response = app.post_raw("/healthz", "application/json", "{}").await;

    response.assert_problem(405, "method_not_allowed");
    assert_eq!(response.header("allow"), Some("GET"));
}

#[tokio::test]
async fn a_wrong_method_on_the_spec_document_is_405() {
    let app = spawn_app().await;

    let response = app
        .send(reqwest::Method::DELETE, "/api-docs/openapi.json", |r| r)
        .await;

    response.assert_problem(405, "method_not_allowed");
}
