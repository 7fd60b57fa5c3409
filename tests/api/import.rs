//! Bulk import of the roster from an office's CSV.

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestResponse, demo_id, spawn_app};

async fn import(app: &TestApp, token: &str, query: &str, body: Vec<u8>) -> TestResponse {
    let (token, body) = (token.to_owned(), body);
    app.send(
        reqwest::Method::POST,
        &format!("/api/v1/households/import{query}"),
        move |request| {
            request
                .bearer_auth(token)
                .header("content-type", "text/csv")
                .body(body)
        },
    )
    .await
}

async fn household_count(app: &TestApp) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    entity::household::Entity::find()
        .count(&app.db)
        .await
        .expect("count")
}

fn gbk(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable);
    bytes.into_owned()
}

const GOOD_FILE: &str = "序号,镇,村,户主姓名,联系电话,家庭人口,身份证号,标签,备注\n\
1,东岭镇,石桥村,冯国强,13811112222,4,11010519491231002X,党员、困难,低保户\n\
2,东岭镇,石桥村,蒋桂芳,0531-86661234,2,,致富能手,\n\
3,,371526100203,沈德华,,1,,,\n";

#[tokio::test]
async fn a_gbk_file_with_chinese_headers_is_imported_and_reported() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let before = household_count(&app).await;

    let response = import(&app, &admin, "", gbk(GOOD_FILE)).await;

    assert_eq!(response.status, 200, "{}", response.text);
    let report = response.json();
    assert_eq!(report["encoding"], "gbk");
    assert_eq!(report["rows"], 3);
    assert_eq!(report["created"], 3);
    assert_eq!(report["imported"], true);
    assert_eq!(report["ignored_columns"], json!(["序号"]));
    assert_eq!(household_count(&app).await, before + 3);
    let found = app
        .get_as(&admin, "/api/v1/households?q=冯国强")
        .await
        .json();
    let household = &found["items"][0];
    assert_eq!(household["tags"], json!(["party_member", "hardship"]));
    assert_eq!(household["village_id"], json!(demo_id("371526100203")));
    assert_eq!(household["members_count"], 4);
    assert_eq!(household["notes"], "低保户");
    // The trail names the file and the households it created.
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    use sha2::Digest;
    let entry = entity::audit_log::Entity::find()
        .filter(entity::audit_log::Column::Action.eq("household.import"))
        .one(&app.db)
        .await
        .expect("audit")
        .expect("the import's entry");
    let changes = entry.changes.expect("changes");
    assert_eq!(
        changes["file_sha256"],
        format!("{:x}", sha2::Sha256::digest(gbk(GOOD_FILE)))
    );
    let created: Vec<uuid::Uuid> = entity::household::Entity::find()
        .filter(entity::household::Column::HeadName.is_in(["冯国强", "蒋桂芳", "沈德华"]))
        .all(&app.db)
        .await
        .expect("households")
        .into_iter()
        .map(|household| household.id)
        .collect();
    let bound = |end: &str| -> uuid::Uuid {
        serde_json::from_value(changes["created_ids"][end].clone()).expect("an id")
    };
    assert_eq!(created.len(), 3);
    assert!(
        created
            .iter()
            .all(|id| (bound("first")..=bound("last")).contains(id)),
        "{changes}"
    );
}

#[tokio::test]
async fn re_importing_the_same_file_changes_nothing_and_reports_the_existing_households() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let utf8_with_bom = [b"\xEF\xBB\xBF".as_slice(), GOOD_FILE.as_bytes()].concat();
    import(&app, &admin, "", utf8_with_bom.clone()).await;
    let count = household_count(&app).await;
    let audit = app.audit_count().await;

    let again = import(&app, &admin, "", utf8_with_bom).await;

    assert_eq!(again.status, 200, "{}", again.text);
    let report = again.json();
    assert_eq!(report["encoding"], "utf-8");
    assert_eq!(report["created"], 0);
    let matched: Vec<(u64, String)> = report["existing"]
        .as_array()
        .expect("existing")
        .iter()
        .map(|row| {
            (
                row["row"].as_u64().expect("row"),
                row["matched_by"].as_str().expect("by").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        matched,
        vec![
            (2, "id_card_number".to_owned()),
            (3, "village_head_phone".to_owned()),
            (4, "village_head_phone".to_owned())
        ]
    );
    assert_eq!(household_count(&app).await, count);
    assert_eq!(
        app.audit_count().await,
        audit,
        "nothing written, nothing audited"
    );
}

#[tokio::test]
async fn one_bad_row_imports_nothing_and_the_report_names_every_problem() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let file = "village,head_name,phone,id_card_number,members_count,tags\n\
石桥村,冯国强,13811112222,,3,党员\n\
石桥村,,12345,110105194912310021,0,\n\
不存在村,蒋桂芳,,,,村长 组长 会计 出纳 主任\n";
    let before = household_count(&app).await;

    let response = import(&app, &admin, "", file.as_bytes().to_vec()).await;

    response.assert_problem(422, "import_rejected");
    let invalid: Vec<Value> = response.json()["details"]["invalid"]
        .as_array()
        .expect("invalid")
        .clone();
    let found: Vec<(u64, &str, &str)> = invalid
        .iter()
        .map(|problem| {
            (
                problem["row"].as_u64().expect("row"),
                problem["field"].as_str().expect("field"),
                problem["code"].as_str().expect("code"),
            )
        })
        .collect();
    assert_eq!(
        found,
        vec![
            (3, "head_name", "required"),
            (3, "phone", "invalid_phone"),
            (3, "members_count", "invalid_number"),
            (3, "id_card_number", "invalid_id_card"),
            (4, "village", "unknown_village"),
            (4, "tags", "unknown_tag"),
        ]
    );
    let tags = &invalid[5]["message"];
    assert!(
        tags.as_str()
            .is_some_and(|message| message.contains("(5 in all)")),
        "five unknown tags are one problem: {tags}"
    );
    assert_eq!(response.json()["details"]["imported"], false);
    assert_eq!(household_count(&app).await, before, "all or nothing");

    let skipping = import(&app, &admin, "?skip_invalid=true", file.as_bytes().to_vec()).await;
    assert_eq!(skipping.status, 200, "{}", skipping.text);
    assert_eq!(skipping.json()["created"], 1);
    assert_eq!(household_count(&app).await, before + 1);
}

#[tokio::test]
async fn a_dry_run_reports_what_would_happen_and_writes_nothing() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let before = (household_count(&app).await, app.audit_count().await);

    let response = import(&app, &admin, "?dry_run=true", GOOD_FILE.as_bytes().to_vec()).await;

    assert_eq!(response.status, 200, "{}", response.text);
    assert_eq!(response.json()["created"], 3);
    assert_eq!(response.json()["imported"], false);
    assert_eq!(
        (household_count(&app).await, app.audit_count().await),
        before
    );
}

#[tokio::test]
async fn duplicates_in_the_file_and_in_the_database_are_reported_not_doubled() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let existing = app
        .get_as(
            &admin,
            &format!("/api/v1/households/{}", demo_id("household:371526100203:1")),
        )
        .await
        .json();
    let file = format!(
        "村,户主姓名,联系电话,身份证号\n\
石桥村,冯国强,13811112222,11010519491231002X\n\
石桥村,冯国强,13811112222,\n\
石桥村,冯国庆,13899990000,11010519491231002X\n\
石桥村,{},{},\n",
        existing["head_name"].as_str().expect("name"),
        existing["phone"].as_str().expect("phone"),
    );

    let response = import(&app, &admin, "", file.into_bytes()).await;

    assert_eq!(response.status, 200, "{}", response.text);
    let report = response.json();
    assert_eq!(report["created"], 1);
    assert_eq!(
        report["duplicates_in_file"],
        json!([{"row": 3, "same_as_row": 2}, {"row": 4, "same_as_row": 2}])
    );
    assert_eq!(report["existing"][0]["row"], 5);
    assert_eq!(report["existing"][0]["household_id"], existing["id"]);
}

#[tokio::test]
async fn only_admins_import_and_only_csv_is_taken() {
    let app = spawn_app().await;
    app.seed().await;

    let as_cadre = import(
        &app,
        &app.token_for("cadre1").await,
        "",
        GOOD_FILE.as_bytes().to_vec(),
    )
    .await;
    let as_json = app
        .post_json(
            Some(&app.token_for("admin").await),
            "/api/v1/households/import",
            &json!({"rows": []}),
        )
        .await;
    let no_header = import(
        &app,
        &app.token_for("admin").await,
        "",
        "a,b\n1,2\n".as_bytes().to_vec(),
    )
    .await;

    let mut workbook = b"PK\x03\x04\x14\x00\x06\x00".to_vec();
    workbook.extend_from_slice(&[0x8b; 64]);
    let excel = import(&app, &app.token_for("admin").await, "", workbook).await;

    as_cadre.assert_problem(403, "forbidden");
    as_json.assert_problem(415, "unsupported_media_type");
    excel.assert_problem(422, "not_csv");
    assert!(
        excel.text.contains("CSV"),
        "says what to do: {}",
        excel.text
    );
    no_header.assert_problem(422, "import_rejected");
    let missing = &no_header.json()["details"]["invalid"][0];
    assert_eq!(missing["code"], "missing_column");
    assert!(
        missing.get("column").is_none(),
        "no column to name: {missing}"
    );
    // skip_invalid skips rows, not a file without the required columns (found by schemathesis).
    let skipping = import(
        &app,
        &app.token_for("admin").await,
        "?skip_invalid=true&dry_run=true",
        "1.175494351e-38".as_bytes().to_vec(),
    )
    .await;
    skipping.assert_problem(422, "import_rejected");
}

/// A valid resident ID number from its first 17 digits (GB 11643: the check character).
fn id_card(first_17: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first_17
        .chars()
        .zip(WEIGHTS)
        .map(|(digit, weight)| digit.to_digit(10).expect("a digit") * weight)
        .sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{first_17}{check}")
}

#[tokio::test]
async fn two_heads_of_one_name_with_different_id_numbers_are_two_households_in_the_file_and_after_it()
 {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let (first, second, third) = (
        id_card("37152619700101001"),
        id_card("37152619750202002"),
        id_card("37152619800303003"),
    );
    let file = format!("村,户主姓名,身份证号\n石桥村,张伟,{first}\n石桥村,张伟,{second}\n");
    let later = format!("村,户主姓名,身份证号\n石桥村,张伟,{third}\n");
    let unnumbered = "村,户主姓名,身份证号\n石桥村,张伟,\n";

    let response = import(&app, &admin, "", file.into_bytes()).await;
    let again = import(&app, &admin, "", later.into_bytes()).await;
    let without_a_number = import(&app, &admin, "", unnumbered.as_bytes().to_vec()).await;

    assert_eq!(response.status, 200, "{}", response.text);
    assert_eq!(response.json()["created"], 2, "{}", response.text);
    assert_eq!(response.json()["duplicates_in_file"], json!([]));
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json()["created"], 1, "a third 张伟: {}", again.text);
    let report = without_a_number.json();
    assert_eq!(report["created"], 0, "{report}");
    assert_eq!(
        report["existing"][0]["matched_by"], "village_head_phone",
        "a 张伟 without an ID number cannot be told from those stored: {report}"
    );
}

#[tokio::test]
async fn rows_are_numbered_by_their_line_and_a_wrong_file_lists_its_first_thousand_problems() {
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let blank_lines = "村,户主姓名,联系电话\n石桥村,韩一,13811112222\n\n\n石桥村,韩二,12345\n";
    let two_name_columns = "村,姓名,户主姓名\n石桥村,韩三,韩三\n";
    let mut wrong_file = String::from("村,户主姓名\n");
    for index in 0..1_500 {
        wrong_file.push_str(&format!(",某{index}\n"));
    }
    let before = household_count(&app).await;

    let blank = import(&app, &admin, "", blank_lines.as_bytes().to_vec()).await;
    let doubled = import(&app, &admin, "", two_name_columns.as_bytes().to_vec()).await;
    let wrong = import(&app, &admin, "", wrong_file.into_bytes()).await;

    blank.assert_problem(422, "import_rejected");
    let details = &blank.json()["details"];
    assert_eq!(
        details["invalid"][0]["row"], 5,
        "line 5, as the spreadsheet shows it: {details}"
    );
    assert_eq!(details["invalid"][0]["field"], "phone");
    assert_eq!(
        details["invalid"][0]["column"], "联系电话",
        "named by the file's own header"
    );
    doubled.assert_problem(422, "import_rejected");
    let doubled_column = &doubled.json()["details"]["invalid"][0];
    assert_eq!(doubled_column["code"], "duplicate_column");
    assert_eq!(
        doubled_column["column"], "户主姓名",
        "the second of the two"
    );
    wrong.assert_problem(422, "import_rejected");
    let details = &wrong.json()["details"];
    assert_eq!(details["invalid"][0]["column"], "村");
    assert_eq!(details["invalid_total"], 1_500);
    assert_eq!(details["invalid"].as_array().expect("invalid").len(), 1_000);
    assert_eq!(details["invalid"][0]["row"], 2);
    assert!(
        wrong.json()["detail"]
            .as_str()
            .expect("detail")
            .starts_with("1500 problem")
    );
    assert_eq!(household_count(&app).await, before, "nothing imported");
}

/// Checking a file writes nothing, so it takes no write turn: on SQLite a large dry run must
/// not hold the one writer the field's pushes wait for. Here another connection holds the
/// writer throughout; the dry run answers anyway (waiting for it would end in 503).
#[tokio::test]
async fn a_dry_run_is_answered_while_another_connection_writes() {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let app = spawn_app().await;
    app.seed().await;
    let admin = app.token_for("admin").await;
    let writer = app.db.begin().await.expect("a transaction");
    writer
        .execute_unprepared("UPDATE sync_counter SET value = value")
        .await
        .expect("holds the writer");

    let checked = import(&app, &admin, "?dry_run=true", gbk(GOOD_FILE)).await;
    writer.rollback().await.expect("rollback");

    assert_eq!(checked.status, 200, "{}", checked.text);
    assert_eq!(
        checked.json()["created"],
        3,
        "would create: {}",
        checked.text
    );
    assert_eq!(checked.json()["imported"], false);
}
