//! Accounts: creating and changing them, and the rules tying a role to a scope.

use serde_json::json;

use crate::helpers::{demo_id, spawn_app};

fn new_cadre(username: &str) -> serde_json::Value {
    json!({
        "username": username,
        "display_name": "孙丽",
        "phone": "13912345678",
        "position": "village_contact_cadre",
        "role": "cadre",
        "scope_org_unit_id": demo_id("371526100"),
        "password": "a-long-password",
    })
}

#[tokio::test]
async fn an_admin_creates_a_cadre_who_can_then_sign_in() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;

    let created = app
        .post_json(Some(&admin), "/api/v1/users", &new_cadre("cadre9"))
        .await;
    let login = app.login_raw("cadre9", "a-long-password").await;

    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(created.json()["role"], "cadre");
    assert!(
        !created.text.contains("password"),
        "no password or hash in the response"
    );
    assert_eq!(login.status, 200);
}

#[tokio::test]
async fn a_taken_username_is_409_and_writes_no_audit_row() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let before = app.audit_count().await;

    let duplicate = app
        .post_json(Some(&admin), "/api/v1/users", &new_cadre("cadre1"))
        .await;

    duplicate.assert_problem(409, "username_taken");
    assert_eq!(app.audit_count().await, before);
}

#[tokio::test]
async fn invalid_accounts_are_refused_naming_each_field() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let mut bad_fields = new_cadre("Bad Name");
    bad_fields["phone"] = json!("12345");
    bad_fields["password"] = json!("short");
    let mut cadre_at_a_village = new_cadre("cadre10");
    cadre_at_a_village["scope_org_unit_id"] = json!(demo_id("371526100201"));
    let mut official_without_village = new_cadre("official9");
    official_without_village["role"] = json!("village_official");
    let mut staff_without_department = new_cadre("dept9");
    staff_without_department["role"] = json!("department");
    let mut unknown_field = new_cadre("cadre11");
    unknown_field["is_superuser"] = json!(true);

    let cases = [
        (
            "bad username, phone and password",
            bad_fields,
            vec!["password", "phone", "username"],
        ),
        (
            "cadre anchored at a village",
            cadre_at_a_village,
            vec!["scope_org_unit_id"],
        ),
        (
            "village official anchored at a town",
            official_without_village,
            vec!["scope_org_unit_id"],
        ),
        (
            "department staff without a department",
            staff_without_department,
            vec!["department_id"],
        ),
        (
            "a field the API does not take",
            unknown_field,
            vec!["is_superuser"],
        ),
    ];
    for (case, body, fields) in cases {
        let response = app.post_json(Some(&admin), "/api/v1/users", &body).await;
        response.assert_problem(422, "validation_failed");
        let named: Vec<String> = response.json()["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|error| error["field"].as_str().expect("field").to_owned())
            .collect();
        assert_eq!(named, fields, "{case}");
    }
}

#[tokio::test]
async fn department_staff_are_anchored_at_their_departments_town_or_county() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let mut staff = new_cadre("dept9");
    staff["role"] = json!("department");
    staff["position"] = json!("department_staff");
    staff["scope_org_unit_id"] = json!(null);
    staff["department_id"] = json!(demo_id("dept-371526100-mz"));

    let created = app.post_json(Some(&admin), "/api/v1/users", &staff).await;

    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(
        created.json()["scope_org_unit_id"],
        json!(demo_id("371526100"))
    );
}

#[tokio::test]
async fn changing_an_account_is_audited_with_what_changed_and_never_the_password() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let cadre = demo_id("user:cadre1");

    let changed = app
        .patch_json(
            &admin,
            &format!("/api/v1/users/{cadre}"),
            &json!({"display_name": "李明明", "password": "new-password-1"}),
        )
        .await;
    let audit = app
        .get_as(
            &admin,
            &format!("/api/v1/audit?entity_type=user&entity_id={cadre}"),
        )
        .await;

    assert_eq!(changed.status, 200, "{}", changed.text);
    let entry = &audit.json()["items"][0];
    assert_eq!(entry["action"], "user.update");
    assert_eq!(
        entry["changes"]["display_name"],
        json!({"from": "李明", "to": "李明明"})
    );
    assert_eq!(entry["changes"]["password"], "changed");
    assert!(!audit.text.contains("new-password-1") && !audit.text.contains("argon2"));
    assert_eq!(app.login_raw("cadre1", "new-password-1").await.status, 200);
}

#[tokio::test]
async fn an_accounts_phone_is_audited_masked_even_when_only_a_hidden_digit_changes() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let created = app
        .post_json(Some(&admin), "/api/v1/users", &new_cadre("sunli"))
        .await;
    let id = created.json()["id"].as_str().expect("id").to_owned();

    let corrected = app
        .patch_json(
            &admin,
            &format!("/api/v1/users/{id}"),
            &json!({"phone": "13998765678"}),
        )
        .await;
    let audit = app
        .get_as(
            &admin,
            &format!("/api/v1/audit?entity_type=user&entity_id={id}"),
        )
        .await;

    assert_eq!(created.status, 201, "{}", created.text);
    assert_eq!(corrected.status, 200, "{}", corrected.text);
    assert_eq!(corrected.json()["phone"], "13998765678");
    let entries = audit.json()["items"].as_array().expect("items").clone();
    assert_eq!(entries[0]["action"], "user.update");
    assert_eq!(
        entries[0]["changes"]["phone"],
        json!({"from": "139****5678", "to": "139****5678"}),
        "the change is named, masked"
    );
    assert_eq!(entries[1]["action"], "user.create");
    assert_eq!(entries[1]["changes"]["phone"], "139****5678");
    assert!(
        !audit.text.contains("13912345678") && !audit.text.contains("13998765678"),
        "{}",
        audit.text
    );
}

#[tokio::test]
async fn an_account_or_assignment_patched_with_what_it_already_says_records_nothing() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let user_path = format!("/api/v1/users/{}", demo_id("user:cadre2"));
    let assignment_path = format!(
        "/api/v1/assignments/{}",
        demo_id("assignment:cadre2:371526101201")
    );
    let user_change = json!({"display_name": "王芳芳", "phone": "13900001111"});
    let assignment_change = json!({"ends_on": "2026-12-31"});
    let first = (
        app.patch_json(&admin, &user_path, &user_change).await,
        app.patch_json(&admin, &assignment_path, &assignment_change)
            .await,
    );
    let recorded = app.audit_count().await;

    let again = (
        app.patch_json(&admin, &user_path, &user_change).await,
        app.patch_json(&admin, &assignment_path, &assignment_change)
            .await,
    );

    assert_eq!(first.0.status, 200, "{}", first.0.text);
    assert_eq!(first.1.status, 200, "{}", first.1.text);
    assert_eq!(again.0.status, 200, "{}", again.0.text);
    assert_eq!(again.1.status, 200, "{}", again.1.text);
    assert_eq!(again.0.json(), first.0.json(), "the same account");
    assert_eq!(again.1.json(), first.1.json(), "the same assignment");
    assert_eq!(app.audit_count().await, recorded, "no second audit row");
}

#[tokio::test]
async fn a_change_made_while_an_account_is_being_deactivated_does_not_bring_it_back() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait, sea_query::Expr};
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let cadre = demo_id("user:cadre2");
    let path = format!("/api/v1/users/{cadre}");
    // Another admin's deactivation, committed a moment after this change has started.
    let deactivation = app.db.begin().await.expect("begin");
    entity::user::Entity::update_many()
        .col_expr(entity::user::Column::Active, Expr::value(false))
        .filter(entity::user::Column::Id.eq(cadre))
        .exec(&deactivation)
        .await
        .expect("the deactivation");
    let rename = json!({"display_name": "王芳芳"});

    let (renamed, ()) = tokio::join!(app.patch_json(&admin, &path, &rename), async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        deactivation
            .commit()
            .await
            .expect("the deactivation commits");
    });

    assert_eq!(renamed.status, 200, "{}", renamed.text);
    let stored = app.get_as(&admin, &path).await.json();
    assert_eq!(stored["display_name"], "王芳芳");
    assert_eq!(stored["active"], false, "the deactivation stands");
}
