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
}

impl SeedReport {
    fn total(&self) -> u64 {
        self.org_units_inserted
            + self.departments_inserted
            + self.users_inserted
            + self.assignments_inserted
    }
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Demo county {} ({}) is in place.", COUNTY.1, COUNTY.0)?;
        writeln!(
            f,
            "  inserted now: {} organisation units, {} departments, {} accounts, {} assignments",
            self.org_units_inserted,
            self.departments_inserted,
            self.users_inserted,
            self.assignments_inserted
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

/// Seeds the demo county in one transaction.
pub async fn seed_demo(db: &sea_orm::DatabaseConnection) -> Result<SeedReport, DbErr> {
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
                })),
            },
        )
        .await?;
    }
    txn.commit().await?;
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
    }
}
