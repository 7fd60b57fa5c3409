//! `minqing seed-demo`: a small, realistic demo county for trying the API. Ids are derived
//! from the administrative codes (UUIDv5), and every insert skips rows that exist, so running
//! it twice changes nothing.

use std::fmt;

use chrono::{NaiveDate, Utc};
use entity::{
    department,
    org_unit::{self, OrgKind},
    user::{self, Position, Role},
    village_assignment,
};
use sea_orm::{ActiveValue::Set, DbErr, EntityTrait};
use uuid::Uuid;

use crate::{
    audit::{self, AuditActor, AuditEntry},
    auth::password,
    db::begin_write,
};

/// The password of every demo account. Demo only: never seed a real deployment.
pub const DEMO_PASSWORD: &str = "demo-password";

/// The namespace of the demo's UUIDv5 ids.
const DEMO_NAMESPACE: Uuid = Uuid::from_u128(0x6d69_6e71_696e_6764_656d_6f00_0000_0001);

/// The stable id of a demo record with this code.
pub fn demo_id(code: &str) -> Uuid {
    Uuid::new_v5(&DEMO_NAMESPACE, code.as_bytes())
}

/// (administrative code, Chinese name).
type Named = (&'static str, &'static str);
/// A management district and its villages.
type District = (&'static str, &'static str, &'static [Named]);
/// A town and its districts.
type Town = (&'static str, &'static str, &'static [District]);

/// The demo county.
const COUNTY: Named = ("371526", "明德县");
/// Its towns, districts and villages.
const TOWNS: &[Town] = &[
    (
        "371526100",
        "东岭镇",
        &[
            (
                "371526100-d1",
                "东岭镇第一管区",
                &[("371526100201", "东关村"), ("371526100202", "柳树屯村")],
            ),
            (
                "371526100-d2",
                "东岭镇第二管区",
                &[("371526100203", "石桥村")],
            ),
        ],
    ),
    (
        "371526101",
        "西河镇",
        &[(
            "371526101-d1",
            "西河镇第一管区",
            &[
                ("371526101201", "河湾村"),
                ("371526101202", "杏花村"),
                ("371526101203", "王家庄村"),
            ],
        )],
    ),
];
/// Departments: (code, name, owning unit code).
const DEPARTMENTS: &[(&str, &str, &str)] = &[
    ("dept-371526-jt", "县交通运输局", "371526"),
    ("dept-371526-sl", "县水利局", "371526"),
    ("dept-371526-rs", "县人力资源和社会保障局", "371526"),
    ("dept-371526100-mz", "东岭镇民政办", "371526100"),
    ("dept-371526100-ny", "东岭镇农业农村办", "371526100"),
    ("dept-371526101-mz", "西河镇民政办", "371526101"),
];

/// A demo account: username, Chinese name, position, role, anchor code, department code,
/// villages it is assigned to (codes).
struct DemoUser {
    username: &'static str,
    display_name: &'static str,
    position: Position,
    role: Role,
    anchor: Option<&'static str>,
    department: Option<&'static str>,
    villages: &'static [&'static str],
}

const DEMO_USERS: &[DemoUser] = &[
    DemoUser {
        username: "admin",
        display_name: "系统管理员",
        position: Position::Other,
        role: Role::Admin,
        anchor: None,
        department: None,
        villages: &[],
    },
    DemoUser {
        username: "leader1",
        display_name: "赵建国",
        position: Position::PartySecretary,
        role: Role::Leader,
        anchor: Some("371526100"),
        department: None,
        villages: &[],
    },
    DemoUser {
        username: "cadre1",
        display_name: "李明",
        position: Position::VillageContactCadre,
        role: Role::Cadre,
        anchor: Some("371526100"),
        department: None,
        villages: &["371526100201", "371526100202"],
    },
    DemoUser {
        username: "cadre2",
        display_name: "王芳",
        position: Position::VillageContactCadre,
        role: Role::Cadre,
        anchor: Some("371526101"),
        department: None,
        villages: &["371526101201"],
    },
    DemoUser {
        username: "official1",
        display_name: "张秀英",
        position: Position::VillageOfficial,
        role: Role::VillageOfficial,
        anchor: Some("371526100201"),
        department: None,
        villages: &[],
    },
    DemoUser {
        username: "dept1",
        display_name: "陈志强",
        position: Position::DepartmentStaff,
        role: Role::Department,
        anchor: Some("371526"),
        department: Some("dept-371526-jt"),
        villages: &[],
    },
    DemoUser {
        username: "viewer1",
        display_name: "刘洋",
        position: Position::Other,
        role: Role::Viewer,
        anchor: Some("371526"),
        department: None,
        villages: &[],
    },
];

/// What the seeding did.
#[derive(Debug, Default)]
pub struct SeedReport {
    /// Organisation units inserted now (0 on a second run).
    pub org_units_inserted: u64,
    /// Departments inserted now (0 on a second run).
    pub departments_inserted: u64,
    /// Demo accounts inserted now (0 on a second run).
    pub users_inserted: u64,
    /// Village assignments inserted now (0 on a second run).
    pub assignments_inserted: u64,
    /// Households inserted now (0 on a second run).
    pub households_inserted: u64,
    /// Enterprises inserted now (0 on a second run).
    pub enterprises_inserted: u64,
    /// Pairings inserted now (0 on a second run).
    pub pairings_inserted: u64,
    /// Visits inserted now (0 on a second run).
    pub visits_inserted: u64,
    /// Issues inserted now (0 on a second run).
    pub issues_inserted: u64,
}

impl SeedReport {
    fn total(&self) -> u64 {
        self.org_units_inserted
            + self.departments_inserted
            + self.users_inserted
            + self.assignments_inserted
            + self.households_inserted
            + self.enterprises_inserted
            + self.pairings_inserted
            + self.visits_inserted
            + self.issues_inserted
    }
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Demo county {} ({}) is in place.", COUNTY.1, COUNTY.0)?;
        writeln!(
            f,
            "  inserted now: {} organisation units, {} departments, {} accounts, {} assignments, \
             {} households, {} enterprises, {} pairings, {} visits, {} issues",
            self.org_units_inserted,
            self.departments_inserted,
            self.users_inserted,
            self.assignments_inserted,
            self.households_inserted,
            self.enterprises_inserted,
            self.pairings_inserted,
            self.visits_inserted,
            self.issues_inserted
        )?;
        for (_, town, districts) in TOWNS {
            let villages: Vec<&str> = districts
                .iter()
                .flat_map(|(_, _, villages)| villages.iter().map(|(_, name)| *name))
                .collect();
            writeln!(f, "  {town}: {}", villages.join("、"))?;
        }
        writeln!(f, "Demo accounts (password `{DEMO_PASSWORD}`; demo only):")?;
        for user in DEMO_USERS {
            writeln!(
                f,
                "  {:<10} {:<16} {}",
                user.username,
                crate::auth::role_name(user.role),
                user.display_name
            )?;
        }
        Ok(())
    }
}

/// What to seed.
#[derive(Debug, Clone, Copy)]
pub struct SeedOptions {
    /// Also four months of visits and issues (tests that count ledger items leave it out).
    pub ledger: bool,
}

/// Why `seed-demo` refuses a database.
#[derive(Debug)]
pub struct NotADemoDatabase(String);

impl fmt::Display for NotADemoDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "this database holds {}: it is not a demo's. The demo's accounts all share the \
             password `{DEMO_PASSWORD}`; seed it only into a database of its own (another \
             DATABASE_URL, or an empty SQLite file)",
            self.0
        )
    }
}

impl std::error::Error for NotADemoDatabase {}

/// Refuses a database that holds anything of a real deployment — a county or an account the
/// demo did not create — so that `seed-demo` never adds accounts with a known password there.
pub async fn check_demo_only(
    db: &sea_orm::DatabaseConnection,
) -> Result<(), Box<dyn std::error::Error>> {
    use sea_orm::{ColumnTrait, QueryFilter};

    let county = org_unit::Entity::find()
        .filter(org_unit::Column::Kind.eq(OrgKind::County))
        .filter(org_unit::Column::Id.ne(demo_id(COUNTY.0)))
        .one(db)
        .await?;
    if let Some(county) = county {
        return Err(NotADemoDatabase(format!("the county {}", county.name)).into());
    }
    let account = user::Entity::find()
        .filter(
            user::Column::Id.is_not_in(
                DEMO_USERS
                    .iter()
                    .map(|demo| demo_id(&format!("user:{}", demo.username))),
            ),
        )
        .one(db)
        .await?;
    if let Some(account) = account {
        return Err(NotADemoDatabase(format!("the account `{}`", account.username)).into());
    }
    Ok(())
}

/// Seeds the whole demo: the county, accounts, roster and ledger.
pub async fn seed_demo(db: &sea_orm::DatabaseConnection) -> Result<SeedReport, DbErr> {
    seed_demo_with(db, SeedOptions { ledger: true }).await
}

/// Seeds the demo county in one transaction.
pub async fn seed_demo_with(
    db: &sea_orm::DatabaseConnection,
    options: SeedOptions,
) -> Result<SeedReport, DbErr> {
    // One hash for all demo accounts: hashing is deliberately slow.
    let password_hash =
        password::hash(DEMO_PASSWORD).map_err(|error| DbErr::Custom(error.to_string()))?;
    let txn = begin_write(db).await?;
    let now = Utc::now();
    let county_id = demo_id(COUNTY.0);
    let mut units = vec![org_unit_row(
        county_id,
        None,
        OrgKind::County,
        COUNTY,
        county_id,
        None,
        None,
        now,
    )];
    for (town_code, town_name, districts) in TOWNS {
        let town_id = demo_id(town_code);
        units.push(org_unit_row(
            town_id,
            Some(county_id),
            OrgKind::Town,
            (town_code, town_name),
            county_id,
            Some(town_id),
            None,
            now,
        ));
        for (district_code, district_name, villages) in *districts {
            let district_id = demo_id(district_code);
            units.push(org_unit_row(
                district_id,
                Some(town_id),
                OrgKind::District,
                (district_code, district_name),
                county_id,
                Some(town_id),
                Some(district_id),
                now,
            ));
            for village in *villages {
                units.push(org_unit_row(
                    demo_id(village.0),
                    Some(district_id),
                    OrgKind::Village,
                    *village,
                    county_id,
                    Some(town_id),
                    Some(district_id),
                    now,
                ));
            }
        }
    }
    let mut report = SeedReport::default();
    // Parents come before children in `units`, so the foreign keys hold row by row.
    for unit in units {
        report.org_units_inserted += inserted(
            org_unit::Entity::insert(unit)
                .on_conflict_do_nothing()
                .exec_without_returning(&txn)
                .await?,
        );
    }
    let departments = DEPARTMENTS
        .iter()
        .map(|(code, name, owner)| department::ActiveModel {
            id: Set(demo_id(code)),
            org_unit_id: Set(demo_id(owner)),
            name: Set((*name).to_owned()),
            code: Set((*code).to_owned()),
            created_at: Set(now),
        });
    report.departments_inserted = inserted(
        department::Entity::insert_many(departments)
            .on_conflict_do_nothing()
            .exec_without_returning(&txn)
            .await?,
    );
    let mut users = Vec::new();
    let mut assignments = Vec::new();
    for demo in DEMO_USERS {
        let id = demo_id(&format!("user:{}", demo.username));
        users.push(user::ActiveModel {
            id: Set(id),
            username: Set(demo.username.to_owned()),
            display_name: Set(demo.display_name.to_owned()),
            phone: Set(Some(format!("1390000{:04}", users.len() + 1))),
            position: Set(demo.position),
            role: Set(demo.role),
            scope_org_unit_id: Set(demo.anchor.map(demo_id)),
            department_id: Set(demo.department.map(demo_id)),
            password_hash: Set(password_hash.clone()),
            active: Set(true),
            created_at: Set(now),
            updated_at: Set(now),
        });
        for village in demo.villages {
            assignments.push(village_assignment::ActiveModel {
                id: Set(demo_id(&format!("assignment:{}:{village}", demo.username))),
                user_id: Set(id),
                village_id: Set(demo_id(village)),
                starts_on: Set(NaiveDate::from_ymd_opt(2026, 4, 1).unwrap_or_default()),
                ends_on: Set(None),
                created_at: Set(now),
            });
        }
    }
    report.users_inserted = inserted(
        user::Entity::insert_many(users)
            .on_conflict_do_nothing()
            .exec_without_returning(&txn)
            .await?,
    );
    report.assignments_inserted = inserted(
        village_assignment::Entity::insert_many(assignments)
            .on_conflict_do_nothing()
            .exec_without_returning(&txn)
            .await?,
    );
    seed_roster(&txn, &mut report, now).await?;
    if options.ledger {
        seed_ledger(&txn, &mut report, now).await?;
        seed_campaign(&txn, county_id, now).await?;
    }
    if report.total() > 0 {
        audit::record(
            &txn,
            &AuditActor::system(),
            AuditEntry {
                action: "demo.seed",
                entity_type: "deployment",
                entity_id: None,
                changes: Some(serde_json::json!({
                    "org_units": report.org_units_inserted,
                    "departments": report.departments_inserted,
                    "users": report.users_inserted,
                    "assignments": report.assignments_inserted,
                    "households": report.households_inserted,
                    "enterprises": report.enterprises_inserted,
                    "pairings": report.pairings_inserted,
                    "visits": report.visits_inserted,
                    "issues": report.issues_inserted,
                })),
            },
        )
        .await?;
    }
    crate::db::commit(txn).await?;
    Ok(report)
}

fn inserted(result: sea_orm::TryInsertResult<u64>) -> u64 {
    match result {
        sea_orm::TryInsertResult::Inserted(count) => count,
        _ => 0,
    }
}

#[expect(
    clippy::too_many_arguments,
    reason = "a row literal; names at the call sites say what is what"
)]
fn org_unit_row(
    id: Uuid,
    parent_id: Option<Uuid>,
    kind: OrgKind,
    (code, name): (&str, &str),
    county_id: Uuid,
    town_id: Option<Uuid>,
    district_id: Option<Uuid>,
    now: chrono::DateTime<Utc>,
) -> org_unit::ActiveModel {
    org_unit::ActiveModel {
        id: Set(id),
        parent_id: Set(parent_id),
        kind: Set(kind),
        name: Set(name.to_owned()),
        code: Set(code.to_owned()),
        county_id: Set(county_id),
        town_id: Set(town_id),
        district_id: Set(district_id),
        created_at: Set(now),
        ..Default::default()
    }
}

/// Households per demo village.
pub const HOUSEHOLDS_PER_VILLAGE: usize = 50;

const SURNAMES: [&str; 20] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗",
];
const GIVEN_NAMES: [&str; 20] = [
    "建国", "秀英", "志强", "桂兰", "玉梅", "海军", "春生", "金花", "德明", "丽华", "永福", "淑珍",
    "国华", "红梅", "文斌", "凤英", "卫东", "翠兰", "长青", "小燕",
];

/// The tags of the `index`-th demo household of a village. The first three of every village
/// are a party member in hardship, a party member, and a resident in hardship, so that a
/// complete 123 pairing can be made in any village.
fn demo_tags(index: usize) -> i32 {
    use crate::households::HouseholdTag::*;
    let mut tags = Vec::new();
    match index {
        0 => tags.extend([PartyMember, Hardship]),
        1 => tags.push(PartyMember),
        2 => tags.push(Hardship),
        _ => {
            if index.is_multiple_of(7) {
                tags.push(PartyMember);
            }
            if index.is_multiple_of(5) {
                tags.push(Hardship);
            }
            if index.is_multiple_of(11) {
                tags.push(WealthLeader);
            }
            if index.is_multiple_of(13) {
                tags.push(FormerCadre);
            }
            if index.is_multiple_of(17) {
                tags.push(Dissenting);
            }
        }
    }
    crate::households::HouseholdTag::bits(&tags)
}

/// A valid ID number for a demo household (every third household has one).
fn demo_id_card(village_number: usize, index: usize) -> Option<String> {
    if !index.is_multiple_of(3) {
        return None;
    }
    let birth = NaiveDate::from_ymd_opt(1950, 1, 1)?
        + chrono::Days::new((village_number * 977 + index * 331) as u64 % 20_000);
    let first = format!(
        "371526{}{:03}",
        birth.format("%Y%m%d"),
        (village_number * 100 + index) % 1000
    );
    let check = crate::privacy::id_card_check_character(&first)?;
    Some(format!("{first}{check}"))
}

async fn seed_roster(
    txn: &impl sea_orm::ConnectionTrait,
    report: &mut SeedReport,
    now: chrono::DateTime<Utc>,
) -> Result<(), DbErr> {
    use entity::{enterprise, household, pairing};
    let county_id = demo_id(COUNTY.0);
    let mut households = Vec::new();
    let mut village_number = 0;
    for (town_code, _, districts) in TOWNS {
        for (_, _, villages) in *districts {
            for (village_code, village_name) in *villages {
                village_number += 1;
                for index in 0..HOUSEHOLDS_PER_VILLAGE {
                    let name = format!(
                        "{}{}",
                        SURNAMES[(index + village_number) % SURNAMES.len()],
                        GIVEN_NAMES[(index * 7 + village_number) % GIVEN_NAMES.len()]
                    );
                    households.push(household::ActiveModel::from(household::Model {
                        id: demo_id(&format!("household:{village_code}:{index}")),
                        county_id,
                        town_id: demo_id(town_code),
                        village_id: demo_id(village_code),
                        head_name: name,
                        phone: Some(format!(
                            "13{}{:08}",
                            5 + village_number % 4,
                            village_number * 1_000_000 + index * 7919
                        )),
                        address: Some(format!("{village_name}{}组{}号", index % 6 + 1, index + 1)),
                        members_count: i32::try_from(index % 6 + 1).ok(),
                        id_card_number: demo_id_card(village_number, index),
                        latitude: Some(
                            36.20 + village_number as f64 * 0.01 + index as f64 * 0.0001,
                        ),
                        longitude: Some(117.10 + village_number as f64 * 0.01),
                        tags: demo_tags(index),
                        notes: None,
                        last_visited_at: None,
                        version: 1,
                        created_by: None,
                        created_at: now,
                        updated_at: now,
                        change_seq: 0,
                        created_seq: 0,
                        origin_device: None,
                    }));
                }
            }
        }
    }
    for chunk in households.chunks(200) {
        report.households_inserted += inserted(
            household::Entity::insert_many(chunk.to_vec())
                .on_conflict_do_nothing()
                .exec_without_returning(txn)
                .await?,
        );
    }
    let enterprises = [
        (
            "371526100",
            Some("371526100201"),
            "东岭镇宏达物流有限公司",
            "周海",
        ),
        ("371526100", None, "东岭镇农机合作社", "吴德明"),
        (
            "371526101",
            Some("371526101201"),
            "河湾村果品加工厂",
            "郭春生",
        ),
    ]
    .map(|(town, village, name, contact)| {
        enterprise::ActiveModel::from(enterprise::Model {
            id: demo_id(&format!("enterprise:{name}")),
            county_id,
            town_id: demo_id(town),
            village_id: village.map(demo_id),
            name: name.to_owned(),
            contact_name: Some(contact.to_owned()),
            contact_phone: Some("0531-88886666".to_owned()),
            address: None,
            notes: None,
            version: 1,
            created_at: now,
            updated_at: now,
            change_seq: 0,
            created_seq: 0,
            origin_device: None,
        })
    });
    report.enterprises_inserted = inserted(
        enterprise::Entity::insert_many(enterprises)
            .on_conflict_do_nothing()
            .exec_without_returning(txn)
            .await?,
    );
    // cadre1's pairing is complete (households 0–4 of 东关村); cadre2's is not (two of 河湾村).
    let pairings = [
        ("cadre1", "371526100", "371526100201", 0..5),
        ("cadre2", "371526101", "371526101201", 0..2),
    ]
    .into_iter()
    .flat_map(|(cadre, town, village, indexes)| {
        indexes.map(move |index| {
            pairing::ActiveModel::from(pairing::Model {
                id: demo_id(&format!("pairing:{cadre}:{village}:{index}")),
                cadre_id: demo_id(&format!("user:{cadre}")),
                household_id: demo_id(&format!("household:{village}:{index}")),
                county_id,
                town_id: demo_id(town),
                village_id: demo_id(village),
                created_at: now,
                change_seq: 0,
                created_seq: 0,
                origin_device: None,
            })
        })
    });
    report.pairings_inserted = inserted(
        pairing::Entity::insert_many(pairings)
            .on_conflict_do_nothing()
            .exec_without_returning(txn)
            .await?,
    );
    Ok(())
}

/// Who visits where in the demo: (cadre, town code, village code).
const DEMO_VISITORS: [(&str, &str, &str); 4] = [
    ("cadre1", "371526100", "371526100201"),
    ("cadre1", "371526100", "371526100202"),
    ("official1", "371526100", "371526100201"),
    ("cadre2", "371526101", "371526101201"),
];

/// Matters residents raise, by category.
const DEMO_MATTERS: [(entity::issue::Category, &str); 6] = [
    (
        entity::issue::Category::PracticalDifficulty,
        "村东头路灯坏了三盏，夜里出行不便",
    ),
    (
        entity::issue::Category::PracticalDifficulty,
        "自来水压力不足，高处农户用水困难",
    ),
    (
        entity::issue::Category::WorkShortcoming,
        "垃圾清运不及时，路边堆放",
    ),
    (
        entity::issue::Category::DevelopmentSuggestion,
        "建议建设村级文化广场",
    ),
    (
        entity::issue::Category::PracticalDifficulty,
        "通村公路破损，雨天难行",
    ),
    (
        entity::issue::Category::DevelopmentSuggestion,
        "希望组织果树种植技术培训",
    ),
];

/// Four months of visits with issues in every state: answered on the spot, open (the older
/// ones overdue), in progress, resolved awaiting feedback, struck off, and escalated to a
/// town department.
async fn seed_ledger(
    txn: &impl sea_orm::ConnectionTrait,
    report: &mut SeedReport,
    now: chrono::DateTime<Utc>,
) -> Result<(), DbErr> {
    use entity::{
        escalation,
        issue::{self, Level, Status},
        issue_event::{self, EventKind},
        visit::{self, Channel},
    };
    let county_id = demo_id(COUNTY.0);
    let mut visits = Vec::new();
    let mut issues = Vec::new();
    let mut events = Vec::new();
    let mut escalations = Vec::new();
    for (visitor, town, village) in DEMO_VISITORS {
        let cadre_id = demo_id(&format!("user:{visitor}"));
        for number in 0..12_usize {
            let visited_at = now - chrono::Duration::days(120 - number as i64 * 10);
            let household_index = 10 + number + if visitor == "official1" { 20 } else { 0 };
            let household_id = demo_id(&format!("household:{village}:{household_index}"));
            let visit_id = demo_id(&format!("visit:{visitor}:{village}:{number}"));
            let rating = 3 + (number % 3) as i16;
            visits.push(visit::ActiveModel::from(visit::Model {
                id: visit_id,
                county_id,
                town_id: demo_id(town),
                village_id: demo_id(village),
                household_id: Some(household_id),
                enterprise_id: None,
                cadre_id,
                channel: if number % 4 == 3 {
                    Channel::DutySitIn
                } else {
                    Channel::DoorToDoor
                },
                visited_at,
                received_at: visited_at + chrono::Duration::hours(2),
                answers: Some(serde_json::json!({
                    "basic_situation": {"employment": "务农", "medical": "参加了新农合"},
                    "cadre_evaluation": {"rating": rating, "comment": "干部常来走访"},
                })),
                cadre_rating: Some(rating),
                diary_note: Some("入户走访，了解家庭情况".to_owned()),
                service_card_given: true,
                latitude: None,
                longitude: None,
                device_id: None,
                duty_id: None,
                change_seq: 0,
                created_seq: 0,
                origin_device: None,
            }));
            let (category, matter) = DEMO_MATTERS[number % DEMO_MATTERS.len()];
            let issue_id = demo_id(&format!("issue:{visitor}:{village}:{number}"));
            let state = number % 6;
            let raised_on = visited_at
                .with_timezone(&crate::clock::CHINA_STANDARD_TIME)
                .date_naive();
            let deadline = raised_on + chrono::Days::new(if state == 5 { 30 } else { 15 });
            let status = match state {
                0 | 4 => Status::Closed,
                1 => Status::Open,
                2 | 5 => Status::InProgress,
                _ => Status::Resolved,
            };
            let department = (state == 5).then(|| demo_id(&format!("dept-{town}-mz")));
            issues.push(issue::ActiveModel::from(issue::Model {
                id: issue_id,
                county_id,
                town_id: demo_id(town),
                village_id: demo_id(village),
                visit_id: Some(visit_id),
                channel: Channel::DoorToDoor,
                applicant_household_id: Some(household_id),
                applicant_name: format!(
                    "{}{}",
                    SURNAMES[number % SURNAMES.len()],
                    GIVEN_NAMES[(number * 3) % GIVEN_NAMES.len()]
                ),
                applicant_phone: Some(format!("1380000{:04}", number * 37)),
                category,
                matter: matter.to_owned(),
                answered_on_spot: state == 0,
                spot_answer: (state == 0).then(|| "当场解答了政策".to_owned()),
                level: if state == 5 {
                    Level::Town
                } else {
                    Level::Village
                },
                lead_responsible_id: cadre_id,
                handler_org_unit_id: if state == 5 {
                    demo_id(town)
                } else {
                    demo_id(village)
                },
                handler_department_id: department,
                named_cadre_id: None,
                deadline: (state != 0).then_some(deadline),
                status,
                is_deed: state == 4,
                latest_progress: matches!(state, 2..=5).then(|| "已协调相关部门办理".to_owned()),
                resolution: matches!(state, 3 | 4).then(|| "已办结".to_owned()),
                feedback_given: matches!(state, 0 | 4),
                applicant_satisfied: (state == 4).then_some(true),
                resolved_at: matches!(state, 0 | 3 | 4)
                    .then_some(visited_at + chrono::Duration::days(5)),
                closed_at: matches!(state, 0 | 4).then_some(visited_at + chrono::Duration::days(8)),
                version: 1,
                created_at: visited_at,
                updated_at: visited_at,
                change_seq: 0,
                created_seq: 0,
                origin_device: None,
            }));
            let kinds: &[EventKind] = match state {
                0 | 1 => &[EventKind::Created],
                2 => &[EventKind::Created, EventKind::Progress],
                3 => &[EventKind::Created, EventKind::Progress, EventKind::Resolved],
                4 => &[
                    EventKind::Created,
                    EventKind::Progress,
                    EventKind::Resolved,
                    EventKind::Feedback,
                    EventKind::Closed,
                ],
                _ => &[EventKind::Created, EventKind::Escalated],
            };
            for (order, kind) in kinds.iter().enumerate() {
                let by_leader = *kind == EventKind::Closed;
                events.push(issue_event::ActiveModel::from(issue_event::Model {
                    id: demo_id(&format!("event:{visitor}:{village}:{number}:{order}")),
                    issue_id,
                    kind: *kind,
                    actor_id: Some(if by_leader {
                        demo_id("user:leader1")
                    } else {
                        cadre_id
                    }),
                    actor_role: Some(if by_leader { "leader" } else { "cadre" }.to_owned()),
                    note: None,
                    data: None,
                    occurred_at: visited_at + chrono::Duration::days(order as i64),
                    change_seq: 0,
                    created_seq: 0,
                    origin_device: None,
                }));
            }
            if let Some(department_id) = department {
                escalations.push(escalation::ActiveModel::from(escalation::Model {
                    id: demo_id(&format!("escalation:{visitor}:{village}:{number}")),
                    issue_id,
                    from_level: Level::Village,
                    to_level: Level::Town,
                    from_org_unit_id: demo_id(village),
                    to_org_unit_id: demo_id(town),
                    department_id,
                    reason: "村级无力解决，需镇民政办协调".to_owned(),
                    new_deadline: deadline,
                    escalated_by: cadre_id,
                    escalated_at: visited_at + chrono::Duration::days(1),
                    accepted_by: None,
                    accepted_at: None,
                }));
            }
        }
    }
    report.visits_inserted = inserted(
        visit::Entity::insert_many(visits)
            .on_conflict_do_nothing()
            .exec_without_returning(txn)
            .await?,
    );
    report.issues_inserted = inserted(
        issue::Entity::insert_many(issues)
            .on_conflict_do_nothing()
            .exec_without_returning(txn)
            .await?,
    );
    issue_event::Entity::insert_many(events)
        .on_conflict_do_nothing()
        .exec_without_returning(txn)
        .await?;
    escalation::Entity::insert_many(escalations)
        .on_conflict_do_nothing()
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// The county's campaign of this year, as the source documents describe it (once).
async fn seed_campaign(
    txn: &impl sea_orm::ConnectionTrait,
    county_id: Uuid,
    now: chrono::DateTime<Utc>,
) -> Result<(), DbErr> {
    use chrono::Datelike;
    let year = now.with_timezone(&crate::clock::CHINA_STANDARD_TIME).year();
    use sea_orm::{ColumnTrait, QueryFilter};
    let exists = entity::campaign::Entity::find()
        .filter(entity::campaign::Column::OrgUnitId.eq(county_id))
        .filter(entity::campaign::Column::Year.eq(year))
        .one(txn)
        .await?
        .is_some();
    if exists {
        return Ok(());
    }
    let spec = crate::campaigns::CampaignSpec::standard(year)
        .ok_or_else(|| DbErr::Custom(format!("no standard campaign for {year}")))?;
    crate::campaigns::create_campaign(txn, &crate::access::Scope::All, county_id, spec)
        .await
        .map_err(|error| DbErr::Custom(error.to_string()))?;
    Ok(())
}
