//! The audit trail: one row per successful mutation, none for refused ones, read-only.

use serde_json::json;

use crate::helpers::{demo_id, spawn_app};

#[tokio::test]
async fn each_successful_mutation_writes_exactly_one_audit_row_and_refusals_none() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let leader = app.token_for("leader1").await;
    let village = json!({"parent_id": demo_id("371526100-d2"), "kind": "village", "name": "新村", "code": "371526100204"});
    let department = json!({"org_unit_id": demo_id("371526101"), "name": "西河镇农业农村办", "code": "dept-371526101-ny"});
    let token = json!({"name": "脚本", "role": "viewer", "scope_org_unit_id": demo_id("371526")});
    let assignment = json!({"village_id": demo_id("371526100203"), "starts_on": "2026-05-01"});
    let assignment_path = format!("/api/v1/users/{}/assignments", demo_id("user:cadre1"));

    let mutations: Vec<(&str, &str, serde_json::Value, u16)> = vec![
        ("create village", "/api/v1/org-units", village.clone(), 201),
        ("same code again", "/api/v1/org-units", village, 409),
        ("create department", "/api/v1/departments", department, 201),
        ("create API token", "/api/v1/api-tokens", token, 201),
        ("assign a village", &assignment_path, assignment, 201),
    ];
    for (case, path, body, expected) in mutations {
        let before = app.audit_count().await;
        let response = app.post_json(Some(&admin), path, &body).await;
        assert_eq!(response.status, expected, "{case}: {}", response.text);
        let written = app.audit_count().await - before;
        assert_eq!(
            written,
            u64::from(expected < 300),
            "{case}: audit rows written"
        );
    }
    let before = app.audit_count().await;
    let forbidden = app
        .post_json(
            Some(&leader),
            "/api/v1/org-units",
            &json!({"kind": "county", "name": "x", "code": "x"}),
        )
        .await;
    forbidden.assert_problem(403, "forbidden");
    assert_eq!(
        app.audit_count().await,
        before,
        "a refused mutation writes nothing"
    );
}

#[tokio::test]
async fn audit_entries_name_the_actor_the_request_and_the_change() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;

    let created = app
        .send(reqwest::Method::POST, "/api/v1/departments", |request| {
            request
                .bearer_auth(&admin)
                .header("x-request-id", "req-audit-1")
                .json(&json!({"org_unit_id": demo_id("371526"), "name": "县民政局", "code": "dept-371526-mz"}))
        })
        .await;
    let id = created.json()["id"].as_str().expect("id").to_owned();
    let trail = app
        .get_as(&admin, &format!("/api/v1/audit?entity_id={id}"))
        .await;

    let entry = &trail.json()["items"][0];
    assert_eq!(entry["action"], "department.create");
    assert_eq!(entry["actor_type"], "user");
    assert_eq!(entry["actor_id"], json!(demo_id("user:admin")));
    assert_eq!(entry["actor_role"], "admin");
    assert_eq!(entry["request_id"], "req-audit-1");
    assert_eq!(entry["client_addr"], "127.0.0.1");
    assert_eq!(entry["changes"]["name"], "县民政局");
}

#[tokio::test]
async fn no_route_changes_or_deletes_audit_rows() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;

    for method in [
        reqwest::Method::POST,
        reqwest::Method::PUT,
        reqwest::Method::PATCH,
        reqwest::Method::DELETE,
    ] {
        let response = app
            .call(
                method.clone(),
                Some(&admin),
                "/api/v1/audit",
                Some(&json!({})),
            )
            .await;
        response.assert_problem(405, "method_not_allowed");
        assert_eq!(response.header("allow"), Some("GET"), "{method}");
    }
}

#[tokio::test]
async fn a_scoped_admin_token_cannot_read_the_deployment_wide_trail() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let scoped = app
        .post_json(
            Some(&admin),
            "/api/v1/api-tokens",
            &json!({"name": "镇脚本", "role": "admin", "scope_org_unit_id": demo_id("371526100")}),
        )
        .await
        .json()["token"]
        .as_str()
        .expect("token")
        .to_owned();

    app.get_as(&scoped, "/api/v1/audit")
        .await
        .assert_problem(403, "forbidden");
}

#[tokio::test]
async fn changes_revocations_and_sign_ins_each_write_one_audit_row() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let token = app
        .post_json(
            Some(&admin),
            "/api/v1/api-tokens",
            &json!({"name": "脚本", "role": "viewer", "scope_org_unit_id": demo_id("371526")}),
        )
        .await
        .json()["api_token"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let user_path = format!("/api/v1/users/{}", demo_id("user:cadre2"));
    let assignment_path = format!(
        "/api/v1/assignments/{}",
        demo_id("assignment:cadre2:371526101201")
    );

    let mut before = app.audit_count().await;
    let steps: Vec<(&str, reqwest::Method, String, Option<serde_json::Value>)> = vec![
        (
            "change a user",
            reqwest::Method::PATCH,
            user_path.clone(),
            Some(json!({"display_name": "王芳芳"})),
        ),
        (
            "end an assignment",
            reqwest::Method::PATCH,
            assignment_path,
            Some(json!({"ends_on": "2026-12-31"})),
        ),
        (
            "revoke a token",
            reqwest::Method::DELETE,
            format!("/api/v1/api-tokens/{token}"),
            None,
        ),
        (
            "sign in",
            reqwest::Method::POST,
            "/api/v1/auth/login".to_owned(),
            Some(json!({"username": "cadre2", "password": "demo-password"})),
        ),
    ];
    for (case, method, path, body) in steps {
        let response = app.call(method, Some(&admin), &path, body.as_ref()).await;
        assert!(response.status < 300, "{case}: {}", response.text);
        let after = app.audit_count().await;
        assert_eq!(after - before, 1, "{case}");
        before = after;
    }
    let unchanged = app
        .call(
            reqwest::Method::DELETE,
            Some(&admin),
            &format!("/api/v1/api-tokens/{token}"),
            None,
        )
        .await;
    assert_eq!(unchanged.status, 204);
    assert_eq!(
        app.audit_count().await,
        before,
        "revoking twice changes nothing and records nothing"
    );
}
