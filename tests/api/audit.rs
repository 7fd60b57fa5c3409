//! The audit trail: one row per successful mutation, none for refused ones, read-only; a hash
//! chain the database will not let the application change, whose verification finds a row
//! altered behind its back; retention that keeps the rest verifiable; reads of unmasked
//! personal data recorded; no secrets or personal data in it.

use std::process::Command;

use api::audit::{self, GENESIS_HASH, PruneError};
use chrono::{Duration, Utc};
use entity::{audit_checkpoint, audit_log};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
    sea_query::Expr,
};
use serde_json::{Value, json};

use crate::helpers::{
    DEMO_PASSWORD, TEST_JWT_SECRET, TestApp, demo_id, on_postgres, spawn_app, villages,
};

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
    let scoped = app.scoped_api_token(&admin, "admin", "371526100").await;

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

/// Every audit row, oldest link first, in whatever state it is.
async fn rows(app: &TestApp) -> Vec<audit_log::Model> {
    audit_log::Entity::find()
        .order_by_asc(audit_log::Column::Seq)
        .all(&app.db)
        .await
        .expect("audit rows")
}

/// The chain, oldest link first, once every entry is sealed: on PostgreSQL the server's
/// sealer links a commit's entries just after it, not before the request is answered.
async fn chain(app: &TestApp) -> Vec<audit_log::Model> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let rows = rows(app).await;
        if rows.iter().all(|row| row.seq.is_some()) || std::time::Instant::now() > deadline {
            return rows;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Waits for every entry to be sealed and for the sealer to have gone idle (it seals what a
/// commit woke it for, 50 ms after, and may have one round left when the last entry is seen
/// sealed), before a test writes behind the application's back.
async fn settled(app: &TestApp) {
    chain(app).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
}

/// The entry at `seq`, once the chain is sealed.
async fn entry(app: &TestApp, seq: i64) -> audit_log::Model {
    chain(app)
        .await
        .into_iter()
        .find(|row| row.seq == Some(seq))
        .expect("entry")
}

/// Sets `changes` of the entry at `seq`, through the application's own pool.
async fn set_changes(app: &TestApp, seq: i64, changes: Value) -> Result<u64, DbErr> {
    audit_log::Entity::update_many()
        .col_expr(audit_log::Column::Changes, Expr::val(changes))
        .filter(audit_log::Column::Seq.eq(seq))
        .exec(&app.db)
        .await
        .map(|result| result.rows_affected)
}

/// Deletes the entry at `seq`, through the application's own pool.
async fn delete_entry(app: &TestApp, seq: i64) -> Result<u64, DbErr> {
    audit_log::Entity::delete_many()
        .filter(audit_log::Column::Seq.eq(seq))
        .exec(&app.db)
        .await
        .map(|result| result.rows_affected)
}

/// What a superuser could do: switch the append-only triggers off (PostgreSQL) or drop them
/// (SQLite).
async fn bypass_the_triggers(app: &TestApp) {
    let statements: &[&str] = if on_postgres() {
        &[
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only",
            "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change",
        ]
    } else {
        &[
            "DROP TRIGGER audit_log_no_update",
            "DROP TRIGGER audit_log_no_delete",
        ]
    };
    for statement in statements {
        app.db
            .execute_unprepared(statement)
            .await
            .expect("bypass the triggers");
    }
}

/// A few audited changes by an admin: a department, a household, a change to it; returns
/// once they are sealed into the chain.
async fn some_mutations(app: &TestApp, admin: &str, code: &str) -> String {
    let department = app
        .post_json(
            Some(admin),
            "/api/v1/departments",
            &json!({"org_unit_id": demo_id("371526"), "name": format!("县审计{code}局"), "code": format!("dept-371526-audit-{code}")}),
        )
        .await;
    assert_eq!(department.status, 201, "{}", department.text);
    let household = app
        .post_json(
            Some(admin),
            "/api/v1/households",
            &json!({"village_id": demo_id(villages::DONGGUAN), "head_name": format!("链{code}"), "phone": "13912345678"}),
        )
        .await;
    assert_eq!(household.status, 201, "{}", household.text);
    let id = household.json()["id"].as_str().expect("id").to_owned();
    let changed = app
        .patch_json(
            admin,
            &format!("/api/v1/households/{id}"),
            &json!({"members_count": 4}),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    settled(app).await;
    id
}

#[tokio::test]
async fn every_entry_is_sealed_into_one_chain_that_verifies() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    some_mutations(&app, &admin, "jt").await;

    let rows = chain(&app).await;
    // demo.seed, the admin's sign-in, department, household, its change.
    assert_eq!(rows.len(), 5);
    let mut prev = GENESIS_HASH.to_owned();
    for (index, row) in rows.iter().enumerate() {
        assert_eq!(row.seq, Some(index as i64 + 1), "seq follows commit order");
        assert_eq!(row.prev_hash.as_deref(), Some(prev.as_str()), "linked");
        let hash = row.row_hash.clone().expect("sealed");
        assert_eq!(hash, audit::entry_hash(row, index as i64 + 1, &prev));
        prev = hash;
    }
    assert_eq!(rows[0].action, "demo.seed");
    assert_eq!(rows[4].action, "household.update");

    let report = audit::verify(&app.db).await.expect("verify");
    assert!(report.is_ok(), "{report}");
    assert_eq!((report.entries, report.head_seq), (5, 5));
    assert_eq!(report.head_hash, prev);
    assert_eq!(
        report.to_string(),
        format!("ok: 5 entries, head {prev} (seq 5)")
    );
}

#[tokio::test]
async fn concurrent_writers_still_make_one_unbroken_chain() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;

    let bodies: Vec<Value> = (0..8)
        .map(|n| json!({"village_id": demo_id(villages::LIUSHUTUN), "head_name": format!("并发{n}")}))
        .collect();
    let created = futures_util::future::join_all(
        bodies
            .iter()
            .map(|body| app.post_json(Some(&admin), "/api/v1/households", body)),
    )
    .await;
    assert!(created.iter().all(|response| response.status == 201));

    let seqs: Vec<Option<i64>> = chain(&app).await.iter().map(|row| row.seq).collect();
    assert_eq!(
        seqs,
        (1..=10).map(Some).collect::<Vec<_>>(),
        "seed, sign-in, 8 creations"
    );
    let report = audit::verify(&app.db).await.expect("verify");
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.entries, 10);
}

#[tokio::test]
async fn a_push_is_answered_while_the_chain_head_is_held_and_sealed_once_it_is_free() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let visits: Vec<Value> = (0..3)
        .map(|n| {
            json!({"id": uuid::Uuid::now_v7(), "household_id": demo_id(&format!("household:{}:{n}", villages::DONGGUAN)),
                   "channel": "door_to_door", "visited_at": 1_780_000_000_000_i64 + n})
        })
        .collect();
    // Another transaction holds the chain's head (on SQLite it only reads: writers take turns).
    let holder = app.db.begin().await.expect("begin");
    let lock = if on_postgres() {
        "SELECT id FROM audit_chain_head WHERE id = 1 FOR UPDATE"
    } else {
        "SELECT id FROM audit_chain_head WHERE id = 1"
    };
    holder
        .execute_unprepared(lock)
        .await
        .expect("hold the head");

    let pushed = app
        .push_as(&cadre, "phone-a", json!({"visits": {"created": visits}}))
        .await;
    holder.rollback().await.expect("release the head");

    assert_eq!(pushed.status, 200, "{}", pushed.text);
    assert_eq!(pushed.json()["applied"], 3);
    let pushed_entries = chain(&app)
        .await
        .into_iter()
        .filter(|row| row.action == "visit.create")
        .collect::<Vec<_>>();
    assert_eq!(pushed_entries.len(), 3);
    assert!(pushed_entries.iter().all(|row| row.seq.is_some()));
    let report = audit::verify(&app.db).await.expect("verify");
    assert!(report.is_ok(), "{report}");
}

#[tokio::test]
async fn the_database_refuses_to_change_or_delete_an_audit_entry() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    some_mutations(&app, &admin, "gb").await;
    let before = entry(&app, 3).await;

    let changed = set_changes(&app, 3, json!({"name": "篡改"})).await;
    let refusal = changed
        .expect_err("an UPDATE of an entry is refused")
        .to_string();
    assert!(refusal.contains("append-only"), "by the trigger: {refusal}");
    let resealed = audit_log::Entity::update_many()
        .col_expr(audit_log::Column::Seq, Expr::val(99_i64))
        .filter(audit_log::Column::Seq.eq(3))
        .exec(&app.db)
        .await;
    assert!(resealed.is_err(), "its chain fields too");
    let deleted = delete_entry(&app, 3).await;
    let refusal = deleted.expect_err("a DELETE is refused").to_string();
    assert!(refusal.contains("append-only"), "by the trigger: {refusal}");
    let everything = audit_log::Entity::delete_many().exec(&app.db).await;
    assert!(everything.is_err(), "so is emptying the table");
    if on_postgres() {
        let truncated = app.db.execute_unprepared("TRUNCATE audit_log").await;
        assert!(truncated.is_err(), "and TRUNCATE");
    }

    assert_eq!(entry(&app, 3).await, before, "the entry is as it was");
    assert_eq!(app.audit_count().await, 5);
    let report = audit::verify(&app.db).await.expect("verify");
    assert!(report.is_ok(), "{report}");
}

#[tokio::test]
async fn verify_names_the_entry_altered_behind_the_triggers_and_one_deleted() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    some_mutations(&app, &admin, "cg").await;
    let original = entry(&app, 3).await;
    bypass_the_triggers(&app).await;

    set_changes(&app, 3, json!({"name": "县篡改局"}))
        .await
        .expect("a superuser can change it");
    let report = audit::verify(&app.db).await.expect("verify");
    let broken = report.broken.clone().expect("the alteration is found");
    assert_eq!(broken.seq, Some(3), "{report}");
    assert_eq!(broken.entry_id, Some(original.id));
    assert!(
        report.to_string().starts_with("broken at seq 3"),
        "{report}"
    );

    set_changes(&app, 3, original.changes.clone().expect("changes"))
        .await
        .expect("put back");
    assert!(
        audit::verify(&app.db).await.expect("verify").is_ok(),
        "put back, it holds again"
    );

    // Altered and re-hashed: the next link no longer fits.
    let forged = audit_log::Model {
        changes: Some(json!({"name": "县篡改局"})),
        ..original.clone()
    };
    audit_log::Entity::update_many()
        .col_expr(
            audit_log::Column::Changes,
            Expr::val(json!({"name": "县篡改局"})),
        )
        .col_expr(
            audit_log::Column::RowHash,
            Expr::val(audit::entry_hash(
                &forged,
                3,
                original.prev_hash.as_deref().expect("prev"),
            )),
        )
        .filter(audit_log::Column::Seq.eq(3))
        .exec(&app.db)
        .await
        .expect("re-hash");
    let report = audit::verify(&app.db).await.expect("verify");
    assert_eq!(
        report.broken.map(|broken| broken.seq),
        Some(Some(4)),
        "the link after it"
    );
    audit_log::Entity::update_many()
        .col_expr(
            audit_log::Column::Changes,
            Expr::val(original.changes.clone().expect("changes")),
        )
        .col_expr(
            audit_log::Column::RowHash,
            Expr::val(original.row_hash.clone().expect("hash")),
        )
        .filter(audit_log::Column::Seq.eq(3))
        .exec(&app.db)
        .await
        .expect("put back");

    delete_entry(&app, 2).await.expect("a superuser can delete");
    let report = audit::verify(&app.db).await.expect("verify");
    let broken = report.broken.clone().expect("the gap is found");
    assert_eq!(broken.seq, Some(2), "{report}");
    assert!(broken.problem.contains("missing"), "{report}");
}

#[tokio::test]
async fn verify_notices_the_newest_entry_removed_and_an_entry_slipped_in() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    some_mutations(&app, &admin, "wb").await;
    bypass_the_triggers(&app).await;

    delete_entry(&app, 5).await.expect("delete the newest");
    let report = audit::verify(&app.db).await.expect("verify");
    assert_eq!(
        report.broken.map(|broken| broken.seq),
        Some(Some(5)),
        "the head says 5"
    );

    let app = spawn_app().await;
    app.seed().await;
    settled(&app).await;
    // Held meanwhile, so that no round of the sealer (PostgreSQL) links the row before verify
    // looks — the next commit's seal would, as a seal at commit always did.
    let head = hold_the_head(&app).await;
    let slipped = slip_in_an_entry(&app).await;
    let report = audit::verify(&app.db).await.expect("verify");
    head.rollback().await.expect("release the head");
    let broken = report.broken.clone().expect("found");
    assert_eq!(broken.entry_id, Some(slipped.id), "{report}");
}

/// A transaction holding the chain's head (PostgreSQL; on SQLite it holds nothing): no round
/// of the sealer links anything until it ends.
async fn hold_the_head(app: &TestApp) -> sea_orm::DatabaseTransaction {
    let head = app.db.begin().await.expect("begin");
    if on_postgres() {
        head.execute_unprepared("SELECT id FROM audit_chain_head WHERE id = 1 FOR UPDATE")
            .await
            .expect("hold the head");
    }
    head
}

/// Inserts an unsealed entry behind the application's back.
async fn slip_in_an_entry(app: &TestApp) -> audit_log::Model {
    let slipped = audit_log::Model {
        id: uuid::Uuid::now_v7(),
        occurred_at: Utc::now(),
        actor_type: "user".to_owned(),
        actor_id: Some(demo_id("user:cadre1")),
        actor_role: Some("cadre".to_owned()),
        action: "household.update".to_owned(),
        entity_type: "household".to_owned(),
        entity_id: None,
        changes: None,
        request_id: None,
        client_addr: None,
        seq: None,
        prev_hash: None,
        row_hash: None,
    };
    audit_log::Entity::insert(audit_log::ActiveModel::from(slipped.clone()))
        .exec_without_returning(&app.db)
        .await
        .expect("insert behind the application's back");
    slipped
}

#[tokio::test]
async fn an_unsealed_entry_can_be_sealed_but_not_changed_in_the_same_update() {
    let app = spawn_app().await;
    app.seed().await;
    settled(&app).await;
    // Held, so that the sealer (PostgreSQL) leaves the entry unsealed meanwhile.
    let head = hold_the_head(&app).await;
    let entry = slip_in_an_entry(&app).await;
    let seal = || {
        audit_log::Entity::update_many()
            .col_expr(audit_log::Column::Seq, Expr::val(9_999_i64))
            .col_expr(audit_log::Column::PrevHash, Expr::val(GENESIS_HASH))
            .col_expr(audit_log::Column::RowHash, Expr::val(GENESIS_HASH))
            .filter(audit_log::Column::Id.eq(entry.id))
    };

    // A column changed, and a column inserted empty (NULL) filled in: both refused, the
    // second not let through as unknown.
    for (column, value) in [
        (audit_log::Column::Action, "household.delete"),
        (audit_log::Column::ClientAddr, "203.0.113.9"),
    ] {
        let altered = seal()
            .col_expr(column, Expr::val(value))
            .exec(&app.db)
            .await;
        let refusal = altered
            .expect_err("sealing and changing it is refused")
            .to_string();
        assert!(refusal.contains("append-only"), "{column:?}: {refusal}");
    }
    let sealed = seal().exec(&app.db).await.expect("sealing alone passes");
    head.rollback().await.expect("release the head");

    assert_eq!(sealed.rows_affected, 1);
    let stored = rows(&app)
        .await
        .into_iter()
        .find(|row| row.id == entry.id)
        .expect("the entry");
    assert_eq!(stored.action, "household.update", "as inserted");
    assert_eq!(stored.client_addr, None, "as inserted");
    assert_eq!(stored.seq, Some(9_999));
}

#[tokio::test]
async fn pruning_removes_old_entries_in_one_go_and_what_is_kept_still_verifies() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    some_mutations(&app, &admin, "ql").await;
    let old_end = entry(&app, 5).await;
    let between = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    some_mutations(&app, &admin, "qm").await;
    assert_eq!(app.audit_count().await, 8);

    assert!(matches!(
        audit::prune(&app.db, 30, between).await,
        Err(PruneError::RetentionTooShort(30))
    ));
    // Half a year on, entries 1–5 are older than 180 days, 6–8 are not.
    let report = audit::prune(&app.db, 180, between + Duration::days(180))
        .await
        .expect("prune");
    assert_eq!((report.removed, report.through_seq), (5, Some(5)));

    let kept = chain(&app).await;
    let seqs: Vec<i64> = kept.iter().filter_map(|row| row.seq).collect();
    assert_eq!(
        seqs,
        vec![6, 7, 8, 9],
        "the young entries and the prune's own"
    );
    assert_eq!(kept[3].action, "audit.prune");
    assert_eq!(kept[3].changes.as_ref().expect("changes")["removed"], 5);
    let checkpoints = audit_checkpoint::Entity::find()
        .all(&app.db)
        .await
        .expect("checkpoints");
    assert_eq!(checkpoints.len(), 1);
    assert_eq!(checkpoints[0].seq, 5);
    assert_eq!(Some(checkpoints[0].row_hash.clone()), old_end.row_hash);
    assert_eq!(checkpoints[0].pruned_count, 5);
    let verified = audit::verify(&app.db).await.expect("verify");
    assert!(verified.is_ok(), "{verified}");
    assert_eq!((verified.entries, verified.head_seq), (4, 9));

    assert!(
        delete_entry(&app, 6).await.is_err(),
        "kept entries still cannot be deleted"
    );
    assert!(
        audit_checkpoint::Entity::delete_many()
            .exec(&app.db)
            .await
            .is_err(),
        "nor checkpoints"
    );
    let again = audit::prune(&app.db, 180, between + Duration::days(180))
        .await
        .expect("prune again");
    assert_eq!(again.removed, 0, "nothing more is due");

    // Later still, everything goes; new entries chain on from the checkpoint.
    let report = audit::prune(&app.db, 180, Utc::now() + Duration::days(400))
        .await
        .expect("prune all");
    assert_eq!((report.removed, report.through_seq), (4, Some(9)));
    some_mutations(&app, &admin, "qn").await;
    let verified = audit::verify(&app.db).await.expect("verify");
    assert!(verified.is_ok(), "{verified}");
    assert_eq!((verified.entries, verified.head_seq), (4, 13));
}

#[tokio::test]
async fn a_broken_chain_is_not_pruned() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    some_mutations(&app, &admin, "pc").await;
    bypass_the_triggers(&app).await;
    set_changes(&app, 2, json!({"x": 1})).await.expect("tamper");

    let refused = audit::prune(&app.db, 180, Utc::now() + Duration::days(400)).await;
    assert!(
        matches!(refused, Err(PruneError::ChainBroken(_))),
        "{refused:?}"
    );
    assert_eq!(app.audit_count().await, 5, "the evidence stays");
}

#[tokio::test]
async fn the_command_line_verify_exits_non_zero_on_a_broken_chain() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    some_mutations(&app, &admin, "ml").await;
    let run = |args: &'static [&'static str], retention: Option<&'static str>| {
        let url = app.db_url();
        async move {
            tokio::task::spawn_blocking(move || {
                let mut command = Command::new(env!("CARGO_BIN_EXE_minqing"));
                command
                    .args(args)
                    .env("DATABASE_URL", url)
                    .env("MINQING_JWT_SECRET", TEST_JWT_SECRET)
                    .env("MINQING_LOG", "warn")
                    .env_remove("MINQING_AUDIT_RETENTION_DAYS");
                if let Some(days) = retention {
                    command.env("MINQING_AUDIT_RETENTION_DAYS", days);
                }
                command.output().expect("run minqing")
            })
            .await
            .expect("joined")
        }
    };

    let ok = run(&["audit", "verify"], None).await;
    let stdout = String::from_utf8_lossy(&ok.stdout).to_string();
    assert_eq!(ok.status.code(), Some(0), "{stdout}");
    assert!(stdout.starts_with("ok: 5 entries, head "), "{stdout}");

    let unset = run(&["audit", "prune"], None).await;
    assert_eq!(unset.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&unset.stdout).contains("kept forever"));
    let too_short = run(&["audit", "prune"], Some("30")).await;
    assert_eq!(
        too_short.status.code(),
        Some(2),
        "refused by the argument parser"
    );
    let nothing_due = run(&["audit", "prune"], Some("180")).await;
    assert_eq!(nothing_due.status.code(), Some(0));
    assert_eq!(app.audit_count().await, 5, "nothing is 180 days old");

    bypass_the_triggers(&app).await;
    set_changes(&app, 4, json!({"head_name": "篡改"}))
        .await
        .expect("tamper");
    let broken = run(&["audit", "verify"], None).await;
    let stdout = String::from_utf8_lossy(&broken.stdout).to_string();
    assert_eq!(broken.status.code(), Some(1), "{stdout}");
    assert!(stdout.starts_with("broken at seq 4"), "{stdout}");
}

#[tokio::test]
async fn reading_unmasked_phones_or_id_numbers_is_recorded_and_masked_reads_are_not() {
    let app = spawn_app().await;
    app.seed().await;
    let cadre = app.token_for("cadre1").await;
    let viewer = app.token_for("viewer1").await;
    let leader = app.token_for("leader1").await;
    let created = app
        .post_json(
            Some(&cadre),
            "/api/v1/households",
            &json!({"village_id": demo_id(villages::DONGGUAN), "head_name": "读审计", "phone": "13811112222", "id_card_number": "11010519491231002X"}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json()["id"].as_str().expect("id").to_owned();
    let path = format!("/api/v1/households/{id}");
    let reads = |app: &TestApp| {
        let db = app.db.clone();
        async move {
            audit_log::Entity::find()
                .filter(audit_log::Column::Action.eq("household.read_personal_data"))
                .order_by_asc(audit_log::Column::Seq)
                .all(&db)
                .await
                .expect("reads")
        }
    };
    assert!(
        reads(&app).await.is_empty(),
        "creating is audited as a creation only"
    );

    let shown = app
        .send(reqwest::Method::GET, &path, |request| {
            request
                .bearer_auth(&cadre)
                .header("x-request-id", "req-read-1")
        })
        .await;
    assert_eq!(
        shown.json()["phone"],
        "13811112222",
        "the cadre sees it unmasked"
    );
    let recorded = reads(&app).await;
    assert_eq!(recorded.len(), 1);
    let read = &recorded[0];
    assert_eq!(read.entity_type, "household");
    assert_eq!(read.entity_id.map(|id| id.to_string()), Some(id.clone()));
    assert_eq!(read.actor_id, Some(demo_id("user:cadre1")));
    assert_eq!(read.actor_role.as_deref(), Some("cadre"));
    assert_eq!(read.request_id.as_deref(), Some("req-read-1"));
    assert_eq!(read.client_addr.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        read.changes,
        Some(json!({"fields": ["phone", "id_card_number"]}))
    );

    for (who, token) in [("viewer", &viewer), ("leader", &leader)] {
        let masked = app.get_as(token, &path).await;
        assert_eq!(masked.status, 200, "{who}: {}", masked.text);
        assert_eq!(masked.json()["phone"], "138****2222", "{who}");
        let listed = app
            .get_as(
                token,
                &format!(
                    "/api/v1/households?village_id={}",
                    demo_id(villages::DONGGUAN)
                ),
            )
            .await;
        assert_eq!(listed.status, 200, "{who}");
    }
    assert_eq!(reads(&app).await.len(), 1, "masked reads are not recorded");

    let page = app
        .get_as(
            &cadre,
            &format!(
                "/api/v1/households?village_id={}&limit=3",
                demo_id(villages::DONGGUAN)
            ),
        )
        .await
        .json();
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 3);
    let with_personal_data: Vec<Value> = items
        .iter()
        .filter(|item| !item["phone"].is_null() || !item["id_card_number"].is_null())
        .map(|item| item["id"].clone())
        .collect();
    assert!(!with_personal_data.is_empty(), "the demo roster has phones");
    let recorded = reads(&app).await;
    assert_eq!(recorded.len(), 2, "one entry for the whole page");
    let list_read = &recorded[1];
    assert_eq!(list_read.entity_id, None);
    assert_eq!(
        list_read.changes.as_ref().expect("changes")["household_ids"],
        Value::Array(with_personal_data),
        "the households shown on the page"
    );
    assert!(audit::verify(&app.db).await.expect("verify").is_ok());
}

#[tokio::test]
async fn the_audit_trail_holds_no_password_token_phone_or_id_number() {
    let app = spawn_app().await;
    app.seed().await;
    let (phone, new_phone, id_card) = ("13987654321", "13700001111", "11010519491231002X");
    let session = app.login("admin").await;
    let wrong = app.login_raw("admin", "Wrong-Password-77").await;
    assert_eq!(wrong.status, 401);
    let created = app
        .post_json(
            Some(&session.access_token),
            "/api/v1/households",
            &json!({"village_id": demo_id(villages::DONGGUAN), "head_name": "审计卫生", "phone": phone, "id_card_number": id_card}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.json()["id"].as_str().expect("id").to_owned();
    let read = app
        .get_as(&session.access_token, &format!("/api/v1/households/{id}"))
        .await;
    assert_eq!(read.json()["id_card_number"], id_card);
    let changed = app
        .patch_json(
            &session.access_token,
            &format!("/api/v1/households/{id}"),
            &json!({"phone": new_phone}),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.text);
    let refreshed = app
        .post_json(
            None,
            "/api/v1/auth/refresh",
            &json!({"refresh_token": session.refresh_token}),
        )
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.text);
    let new_refresh = refreshed.json()["refresh_token"]
        .as_str()
        .expect("refresh")
        .to_owned();

    let trail = format!("{:?}", chain(&app).await);
    assert!(
        trail.contains("household.read_personal_data"),
        "the read is in it"
    );
    for (what, secret) in [
        ("password", DEMO_PASSWORD),
        ("wrong password", "Wrong-Password-77"),
        ("access token", session.access_token.as_str()),
        ("refresh token", session.refresh_token.as_str()),
        ("rotated refresh token", new_refresh.as_str()),
        ("phone", phone),
        ("new phone", new_phone),
        ("ID number", id_card),
    ] {
        assert!(!trail.contains(secret), "the audit trail contains a {what}");
    }
}

#[tokio::test]
async fn entries_written_before_the_chain_existed_join_it_at_the_next_write() {
    use migration::MigratorTrait;
    let app = spawn_app().await;
    app.seed().await;
    app.token_for("admin").await;
    settled(&app).await;
    // Roll back to before the chain: the chain's migration and the ones after it.
    let after_chain = migration::Migrator::migrations()
        .iter()
        .rev()
        .position(|migration| migration.name().contains("audit_chain"))
        .expect("the chain's migration")
        + 1;
    migration::Migrator::down(&app.db, Some(after_chain as u32))
        .await
        .expect("roll the chain back");
    migration::Migrator::up(&app.db, None)
        .await
        .expect("and apply it again");
    assert!(
        rows(&app).await.iter().all(|row| row.seq.is_none()),
        "the two old entries are outside the chain"
    );
    let report = audit::verify(&app.db).await.expect("verify");
    assert!(!report.is_ok(), "until they are sealed: {report}");

    app.token_for("cadre1").await;

    let rows = chain(&app).await;
    let actions: Vec<(Option<i64>, &str)> = rows
        .iter()
        .map(|row| (row.seq, row.action.as_str()))
        .collect();
    assert_eq!(
        actions,
        vec![
            (Some(1), "demo.seed"),
            (Some(2), "session.create"),
            (Some(3), "session.create")
        ],
        "in the order they were written"
    );
    let report = audit::verify(&app.db).await.expect("verify");
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.entries, 3);
}

#[tokio::test]
async fn a_pull_that_sends_phones_and_id_numbers_is_a_read_of_personal_data() {
    let app = spawn_app().await;
    app.seed().await;
    let reads = |db: sea_orm::DatabaseConnection| async move {
        audit_log::Entity::find()
            .filter(audit_log::Column::Action.eq("household.read_personal_data"))
            .all(&db)
            .await
            .expect("reads")
    };
    let pull = |token: String, cursor: String| {
        let app = &app;
        async move {
            let response = app
                .send(
                    reqwest::Method::GET,
                    &format!(
                        "/api/v1/sync/pull?last_pulled_at={cursor}&schema_version=1&migration=null"
                    ),
                    move |request| request.bearer_auth(token).header("x-device-id", "phone-a"),
                )
                .await;
            assert_eq!(response.status, 200, "{}", response.text);
            response.json()
        }
    };
    let cadre = app.token_for("cadre1").await;
    let first = pull(cadre.clone(), "null".to_owned()).await;
    let sent_with_phone = first["changes"]["households"]["created"]
        .as_array()
        .expect("households")
        .iter()
        .filter(|household| household["phone"].is_string())
        .count();
    assert!(sent_with_phone > 0, "the demo households have phones");
    let entries = reads(app.db.clone()).await;
    assert_eq!(entries.len(), 1, "one entry per pull");
    let changes = entries[0].changes.clone().expect("changes");
    assert_eq!(changes["via"], "sync_pull");
    assert_eq!(changes["device"], "phone-a");
    assert!(
        changes["household_ids"].as_array().expect("ids").len() >= sent_with_phone,
        "names every household shown"
    );
    // Nothing new since: no households sent, no entry.
    pull(cadre, first["timestamp"].to_string()).await;
    assert_eq!(reads(app.db.clone()).await.len(), 1);
    // A leader's pull shows them masked: no entry.
    let leader = app.token_for("leader1").await;
    pull(leader, "null".to_owned()).await;
    assert_eq!(reads(app.db.clone()).await.len(), 1);
}
