//! Who may do what, where: the function access matrix over every operation of the spec,
//! and scope (out of scope is 404, never 403).

use api::access::{Requirement, requirement, role_may};
use entity::user::Role;
use serde_json::{Value, json};

use crate::helpers::{demo_id, household, spawn_app, today, villages};

const COMMITTED: &str = include_str!("../../openapi/openapi.json");

/// Every (method, path, operationId, has body) of the committed spec.
fn operations() -> Vec<(reqwest::Method, String, String, bool)> {
    let spec: Value = serde_json::from_str(COMMITTED).expect("spec");
    let mut found = Vec::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("item") {
            let method =
                reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let concrete = path
                .split('/')
                .map(|segment| {
                    if segment.starts_with('{') {
                        uuid::Uuid::new_v4().to_string()
                    } else {
                        segment.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            let id = operation["operationId"]
                .as_str()
                .expect("operationId")
                .to_owned();
            found.push((method, concrete, id, operation.get("requestBody").is_some()));
        }
    }
    found
}

#[test]
fn every_operation_of_the_spec_has_an_access_policy() {
    let unguarded: Vec<String> = operations()
        .into_iter()
        .filter(|(_, _, id, _)| requirement(id).is_none())
        .map(|(method, path, id, _)| format!("{method} {path} ({id})"))
        .collect();
    assert!(
        unguarded.is_empty(),
        "operations without a policy: {unguarded:?}"
    );
}

/// The access table as the campaign's rules state it (DOMAIN.md, "Roles and scope"), written
/// out by hand so that a change to the policy in the code must be a change here too.
fn expected_roles(operation_id: &str) -> &'static [&'static str] {
    const EVERYONE: &[&str] = &[
        "admin",
        "leader",
        "cadre",
        "village_official",
        "department",
        "viewer",
    ];
    match operation_id {
        "check_health" | "check_readiness" | "login" | "refresh_session" | "logout" => EVERYONE,
        "get_village_board" | "get_town_board" => EVERYONE,
        "get_village_duty" | "get_calendar" => EVERYONE,
        "put_calendar" => &["admin"],
        "generate_duties" | "swap_duty" => &["admin", "leader"],
        "list_duties" => &["admin", "leader", "cadre", "village_official", "viewer"],
        "get_me" | "list_org_units" | "get_org_unit" | "list_departments" => EVERYONE,
        "list_users" | "get_user" | "list_assignments" | "create_assignment"
        | "update_assignment" => &["admin", "leader"],
        "create_org_unit" | "create_department" | "create_user" | "update_user" => &["admin"],
        "create_api_token" | "list_api_tokens" | "revoke_api_token" | "list_audit_entries" => {
            &["admin"]
        }
        "list_households" | "get_household" => {
            &["admin", "leader", "cadre", "village_official", "viewer"]
        }
        "create_household" | "update_household" => &["admin", "cadre", "village_official"],
        "import_households" => &["admin"],
        "list_enterprises" | "get_enterprise" => {
            &["admin", "leader", "cadre", "village_official", "viewer"]
        }
        "create_enterprise" => &["admin", "cadre", "village_official"],
        "create_pairing" | "delete_pairing" => &["admin", "leader", "cadre"],
        "list_pairings" | "get_pairing_status" => {
            &["admin", "leader", "cadre", "village_official", "viewer"]
        }
        "create_visit" | "create_issue" => &["admin", "leader", "cadre", "village_official"],
        "list_visits" | "get_visit" => &["admin", "leader", "cadre", "village_official", "viewer"],
        "list_issues" | "get_issue" => &[
            "admin",
            "leader",
            "cadre",
            "village_official",
            "department",
            "viewer",
        ],
        "add_issue_progress" | "resolve_issue" | "record_issue_feedback" => {
            &["admin", "cadre", "village_official", "department"]
        }
        "close_issue" | "urge_issue" | "extend_issue_deadline" => &["admin", "leader"],
        "export_ledger" => &["admin", "leader", "viewer"],
        "reopen_issue" => &["admin", "leader"],
        "escalate_issue" => &["admin", "cadre", "village_official"],
        "accept_escalation" => &["admin", "department"],
        "pull_changes" | "push_changes" => &["admin", "leader", "cadre", "village_official"],
        "get_deadline_dashboard"
        | "get_quota_dashboard"
        | "get_satisfaction_dashboard"
        | "get_deed_dashboard"
        | "get_monthly_ledger"
        | "export_monthly_ledger" => &["admin", "leader", "viewer"],
        "sign_off_month" => &["admin", "leader"],
        "list_campaigns" | "get_campaign" | "get_current_campaign" => EVERYONE,
        "create_campaign" | "update_campaign" => &["admin"],
        "create_survey" | "create_survey_codes" => &["admin", "leader"],
        "list_surveys" | "get_survey" | "record_survey_response" => {
            &["admin", "leader", "cadre", "village_official"]
        }
        "get_survey_results" | "get_assessment" => &["admin", "leader", "viewer"],
        "answer_survey" => EVERYONE,
        other => panic!("operation {other} is missing from the expected access table"),
    }
}

#[test]
fn the_policy_in_the_code_equals_the_expected_table() {
    let roles = [
        Role::Admin,
        Role::Leader,
        Role::Cadre,
        Role::VillageOfficial,
        Role::Department,
        Role::Viewer,
    ];
    for (_, _, id, _) in operations() {
        let needed = requirement(&id).expect("policy");
        for role in roles {
            let name = api::auth::role_name(role);
            let allowed = match needed {
                Requirement::Public | Requirement::Authenticated => true,
                Requirement::Action(action) => role_may(role, action),
            };
            assert_eq!(
                allowed,
                expected_roles(&id).contains(&name.as_str()),
                "{name} × {id}"
            );
        }
    }
}

#[tokio::test]
async fn the_server_enforces_the_policy_for_every_operation_and_role() {
    let app = spawn_app().await;
    app.seed().await;
    let accounts = [
        ("admin", Role::Admin),
        ("leader1", Role::Leader),
        ("cadre1", Role::Cadre),
        ("official1", Role::VillageOfficial),
        ("dept1", Role::Department),
        ("viewer1", Role::Viewer),
    ];
    let mut tokens = Vec::new();
    for (username, role) in accounts {
        tokens.push((username, role, app.token_for(username).await));
    }
    let mut mismatches = Vec::new();

    for (method, path, id, has_body) in operations() {
        let needed = requirement(&id).expect("policy");
        let body = has_body.then(|| json!({}));
        let anonymous = app.call(method.clone(), None, &path, body.as_ref()).await;
        let anonymous_ok = match needed {
            Requirement::Public => !matches!(anonymous.status, 401 | 403),
            _ => anonymous.status == 401,
        };
        if !anonymous_ok {
            mismatches.push(format!(
                "anonymous {method} {path} ({id}) → {}",
                anonymous.status
            ));
        }
        for (username, role, token) in &tokens {
            let response = app
                .call(method.clone(), Some(token), &path, body.as_ref())
                .await;
            let allowed = match needed {
                Requirement::Public | Requirement::Authenticated => true,
                Requirement::Action(action) => role_may(*role, action),
            };
            if response.status >= 500 {
                mismatches.push(format!(
                    "{username} {method} {path} ({id}) → {} {}",
                    response.status, response.text
                ));
            }
            let as_expected = if allowed {
                !matches!(response.status, 401 | 403)
            } else {
                response.status == 403
            };
            if !as_expected {
                mismatches.push(format!(
                    "{username} {method} {path} ({id}) → {} {}",
                    response.status, response.text
                ));
            }
        }
    }

    assert!(
        mismatches.is_empty(),
        "policy not enforced as listed:\n{}",
        mismatches.join("\n")
    );
}

async fn codes_listed(app: &crate::helpers::TestApp, token: &str, path: &str) -> Vec<String> {
    let response = app.get_as(token, path).await;
    assert_eq!(response.status, 200, "{path}: {}", response.text);
    let mut codes: Vec<String> = response.json()["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["code"].as_str().expect("code").to_owned())
        .collect();
    codes.sort();
    codes
}

#[tokio::test]
async fn each_role_lists_only_the_org_units_its_scope_reaches() {
    let app = spawn_app().await;
    app.seed().await;

    let cadre = codes_listed(&app, &app.token_for("cadre1").await, "/api/v1/org-units").await;
    let official = codes_listed(&app, &app.token_for("official1").await, "/api/v1/org-units").await;
    let leader = codes_listed(&app, &app.token_for("leader1").await, "/api/v1/org-units").await;
    let viewer = codes_listed(&app, &app.token_for("viewer1").await, "/api/v1/org-units").await;
    let department = codes_listed(&app, &app.token_for("dept1").await, "/api/v1/org-units").await;

    assert_eq!(cadre, vec![villages::DONGGUAN, villages::LIUSHUTUN]);
    assert_eq!(official, vec![villages::DONGGUAN]);
    assert_eq!(
        leader,
        vec![
            "371526100",
            "371526100-d1",
            "371526100-d2",
            villages::DONGGUAN,
            villages::LIUSHUTUN,
            villages::SHIQIAO
        ]
    );
    assert_eq!(viewer.len(), 12, "the whole county: {viewer:?}");
    assert!(
        department.is_empty(),
        "department staff see no roster: {department:?}"
    );
}

#[tokio::test]
async fn a_record_outside_the_scope_is_404_not_403() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let leader = app.token_for("leader1").await;

    let own_village = app
        .get_as(
            &cadre,
            &format!("/api/v1/org-units/{}", demo_id(villages::DONGGUAN)),
        )
        .await;
    let other_town_village = app
        .get_as(
            &cadre,
            &format!("/api/v1/org-units/{}", demo_id(villages::HEWAN)),
        )
        .await;
    let own_cadre = app
        .get_as(
            &leader,
            &format!("/api/v1/users/{}", demo_id("user:cadre1")),
        )
        .await;
    let other_town_cadre = app
        .get_as(
            &leader,
            &format!("/api/v1/users/{}", demo_id("user:cadre2")),
        )
        .await;

    assert_eq!(own_village.status, 200);
    other_town_village.assert_problem(404, "not_found");
    assert_eq!(own_cadre.status, 200);
    other_town_cadre.assert_problem(404, "not_found");
}

#[tokio::test]
async fn a_leader_assigns_only_their_own_cadres_to_their_own_villages() {
    let app = spawn_app().await;
    app.seed().await;
    let leader = app.token_for("leader1").await;
    let assign = |user: &str, village: &str| {
        (
            format!(
                "/api/v1/users/{}/assignments",
                demo_id(&format!("user:{user}"))
            ),
            json!({"village_id": demo_id(village), "starts_on": "2026-05-01"}),
        )
    };

    let (path, body) = assign("cadre1", villages::SHIQIAO);
    let own = app.post_json(Some(&leader), &path, &body).await;
    let (path, body) = assign("cadre2", villages::SHIQIAO);
    let foreign_cadre = app.post_json(Some(&leader), &path, &body).await;
    let (path, body) = assign("cadre1", villages::HEWAN);
    let foreign_village = app.post_json(Some(&leader), &path, &body).await;

    assert_eq!(own.status, 201, "{}", own.text);
    assert_eq!(own.json()["village_name"], "石桥村");
    foreign_cadre.assert_problem(404, "not_found");
    foreign_village.assert_problem(422, "validation_failed");
    let cadre_villages = codes_listed(
        &app,
        &app.token_for("cadre1").await,
        "/api/v1/org-units?kind=village",
    )
    .await;
    assert_eq!(
        cadre_villages.len(),
        3,
        "the new village is in the cadre's scope: {cadre_villages:?}"
    );
}

#[tokio::test]
async fn ending_an_assignment_removes_the_village_from_an_old_token_at_once() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let admin = app.token_for("admin").await;
    let village = format!("/api/v1/org-units/{}", demo_id(villages::LIUSHUTUN));
    assert_eq!(app.get_as(&cadre, &village).await.status, 200);
    // Dates are local (UTC+8): "yesterday" is yesterday in the township, whatever UTC says.
    let ended = app
        .take_village_from(&admin, "cadre1", villages::LIUSHUTUN)
        .await;
    let after = app.get_as(&cadre, &village).await;

    assert_eq!(ended.status, 200, "{}", ended.text);
    after.assert_problem(404, "not_found");
}

#[tokio::test]
async fn huge_pages_are_refused_and_cursors_page_through_everything_once() {
    let app = spawn_app().await;
    app.seed().await;
    let viewer = app.token_for("viewer1").await;

    let huge = app.get_as(&viewer, "/api/v1/org-units?limit=100000").await;
    let bad_cursor = app
        .get_as(
            &app.token_for("admin").await,
            "/api/v1/users?cursor=not-a-cursor",
        )
        .await;
    let mut seen = Vec::new();
    let mut path = "/api/v1/org-units?limit=5".to_owned();
    for _ in 0..10 {
        let page = app.get_as(&viewer, &path).await.json();
        seen.extend(
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .map(|item| item["code"].as_str().expect("code").to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/org-units?limit=5&cursor={cursor}"),
            None => break,
        }
    }

    huge.assert_problem(422, "validation_failed");
    for path in [
        "/api/v1/users?cursor=",
        "/api/v1/issues?cursor=",
        "/api/v1/visits?cursor=",
    ] {
        let empty_cursor = app.get_as(&app.token_for("admin").await, path).await;
        assert_eq!(
            empty_cursor.status, 200,
            "an empty cursor is the first page: {path}"
        );
    }
    bad_cursor.assert_problem(422, "validation_failed");
    assert_eq!(seen.len(), 12, "three pages of 5, 5 and 2: {seen:?}");
    let unique: std::collections::BTreeSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), 12, "no item twice");
}

#[tokio::test]
async fn a_scoped_admin_cannot_create_an_account_that_reaches_the_whole_deployment() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let town_admin = app.scoped_api_token(&admin, "admin", "371526100").await;
    let unanchored = json!({"username": "boss", "display_name": "x", "position": "other", "role": "admin", "password": "a-long-password"});
    let mut anchored = unanchored.clone();
    anchored["username"] = json!("town-admin");
    anchored["scope_org_unit_id"] = json!(demo_id("371526100"));

    let refused = app
        .post_json(Some(&town_admin), "/api/v1/users", &unanchored)
        .await;
    let allowed = app
        .post_json(Some(&town_admin), "/api/v1/users", &anchored)
        .await;

    refused.assert_problem(422, "validation_failed");
    assert_eq!(refused.json()["errors"][0]["field"], "scope_org_unit_id");
    assert_eq!(allowed.status, 201, "{}", allowed.text);
}

#[tokio::test]
async fn an_assignment_gives_a_cadre_its_village_from_its_first_day_and_not_before() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let path = format!("/api/v1/users/{}/assignments", demo_id("user:cadre1"));
    let assign = |village: &str, starts_on: chrono::NaiveDate| json!({"village_id": demo_id(village), "starts_on": starts_on.to_string()});
    let tomorrow = app
        .post_json(
            Some(&admin),
            &path,
            &assign(villages::HEWAN, today() + chrono::Days::new(1)),
        )
        .await;
    let from_today = app
        .post_json(Some(&admin), &path, &assign(villages::SHIQIAO, today()))
        .await;
    let cadre = app.token_for("cadre1").await;

    let not_yet = app
        .get_as(
            &cadre,
            &format!("/api/v1/households/{}", household(villages::HEWAN, 1)),
        )
        .await;
    let already = app
        .get_as(
            &cadre,
            &format!("/api/v1/households/{}", household(villages::SHIQIAO, 1)),
        )
        .await;

    assert_eq!(tomorrow.status, 201, "{}", tomorrow.text);
    assert_eq!(from_today.status, 201, "{}", from_today.text);
    not_yet.assert_problem(404, "not_found");
    assert_eq!(already.status, 200, "{}", already.text);
}
