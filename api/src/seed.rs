//! `minqing seed-demo`: a small, realistic demo county for trying the API. Ids are derived
//! from the administrative codes (UUIDv5), and every insert skips rows that exist, so running
//! it twice changes nothing.

use std::fmt;

use chrono::Utc;
use entity::{
    department,
    org_unit::{self, OrgKind},
};
use sea_orm::{ActiveValue::Set, DbErr, EntityTrait, TransactionTrait};
use uuid::Uuid;

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

/// What the seeding did.
#[derive(Debug, Default)]
pub struct SeedReport {
    /// Organisation units inserted now (0 on a second run).
    pub org_units_inserted: u64,
    /// Departments inserted now (0 on a second run).
    pub departments_inserted: u64,
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Demo county {} ({}) is in place.", COUNTY.1, COUNTY.0)?;
        writeln!(
            f,
            "  inserted now: {} organisation units, {} departments",
            self.org_units_inserted, self.departments_inserted
        )?;
        for (_, town, districts) in TOWNS {
            let villages: Vec<&str> = districts
                .iter()
                .flat_map(|(_, _, villages)| villages.iter().map(|(_, name)| *name))
                .collect();
            writeln!(f, "  {town}: {}", villages.join("、"))?;
        }
        Ok(())
    }
}

/// Seeds the demo county in one transaction.
pub async fn seed_demo(db: &sea_orm::DatabaseConnection) -> Result<SeedReport, DbErr> {
    let txn = db.begin().await?;
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
