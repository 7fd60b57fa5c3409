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

#[tokio::test]
async fn malformed_json_is_400_problem_without_parser_details() {
    let app = spawn_app().await;

    let response = app
        .post_raw("/api/v1/auth/login", "application/json", "{bad")
        .await;

    response.assert_problem(400, "malformed_json");
    for leak in ["line", "column", "expected", "serde"] {
        assert!(
            !response.text.contains(leak),
            "body leaks `{leak}`: {}",
            response.text
        );
    }
}

#[tokio::test]
async fn wrong_shapes_and_content_types_are_problems() {
    let app = spawn_app().await;

    let missing = app
        .post_raw(
            "/api/v1/auth/login",
            "application/json",
            r#"{"username": "a"}"#,
        )
        .await;
    let wrong_type = app
        .post_raw(
            "/api/v1/auth/login",
            "application/json",
            r#"{"username": 1, "password": "x"}"#,
        )
        .await;
    let not_json = app
        .post_raw(
            "/api/v1/auth/login",
            "text/plain",
            r#"{"username": "a", "password": "b"}"#,
        )
        .await;
    let too_large = app
        .post_raw(
            "/api/v1/auth/login",
            "application/json",
            &format!(
                r#"{{"username": "{}", "password": "x"}}"#,
                "a".repeat(70_000)
            ),
        )
        .await;

    missing.assert_problem(422, "validation_failed");
    assert_eq!(missing.json()["errors"][0]["field"], "password");
    wrong_type.assert_problem(422, "validation_failed");
    for leak in ["invalid type", "expected", "integer", "line", "column"] {
        assert!(
            !wrong_type.text.contains(leak),
            "body leaks `{leak}`: {}",
            wrong_type.text
        );
    }
    not_json.assert_problem(415, "unsupported_media_type");
    too_large.assert_problem(413, "payload_too_large");
}

#[tokio::test]
async fn bad_path_and_query_values_are_400_problems() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;

    let bad_path = app.get_as(&admin, "/api/v1/users/not-a-uuid").await;
    let bad_query = app.get_as(&admin, "/api/v1/users?active=perhaps").await;
    let unknown_query = app.get_as(&admin, "/api/v1/users?staus=open").await;

    bad_path.assert_problem(400, "invalid_path_parameter");
    bad_query.assert_problem(400, "invalid_query_parameter");
    unknown_query.assert_problem(400, "invalid_query_parameter");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = spawn_app().await;

    for path in [
        "/healthz",
        "/api/v1/no-such-thing",
        "/api/v1/me",
        "/api-docs/openapi.json",
    ] {
        let response = app.get(path).await;
        assert_eq!(
            response.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(response.header("x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(
            response.header("referrer-policy"),
            Some("no-referrer"),
            "{path}"
        );
        assert_eq!(
            response.header("cache-control"),
            Some("no-store"),
            "{path}: personal data is never cached"
        );
    }
}

async fn preflight(
    app: &crate::helpers::TestApp,
    origin: &'static str,
) -> crate::helpers::TestResponse {
    app.send(reqwest::Method::OPTIONS, "/api/v1/issues", move |request| {
        request
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
    })
    .await
}

#[tokio::test]
async fn cors_is_off_by_default_and_allows_only_the_configured_origins() {
    let closed = spawn_app().await;
    let open = crate::helpers::spawn_app_with(|settings| {
        settings.cors_origins = vec!["https://dashboard.example.gov.cn".to_owned()];
    })
    .await;

    let by_default = preflight(&closed, "https://dashboard.example.gov.cn").await;
    let allowed = preflight(&open, "https://dashboard.example.gov.cn").await;
    let other = preflight(&open, "https://evil.example.com").await;

    assert!(
        by_default.header("access-control-allow-origin").is_none(),
        "CORS is off by default"
    );
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://dashboard.example.gov.cn")
    );
    assert!(
        other.header("access-control-allow-origin").is_none(),
        "another origin is not allowed"
    );
}

#[tokio::test]
async fn json_nested_past_the_parsers_depth_limit_is_refused_as_a_problem_on_every_route() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    // 20,000 levels fits in the ordinary body limit; serde_json stops at 128.
    let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    for (path, body) in [
        (
            "/api/v1/visits",
            format!(r#"{{"id": "0192f8a0-0000-7000-8000-0000000000aa", "answers": {deep}}}"#),
        ),
        (
            "/api/v1/sync/push?last_pulled_at=1",
            format!(r#"{{"changes": {{"visits": {{"created": {deep}}}}}}}"#),
        ),
        ("/api/v1/auth/login", deep.clone()),
    ] {
        let response = app
            .send(reqwest::Method::POST, path, |request| {
                request
                    .bearer_auth(&cadre)
                    .header("content-type", "application/json")
                    .header("x-device-id", "phone-deep")
                    .body(body)
            })
            .await;
        // Refused as malformed (400) or as a value of the wrong shape (422): never a 500.
        assert!(
            matches!(response.status, 400 | 422),
            "{path}: {} {}",
            response.status,
            response.text
        );
        assert_eq!(
            response.header("content-type"),
            Some("application/problem+json"),
            "{path}"
        );
        assert!(
            !response.text.contains("recursion"),
            "no parser detail leaks: {}",
            response.text
        );
    }
}

#[tokio::test]
async fn dates_at_the_ends_of_the_calendar_are_answered_never_a_5xx() {
    let app = crate::helpers::spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let viewer = app.token_for("viewer1").await;
    // The first and last days chrono names (a `+` is `%2B` in a query), and days before 4713
    // BC, which PostgreSQL cannot store.
    let days = [
        "-262143-01-01",
        "%2B262142-12-31",
        "-5000-01-01",
        "0001-01-01",
    ];
    let queries = [
        (&admin, "/api/v1/issues?raised_from="),
        (&admin, "/api/v1/issues?closed_since="),
        (&admin, "/api/v1/issues?due_before="),
        (&admin, "/api/v1/households?not_visited_since="),
        (&admin, "/api/v1/dashboard/deadlines?from="),
        (&admin, "/api/v1/dashboard/satisfaction?to="),
        (&viewer, "/api/v1/ledger/export?format=csv&raised_from="),
    ];

    for day in days {
        for (token, query) in queries {
            let response = app.get_as(token, &format!("{query}{day}")).await;
            crate::fuzz::assert_answered(&response, &format!("{query}{day}"));
            if response.status >= 400 {
                response.assert_problem(response.status, "value_out_of_range");
            }
        }
    }
}

#[tokio::test]
async fn an_invalid_field_inside_a_list_is_named_by_its_path() {
    let app = crate::helpers::spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let visit = serde_json::json!({
        "id": uuid::Uuid::new_v4(),
        "household_id": crate::helpers::household(crate::helpers::villages::DONGGUAN, 3),
        "channel": "door_to_door",
        "visited_at": chrono::Utc::now().to_rfc3339(),
        "answers": {"difficulties": "路灯坏了"},
        "issues": [{"id": uuid::Uuid::new_v4(), "category": "practical_difficulty", "matter": "",
                    "deadline": (crate::helpers::today() + chrono::Days::new(10)).to_string()}],
    });

    let refused = app.post_json(Some(&cadre), "/api/v1/visits", &visit).await;

    refused.assert_problem(422, "validation_failed");
    let fields: Vec<String> = refused.json()["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|error| error["field"].as_str().expect("field").to_owned())
        .collect();
    assert!(
        !fields.is_empty() && fields.iter().all(|field| field == "issues[0].matter"),
        "{fields:?}"
    );
}
