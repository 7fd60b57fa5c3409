//! API tokens for scripts and dashboards.

use serde_json::json;

use crate::helpers::{demo_id, spawn_app};

#[tokio::test]
async fn a_viewer_token_reads_within_its_scope_records_its_use_and_stops_when_revoked() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;

    let created = app
        .post_json(
            Some(&admin),
            "/api/v1/api-tokens",
            &json!({"name": "镇大屏", "role": "viewer", "scope_org_unit_id": demo_id("371526101")}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let body = created.json();
    let token = body["token"].as_str().expect("token").to_owned();
    let id = body["api_token"]["id"].as_str().expect("id").to_owned();

    let units = app.get_as(&token, "/api/v1/org-units?kind=village").await;
    let listed = app.get_as(&admin, "/api/v1/api-tokens").await;
    let revoke = app
        .call(
            reqwest::Method::DELETE,
            Some(&admin),
            &format!("/api/v1/api-tokens/{id}"),
            None,
        )
        .await;
    let after = app.get_as(&token, "/api/v1/org-units").await;

    assert!(token.starts_with("mqt_"));
    assert_eq!(units.status, 200);
    assert_eq!(
        units.json()["items"].as_array().expect("items").len(),
        3,
        "西河镇 has three villages"
    );
    assert!(
        !listed.text.contains(&token),
        "the secret is shown once only"
    );
    assert!(
        listed.json()["items"][0]["last_used_at"].is_string(),
        "use is recorded: {}",
        listed.text
    );
    assert_eq!(revoke.status, 204);
    after.assert_problem(401, "unauthorized");
}

#[tokio::test]
async fn tokens_are_admin_or_viewer_only_and_an_api_token_cannot_mint_another() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;

    let cadre_token = app
        .post_json(
            Some(&admin),
            "/api/v1/api-tokens",
            &json!({"name": "x", "role": "cadre"}),
        )
        .await;
    let admin_token = app
        .post_json(
            Some(&admin),
            "/api/v1/api-tokens",
            &json!({"name": "script", "role": "admin"}),
        )
        .await;
    let script = admin_token.json()["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let minted = app
        .post_json(
            Some(&script),
            "/api/v1/api-tokens",
            &json!({"name": "y", "role": "viewer"}),
        )
        .await;
    let expired = app
        .post_json(
            Some(&admin),
            "/api/v1/api-tokens",
            &json!({"name": "z", "role": "viewer", "expires_at": "2020-01-01T00:00:00Z"}),
        )
        .await;

    cadre_token.assert_problem(422, "validation_failed");
    assert_eq!(admin_token.status, 201);
    minted.assert_problem(403, "forbidden");
    expired.assert_problem(422, "validation_failed");
}
