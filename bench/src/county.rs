//! The county generator: a whole county written straight into a freshly migrated database —
//! org units, departments, users and their village assignments, households, a year of
//! visits, and issues in every state with their timelines and escalations — with multi-row
//! INSERTs in large transactions, the same database from the same seed.
//!
//! `--scale 1.0` is the county of issue 10: 15 towns, 300 villages, 150,000 households,
//! 1,000 cadres, 1,000,000 visits and 200,000 issues. Smaller scales keep 500 households a
//! village (so a cadre's five villages stay ~2,500 households) and have fewer villages.
//!
//! Visits are generated day by day, oldest first, so that their time-ordered ids (UUIDv7 of
//! `visited_at`, like the server's) land at the end of the primary-key index. An issue's
//! story (progress, escalation, resolution, feedback, strike-off) is drawn at once and cut at
//! the generation's "now": what would have happened later has not happened yet, so issues
//! raised last week are open, a few old ones are stuck and overdue, most are closed.

use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, TimeDelta, Utc, Weekday};
use entity::{
    issue::{Category, Level, Status},
    issue_event::EventKind,
    org_unit::OrgKind,
    user::{Position, Role},
    visit::Channel,
};
use sea_orm::{
    ActiveEnum, ConnectionTrait, DatabaseConnection, DbErr, Statement, TransactionTrait, Value,
};
use serde_json::json;
use uuid::Uuid;

use crate::{
    BenchResult,
    bulk::Bulk,
    rng::{Rng, id_of},
};

/// Households in every village (150,000 / 300).
pub const HOUSEHOLDS_PER_VILLAGE: usize = 500;
/// Visits per household over the year (1,000,000 / 150,000).
const VISITS_PER_HOUSEHOLD: f64 = 20.0 / 3.0;
/// Days of visits.
const DAYS: i64 = 365;
/// Local time is UTC+8 (the server's default).
const LOCAL_OFFSET: TimeDelta = TimeDelta::hours(8);
/// Rows collected before they are written and committed.
const ROWS_PER_TRANSACTION: usize = 60_000;
/// The password of every generated account.
pub const PASSWORD: &str = api::seed::DEMO_PASSWORD;

/// Kinds of records, for ids derived by index.
mod kind {
    pub const ORG_UNIT: u64 = 1;
    pub const DEPARTMENT: u64 = 2;
    pub const USER: u64 = 3;
    pub const ASSIGNMENT: u64 = 4;
    pub const HOUSEHOLD: u64 = 5;
    pub const HOUSEHOLD_DATA: u64 = 6;
    pub const SCHEDULE: u64 = 7;
    pub const CONTENT: u64 = 8;
}

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// 1.0 = the full county.
    pub scale: f64,
    /// The seed: the same seed (and `as_of`) gives the same database.
    pub seed: u64,
    /// The day the data ends (exclusive, UTC midnight): visits span the 365 days before it.
    pub as_of: NaiveDate,
    /// Issues raised per visit (and by the hotline and mailbox), as a multiple of the usual
    /// 18% (and 2%): 5 gives the million issues of issue 7's county at scale 1.
    pub issue_factor: u32,
}

/// A generated account the benchmark logs in as.
#[derive(Debug, Clone)]
pub struct Person {
    /// Login name (password [`PASSWORD`]).
    pub username: String,
    /// Id.
    pub id: Uuid,
}

/// A cadre's phone: who, and the households of their villages.
#[derive(Debug, Clone)]
pub struct Phone {
    /// The cadre.
    pub cadre: Person,
    /// Their town.
    pub town_id: Uuid,
    /// Their villages.
    pub villages: Vec<Uuid>,
    /// The households of those villages, village by village.
    pub households: Vec<Uuid>,
}

impl Phone {
    /// The village of household `index` of [`Phone::households`].
    pub fn village_of(&self, index: usize) -> Uuid {
        self.villages[(index / HOUSEHOLDS_PER_VILLAGE).min(self.villages.len() - 1)]
    }
}

/// How the generated issues stand at the end.
#[derive(Debug, Clone, Copy, Default)]
pub struct IssueTally {
    /// Open (in the ledger).
    pub open: u64,
    /// In progress.
    pub in_progress: u64,
    /// Resolved, the applicant not yet told.
    pub awaiting_feedback: u64,
    /// Resolved and told, not yet struck off.
    pub told: u64,
    /// Struck off (ledger issues).
    pub closed: u64,
    /// Answered on the spot (not in the ledger).
    pub on_the_spot: u64,
    /// Open or in progress past the deadline (as of the generation day).
    pub overdue: u64,
    /// Marked as deeds.
    pub deeds: u64,
    /// Escalated at least once.
    pub escalated: u64,
}

impl IssueTally {
    /// Issues in the ledger (all but those answered on the spot).
    pub fn ledger(&self) -> u64 {
        self.open + self.in_progress + self.awaiting_feedback + self.told + self.closed
    }
}

/// The generated county: who to log in as, and what was written.
#[derive(Debug, Clone)]
pub struct County {
    /// The county.
    pub county_id: Uuid,
    /// A village-contact cadre (包村干部) of the first town, with ~5 villages (also the first
    /// of [`County::phones`]).
    pub cadre: Phone,
    /// One village-contact cadre per town, each with their own villages: the phones of the
    /// push scenario (a county's concurrent pushes come from different cadres).
    pub phones: Vec<Phone>,
    /// The first town's party secretary (role leader, scope the town).
    pub town_leader: Person,
    /// The first town.
    pub town_id: Uuid,
    /// The county's viewer.
    pub viewer: Person,
    /// Rows written per table.
    pub rows: Vec<(&'static str, u64)>,
    /// How long the generation took (schema excluded).
    pub elapsed: Duration,
    /// The issues.
    pub issues: IssueTally,
    /// The last sync sequence number used (the counter is left there).
    pub last_seq: i64,
    /// Of `elapsed`, the time the generator waited for the database to take its rows.
    pub waited: Duration,
}

impl County {
    /// Rows written, all tables.
    pub fn total_rows(&self) -> u64 {
        self.rows.iter().map(|(_, count)| count).sum()
    }
}

struct UserPlan {
    id: Uuid,
    username: String,
    display_name: String,
    role: Role,
    position: Position,
    scope: Option<Uuid>,
    department: Option<Uuid>,
    device: String,
}

struct TownPlan {
    id: Uuid,
    code: String,
    name: String,
    districts: Vec<(Uuid, String, String)>,
    leader: usize,
    departments: Vec<usize>,
}

struct VillagePlan {
    id: Uuid,
    code: String,
    name: String,
    town: usize,
    district: Uuid,
    /// Who visits, weighted: officials four tickets each, contact cadres three, the contact
    /// leader two.
    lottery: Vec<usize>,
    latitude: f64,
    longitude: f64,
}

struct DepartmentPlan {
    id: Uuid,
    org_unit: Uuid,
    code: String,
    name: String,
    staff: usize,
}

struct Plan {
    county_id: Uuid,
    county_code: String,
    towns: Vec<TownPlan>,
    villages: Vec<VillagePlan>,
    departments: Vec<DepartmentPlan>,
    county_departments: Vec<usize>,
    users: Vec<UserPlan>,
    assignments: Vec<(usize, usize)>,
    viewer: usize,
    bench_cadre: usize,
    /// The first village-contact cadre of each town: villages of their own, apart.
    phone_cadres: Vec<usize>,
}

const TOWN_NAMES: [&str; 15] = [
    "东岭镇",
    "西河镇",
    "南湖镇",
    "北山镇",
    "青石镇",
    "柳林镇",
    "白杨镇",
    "红旗镇",
    "金沙镇",
    "平原镇",
    "长乐镇",
    "安定镇",
    "新华镇",
    "永丰镇",
    "太平镇",
];
const VILLAGE_STEMS: [&str; 30] = [
    "东关", "柳树", "石桥", "河湾", "杏花", "王家", "李庄", "张楼", "刘屯", "陈集", "杨柳", "赵寨",
    "黄土", "周营", "吴店", "徐庄", "孙堡", "胡家", "朱家", "高庙", "林场", "何寨", "郭店", "马坊",
    "罗庄", "前进", "后屯", "新庄", "大王", "小李",
];
const VILLAGE_SUFFIXES: [&str; 10] = ["", "东", "西", "南", "北", "前", "后", "一", "二", "三"];
const SURNAMES: [&str; 20] = [
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗",
];
const GIVEN_NAMES: [&str; 20] = [
    "建国", "秀英", "明", "芳", "志强", "桂兰", "德福", "玉珍", "海", "春梅", "国庆", "淑珍",
    "永刚", "丽", "卫东", "红", "振华", "凤英", "建军", "霞",
];
const COUNTY_DEPARTMENTS: [(&str, &str); 6] = [
    ("jt", "县交通运输局"),
    ("sl", "县水利局"),
    ("rs", "县人力资源和社会保障局"),
    ("zj", "县住房和城乡建设局"),
    ("ny", "县农业农村局"),
    ("mz", "县民政局"),
];
const TOWN_DEPARTMENTS: [(&str, &str); 3] =
    [("mz", "民政办"), ("ny", "农业农村办"), ("zz", "综治办")];

const DIFFICULTIES: [&str; 8] = [
    "无",
    "缺劳力",
    "子女上学远",
    "看病报销难",
    "房屋漏雨",
    "灌溉用水紧张",
    "门前道路坑洼",
    "缺少启动资金",
];
const WISHES: [&str; 4] = ["想搞大棚种植", "想外出务工", "想养殖肉牛", "暂无"];
const MATTERS: [(Category, &[&str]); 4] = [
    (
        Category::PracticalDifficulty,
        &[
            "村内道路破损需修复",
            "自来水水压不足",
            "申请低保咨询",
            "危房改造申请",
            "灌溉机井损坏",
            "路灯不亮",
            "残疾人补贴未到账",
        ],
    ),
    (
        Category::DevelopmentSuggestion,
        &[
            "建议发展乡村旅游",
            "建议建设农产品冷库",
            "建议组织电商培训",
            "建议成立种植合作社",
        ],
    ),
    (
        Category::WorkShortcoming,
        &[
            "村务公开不及时",
            "垃圾清运不及时",
            "医保缴费通知晚",
            "健身器材损坏无人修",
        ],
    ),
    (
        Category::CadreConduct,
        &["村干部办事拖沓", "干部态度生硬", "反映问题无人回复"],
    ),
];
const PROGRESS_NOTES: [&str; 4] = [
    "已现场查看，正在协调",
    "已联系相关部门，等待答复",
    "已列入本月计划",
    "施工队已进场",
];
const RESOLUTIONS: [&str; 4] = ["已修复完毕", "已协调解决", "已按政策办理", "已答复并落实"];

/// The day `day` (0 = a year before `as_of`) as a date.
fn day_date(as_of: NaiveDate, day: i64) -> NaiveDate {
    as_of - chrono::Days::new((DAYS - day) as u64)
}

/// Local midnight of a date, as UTC.
fn local_midnight(date: NaiveDate) -> DateTime<Utc> {
    date.and_time(NaiveTime::MIN).and_utc() - LOCAL_OFFSET
}

/// The local date of an instant.
fn local_date(at: DateTime<Utc>) -> NaiveDate {
    (at + LOCAL_OFFSET).date_naive()
}

fn enum_value<E: ActiveEnum<Value = String>>(value: E) -> Value {
    value.to_value().into()
}

fn person_name(seed: u64, index: u64) -> String {
    let mut rng = Rng::stream(seed, &[kind::HOUSEHOLD_DATA, u64::MAX - index]);
    format!("{}{}", rng.pick(&SURNAMES), rng.pick(&GIVEN_NAMES))
}

fn build_plan(options: &Options) -> Plan {
    let seed = options.seed;
    let created = local_midnight(options.as_of) - TimeDelta::days(400);
    let village_count = ((300.0 * options.scale).round() as usize).max(5);
    let town_count = ((15.0 * options.scale).round() as usize).clamp(1, village_count);
    let mut org_index = 0u64;
    let mut next_org_id = || {
        org_index += 1;
        id_of(seed, kind::ORG_UNIT, org_index, created)
    };
    let county_code = "371599".to_owned();
    let county_id = next_org_id();
    let mut users: Vec<UserPlan> = Vec::new();
    let add_user = |users: &mut Vec<UserPlan>,
                    username: String,
                    role: Role,
                    position: Position,
                    scope: Option<Uuid>,
                    department: Option<Uuid>| {
        let index = users.len();
        users.push(UserPlan {
            id: id_of(seed, kind::USER, index as u64, created),
            display_name: person_name(seed, index as u64),
            device: format!("phone-{username}"),
            username,
            role,
            position,
            scope,
            department,
        });
        index
    };
    add_user(
        &mut users,
        "admin".to_owned(),
        Role::Admin,
        Position::Other,
        None,
        None,
    );
    add_user(
        &mut users,
        "county-leader".to_owned(),
        Role::Leader,
        Position::PartySecretary,
        Some(county_id),
        None,
    );
    let viewer = add_user(
        &mut users,
        "viewer".to_owned(),
        Role::Viewer,
        Position::Other,
        Some(county_id),
        None,
    );
    let mut departments = Vec::new();
    let add_department = |departments: &mut Vec<DepartmentPlan>,
                          users: &mut Vec<UserPlan>,
                          owner: Uuid,
                          owner_code: &str,
                          key: &str,
                          name: String| {
        let index = departments.len();
        let id = id_of(seed, kind::DEPARTMENT, index as u64, created);
        let code = format!("dept-{owner_code}-{key}");
        let staff = add_user(
            users,
            code.clone(),
            Role::Department,
            Position::DepartmentStaff,
            Some(owner),
            Some(id),
        );
        departments.push(DepartmentPlan {
            id,
            org_unit: owner,
            code,
            name,
            staff,
        });
        index
    };
    let county_departments = COUNTY_DEPARTMENTS
        .iter()
        .map(|(key, name)| {
            add_department(
                &mut departments,
                &mut users,
                county_id,
                &county_code,
                key,
                (*name).to_owned(),
            )
        })
        .collect();
    let mut towns = Vec::new();
    let mut villages = Vec::new();
    let mut assignments = Vec::new();
    let mut bench_cadre = 0;
    let mut phone_cadres = Vec::new();
    for town_index in 0..town_count {
        let town_number = town_index + 1;
        let code = format!("{county_code}{:03}", 100 + town_index);
        let name = match TOWN_NAMES.get(town_index) {
            Some(name) => (*name).to_owned(),
            None => format!("第{town_number}镇"),
        };
        let town_id = next_org_id();
        let first = town_index * village_count / town_count;
        let last = (town_index + 1) * village_count / town_count;
        let local_count = last - first;
        let district_count = local_count.div_ceil(10);
        let districts: Vec<(Uuid, String, String)> = (0..district_count)
            .map(|district| {
                (
                    next_org_id(),
                    format!("{code}-d{}", district + 1),
                    format!("{name}第{}管区", district + 1),
                )
            })
            .collect();
        let leader = add_user(
            &mut users,
            format!("t{town_number:02}-leader"),
            Role::Leader,
            Position::PartySecretary,
            Some(town_id),
            None,
        );
        let town_departments = TOWN_DEPARTMENTS
            .iter()
            .map(|(key, department)| {
                add_department(
                    &mut departments,
                    &mut users,
                    town_id,
                    &code,
                    key,
                    format!("{name}{department}"),
                )
            })
            .collect();
        // Villages, each with its officials (村两委): two or three, 7 in 12 villages three.
        for local in 0..local_count {
            let global = first + local;
            let village_code = format!("{code}{:03}", 200 + local);
            let stem = VILLAGE_STEMS[global % VILLAGE_STEMS.len()];
            let suffix = VILLAGE_SUFFIXES[(global / VILLAGE_STEMS.len()) % VILLAGE_SUFFIXES.len()];
            let village_name = if global < VILLAGE_STEMS.len() * VILLAGE_SUFFIXES.len() {
                format!("{stem}{suffix}村")
            } else {
                format!("{stem}{suffix}{global}村")
            };
            let village_id = next_org_id();
            let mut lottery = Vec::new();
            let officials = 2 + usize::from((global * 7) % 12 < 7);
            for number in 1..=officials {
                let official = add_user(
                    &mut users,
                    format!("v{:03}-official{number}", global + 1),
                    Role::VillageOfficial,
                    Position::VillageOfficial,
                    Some(village_id),
                    None,
                );
                lottery.extend([official; 4]);
            }
            let mut position = Rng::stream(seed, &[kind::ORG_UNIT, global as u64]);
            villages.push(VillagePlan {
                id: village_id,
                code: village_code,
                name: village_name,
                town: town_index,
                district: districts[local * district_count / local_count].0,
                lottery,
                latitude: 36.2 + position.below(4000) as f64 / 10_000.0,
                longitude: 115.8 + position.below(4000) as f64 / 10_000.0,
            });
        }
        // Village-contact leaders (包村领导): one per village, five villages each.
        for number in 0..local_count.div_ceil(5) {
            let contact_leader = add_user(
                &mut users,
                format!("t{town_number:02}-cl{}", number + 1),
                Role::Leader,
                Position::VillageContactLeader,
                Some(town_id),
                None,
            );
            for local in (number * 5)..((number + 1) * 5).min(local_count) {
                assignments.push((contact_leader, first + local));
                villages[first + local].lottery.extend([contact_leader; 2]);
            }
        }
        // Village-contact cadres (包村干部): two or three per village, about five villages
        // each — slot j of the town goes to cadre j mod n, so a village's slots are distinct
        // cadres and a cadre's villages are spread over the town.
        let slots: Vec<usize> = (0..local_count)
            .flat_map(|local| std::iter::repeat_n(local, 2 + local % 2))
            .collect();
        let cadre_count = slots.len().div_ceil(5).max(3);
        let cadres: Vec<usize> = (0..cadre_count)
            .map(|number| {
                add_user(
                    &mut users,
                    format!("t{town_number:02}-cadre{:02}", number + 1),
                    Role::Cadre,
                    Position::VillageContactCadre,
                    Some(town_id),
                    None,
                )
            })
            .collect();
        if town_index == 0 {
            bench_cadre = cadres[0];
        }
        phone_cadres.push(cadres[0]);
        for (slot, local) in slots.iter().enumerate() {
            let cadre = cadres[slot % cadre_count];
            if !assignments.contains(&(cadre, first + local)) {
                assignments.push((cadre, first + local));
                villages[first + local].lottery.extend([cadre; 3]);
            }
        }
        towns.push(TownPlan {
            id: town_id,
            code,
            name,
            districts,
            leader,
            departments: town_departments,
        });
    }
    Plan {
        county_id,
        county_code,
        towns,
        villages,
        departments,
        county_departments,
        users,
        assignments,
        viewer,
        bench_cadre,
        phone_cadres,
    }
}

/// The 18-character resident ID of household `index`: unique, with a valid check digit.
fn id_card(county_code: &str, index: usize) -> String {
    let birth = NaiveDate::from_ymd_opt(1940, 1, 1).unwrap_or_default()
        + chrono::Days::new((index % 20_000) as u64);
    let body = format!(
        "{county_code}{}{:03}",
        birth.format("%Y%m%d"),
        index / 20_000
    );
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let sum: u32 = body
        .chars()
        .zip(WEIGHTS)
        .map(|(digit, weight)| digit.to_digit(10).unwrap_or(0) * weight)
        .sum();
    format!("{body}{}", CHECK[(sum % 11) as usize])
}

/// What every row of one issue needs to know about where it happened.
struct Raised {
    village: usize,
    lead: usize,
    household: Option<usize>,
    visit_id: Option<Uuid>,
    channel: Channel,
    at: DateTime<Utc>,
    origin: Option<String>,
}

struct Event {
    kind: EventKind,
    at: DateTime<Utc>,
    actor: usize,
    note: Option<&'static str>,
    data: Option<serde_json::Value>,
}

struct Generator<'a> {
    options: Options,
    plan: Plan,
    db: &'a DatabaseConnection,
    /// Nothing happens at or after this instant (UTC midnight of `as_of`).
    now: DateTime<Utc>,
    seq: i64,
    household_ids: Vec<Uuid>,
    answers: Vec<(serde_json::Value, i16)>,
    tally: IssueTally,
    /// The batch being written while the next one is generated (at most one: batches are
    /// committed in order, parents before children).
    in_flight: Option<tokio::task::JoinHandle<Result<(), DbErr>>>,
    /// Time spent waiting for the database (the rest is generating rows).
    waited: Duration,
    org_units: Bulk,
    departments: Bulk,
    users: Bulk,
    assignments: Bulk,
    households: Bulk,
    visits: Bulk,
    issues: Bulk,
    escalations: Bulk,
    events: Bulk,
}

const ORG_UNIT_COLUMNS: &[&str] = &[
    "id",
    "parent_id",
    "kind",
    "name",
    "code",
    "county_id",
    "town_id",
    "district_id",
    "office_phone",
    "created_at",
    "change_seq",
    "created_seq",
    "origin_device",
];
const DEPARTMENT_COLUMNS: &[&str] = &["id", "org_unit_id", "name", "code", "created_at"];
const USER_COLUMNS: &[&str] = &[
    "id",
    "username",
    "display_name",
    "phone",
    "position",
    "role",
    "scope_org_unit_id",
    "department_id",
    "password_hash",
    "active",
    "created_at",
    "updated_at",
];
const ASSIGNMENT_COLUMNS: &[&str] = &[
    "id",
    "user_id",
    "village_id",
    "starts_on",
    "ends_on",
    "created_at",
];
const HOUSEHOLD_COLUMNS: &[&str] = &[
    "id",
    "county_id",
    "town_id",
    "village_id",
    "head_name",
    "phone",
    "address",
    "members_count",
    "id_card_number",
    "latitude",
    "longitude",
    "tags",
    "notes",
    "last_visited_at",
    "version",
    "created_by",
    "created_at",
    "updated_at",
    "change_seq",
    "created_seq",
    "origin_device",
];
const VISIT_COLUMNS: &[&str] = &[
    "id",
    "county_id",
    "town_id",
    "village_id",
    "household_id",
    "enterprise_id",
    "cadre_id",
    "channel",
    "visited_at",
    "received_at",
    "answers",
    "cadre_rating",
    "diary_note",
    "service_card_given",
    "latitude",
    "longitude",
    "device_id",
    "duty_id",
    "change_seq",
    "created_seq",
    "origin_device",
];
const ISSUE_COLUMNS: &[&str] = &[
    "id",
    "county_id",
    "town_id",
    "village_id",
    "visit_id",
    "channel",
    "applicant_household_id",
    "applicant_name",
    "applicant_phone",
    "category",
    "matter",
    "answered_on_spot",
    "spot_answer",
    "level",
    "lead_responsible_id",
    "handler_org_unit_id",
    "handler_department_id",
    "named_cadre_id",
    "deadline",
    "status",
    "is_deed",
    "latest_progress",
    "resolution",
    "feedback_given",
    "applicant_satisfied",
    "resolved_at",
    "closed_at",
    "version",
    "created_at",
    "updated_at",
    "change_seq",
    "created_seq",
    "origin_device",
];
const ESCALATION_COLUMNS: &[&str] = &[
    "id",
    "issue_id",
    "from_level",
    "to_level",
    "from_org_unit_id",
    "to_org_unit_id",
    "department_id",
    "reason",
    "new_deadline",
    "escalated_by",
    "escalated_at",
    "accepted_by",
    "accepted_at",
];
const EVENT_COLUMNS: &[&str] = &[
    "id",
    "issue_id",
    "kind",
    "actor_id",
    "actor_role",
    "note",
    "data",
    "occurred_at",
    "change_seq",
    "created_seq",
    "origin_device",
];

fn uuid(value: Uuid) -> Value {
    value.into()
}

fn opt_uuid(value: Option<Uuid>) -> Value {
    value.into()
}

fn text(value: impl Into<String>) -> Value {
    Value::from(value.into())
}

fn opt_text(value: Option<String>) -> Value {
    value.into()
}

/// Writes the county into `db` (already migrated, empty).
pub async fn generate(db: &DatabaseConnection, options: Options) -> BenchResult<County> {
    let started = Instant::now();
    let backend = db.get_database_backend();
    let plan = build_plan(&options);
    let answers = answer_templates();
    let now = options.as_of.and_time(NaiveTime::MIN).and_utc();
    // The migration leaves the counter at 1; every transaction here takes the next number.
    let first_seq: i64 = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT value FROM sync_counter WHERE id = 1",
        ))
        .await?
        .ok_or("no sync_counter row")?
        .try_get("", "value")?;
    let mut generator = Generator {
        options,
        plan,
        db,
        now,
        seq: first_seq + 1,
        household_ids: Vec::new(),
        answers,
        tally: IssueTally::default(),
        in_flight: None,
        waited: Duration::ZERO,
        org_units: Bulk::new(backend, "org_units", ORG_UNIT_COLUMNS),
        departments: Bulk::new(backend, "departments", DEPARTMENT_COLUMNS),
        users: Bulk::new(backend, "users", USER_COLUMNS),
        assignments: Bulk::new(backend, "village_assignments", ASSIGNMENT_COLUMNS),
        households: Bulk::new(backend, "households", HOUSEHOLD_COLUMNS),
        visits: Bulk::new(backend, "visits", VISIT_COLUMNS),
        issues: Bulk::new(backend, "issues", ISSUE_COLUMNS),
        escalations: Bulk::new(backend, "escalations", ESCALATION_COLUMNS),
        events: Bulk::new(backend, "issue_events", EVENT_COLUMNS),
    };
    generator.organisation().await?;
    let last_visits = generator.visit_schedule_last_visits();
    generator.households(&last_visits).await?;
    generator.visits_and_issues().await?;
    let last_seq = generator.seq - 1;
    db.execute_raw(Statement::from_sql_and_values(
        backend,
        crate::bulk::placeholders(backend, "UPDATE sync_counter SET value = ? WHERE id = 1"),
        [last_seq.into()],
    ))
    .await?;
    // The campaign of the year, as an admin would create it.
    let spec = api::campaigns::CampaignSpec::standard(options.as_of.year())
        .ok_or("no standard campaign for this year")?;
    api::campaigns::create_campaign(db, &api::access::Scope::All, generator.plan.county_id, spec)
        .await?;
    let elapsed = started.elapsed();
    Ok(generator.finish(elapsed, last_seq))
}

impl Generator<'_> {
    /// The cadre `user`, their town, villages and households.
    fn phone(&self, user: usize) -> Phone {
        let plan = &self.plan;
        let village_indexes: Vec<usize> = plan
            .assignments
            .iter()
            .filter(|(assigned, _)| *assigned == user)
            .map(|(_, village)| *village)
            .collect();
        let households = village_indexes
            .iter()
            .flat_map(|village| {
                let start = village * HOUSEHOLDS_PER_VILLAGE;
                self.household_ids[start..start + HOUSEHOLDS_PER_VILLAGE]
                    .iter()
                    .copied()
            })
            .collect();
        let person = &plan.users[user];
        Phone {
            cadre: Person {
                username: person.username.clone(),
                id: person.id,
            },
            town_id: person.scope.unwrap_or(plan.towns[0].id),
            villages: village_indexes
                .iter()
                .map(|village| plan.villages[*village].id)
                .collect(),
            households,
        }
    }

    fn finish(self, elapsed: Duration, last_seq: i64) -> County {
        let plan = &self.plan;
        let cadre = self.phone(plan.bench_cadre);
        let phones = plan
            .phone_cadres
            .iter()
            .map(|user| self.phone(*user))
            .collect();
        let leader = &plan.users[plan.towns[0].leader];
        let viewer = &plan.users[plan.viewer];
        let rows = [
            &self.org_units,
            &self.departments,
            &self.users,
            &self.assignments,
            &self.households,
            &self.visits,
            &self.issues,
            &self.escalations,
            &self.events,
        ]
        .iter()
        .map(|bulk| (bulk.table(), bulk.inserted))
        .chain([("campaigns", 1)])
        .collect();
        County {
            county_id: plan.county_id,
            cadre,
            phones,
            town_leader: Person {
                username: leader.username.clone(),
                id: leader.id,
            },
            town_id: plan.towns[0].id,
            viewer: Person {
                username: viewer.username.clone(),
                id: viewer.id,
            },
            rows,
            elapsed,
            issues: self.tally,
            last_seq,
            waited: self.waited,
        }
    }

    async fn organisation(&mut self) -> BenchResult<()> {
        let seed = self.options.seed;
        let created = self.now - TimeDelta::days(400);
        let seq = self.seq;
        let plan = &self.plan;
        let county_code = plan.county_code.clone();
        let unit = |id: Uuid,
                    parent: Option<Uuid>,
                    kind: OrgKind,
                    name: &str,
                    code: &str,
                    town: Option<Uuid>,
                    district: Option<Uuid>,
                    phone: Option<String>| {
            [
                uuid(id),
                opt_uuid(parent),
                enum_value(kind),
                text(name),
                text(code),
                uuid(plan.county_id),
                opt_uuid(town),
                opt_uuid(district),
                opt_text(phone),
                created.into(),
                seq.into(),
                seq.into(),
                opt_text(None),
            ]
        };
        self.org_units.push(unit(
            plan.county_id,
            None,
            OrgKind::County,
            "明清县",
            &county_code,
            None,
            None,
            None,
        ));
        // Parents before children: each level is its own set of statements.
        let mut levels: [Vec<[Value; 13]>; 3] = Default::default();
        for town in &plan.towns {
            levels[0].push(unit(
                town.id,
                Some(plan.county_id),
                OrgKind::Town,
                &town.name,
                &town.code,
                Some(town.id),
                None,
                Some("0534-5210000".to_owned()),
            ));
            for (district, code, name) in &town.districts {
                levels[1].push(unit(
                    *district,
                    Some(town.id),
                    OrgKind::District,
                    name,
                    code,
                    Some(town.id),
                    Some(*district),
                    None,
                ));
            }
        }
        for (index, village) in plan.villages.iter().enumerate() {
            let town = &plan.towns[village.town];
            levels[2].push(unit(
                village.id,
                Some(village.district),
                OrgKind::Village,
                &village.name,
                &village.code,
                Some(town.id),
                Some(village.district),
                Some(format!("0534-52{:05}", index)),
            ));
        }
        for department in &plan.departments {
            self.departments.push([
                uuid(department.id),
                uuid(department.org_unit),
                text(department.name.as_str()),
                text(department.code.as_str()),
                created.into(),
            ]);
        }
        // One hash for everyone: Argon2id is slow on purpose.
        let hash = api::auth::password::hash(PASSWORD).map_err(|error| error.to_string())?;
        for (index, user) in plan.users.iter().enumerate() {
            self.users.push([
                uuid(user.id),
                text(user.username.as_str()),
                text(user.display_name.as_str()),
                opt_text(Some(format!("138{:08}", index))),
                enum_value(user.position),
                enum_value(user.role),
                opt_uuid(user.scope),
                opt_uuid(user.department),
                text(hash.as_str()),
                true.into(),
                created.into(),
                created.into(),
            ]);
        }
        for (index, (user, village)) in plan.assignments.iter().enumerate() {
            self.assignments.push([
                uuid(id_of(seed, kind::ASSIGNMENT, index as u64, created)),
                uuid(plan.users[*user].id),
                uuid(plan.villages[*village].id),
                local_date(created).into(),
                Option::<NaiveDate>::None.into(),
                created.into(),
            ]);
        }
        let txn = self.db.begin().await?;
        self.org_units.flush(&txn).await?;
        for level in levels {
            for row in level {
                self.org_units.push(row);
            }
            self.org_units.flush(&txn).await?;
        }
        self.departments.flush(&txn).await?;
        self.users.flush(&txn).await?;
        self.assignments.flush(&txn).await?;
        txn.commit().await?;
        self.seq += 1;
        Ok(())
    }

    /// The visit schedule: `count` visits on each day, each to a household drawn at random at
    /// an instant between 08:00 and 18:00 local time.
    fn day_counts(&self) -> Vec<u64> {
        let households = (self.plan.villages.len() * HOUSEHOLDS_PER_VILLAGE) as f64;
        let total = (households * VISITS_PER_HOUSEHOLD).round();
        let weights: Vec<f64> = (0..DAYS)
            .map(|day| match day_date(self.options.as_of, day).weekday() {
                Weekday::Sat | Weekday::Sun => 0.4,
                _ => 1.0,
            })
            .collect();
        let sum: f64 = weights.iter().sum();
        let mut cumulative = 0.0;
        let mut done = 0u64;
        weights
            .iter()
            .map(|weight| {
                cumulative += weight;
                let until = (total * cumulative / sum).round() as u64;
                let count = until - done;
                done = until;
                count
            })
            .collect()
    }

    /// The `(household, instant)` of visit `number` of a day, from the day's schedule stream.
    fn scheduled(&self, schedule: &mut Rng, day: i64) -> (usize, DateTime<Utc>) {
        let households = (self.plan.villages.len() * HOUSEHOLDS_PER_VILLAGE) as u64;
        let household = schedule.below(households) as usize;
        let second = schedule.range(0, 10 * 3600);
        (
            household,
            local_midnight(day_date(self.options.as_of, day))
                + TimeDelta::hours(8)
                + TimeDelta::seconds(second),
        )
    }

    /// A first pass over the schedule: when each household was last visited.
    fn visit_schedule_last_visits(&self) -> Vec<Option<DateTime<Utc>>> {
        let mut last = vec![None; self.plan.villages.len() * HOUSEHOLDS_PER_VILLAGE];
        for (day, count) in self.day_counts().into_iter().enumerate() {
            let mut schedule = Rng::stream(self.options.seed, &[kind::SCHEDULE, day as u64]);
            for _ in 0..count {
                let (household, at) = self.scheduled(&mut schedule, day as i64);
                let slot: &mut Option<DateTime<Utc>> = &mut last[household];
                if slot.is_none_or(|previous| previous < at) {
                    *slot = Some(at);
                }
            }
        }
        last
    }

    async fn households(&mut self, last_visits: &[Option<DateTime<Utc>>]) -> BenchResult<()> {
        let seed = self.options.seed;
        let registered = self.now - TimeDelta::days(400);
        for village_index in 0..self.plan.villages.len() {
            for number in 0..HOUSEHOLDS_PER_VILLAGE {
                let index = village_index * HOUSEHOLDS_PER_VILLAGE + number;
                let village = &self.plan.villages[village_index];
                let town = &self.plan.towns[village.town];
                let mut rng = Rng::stream(seed, &[kind::HOUSEHOLD_DATA, index as u64]);
                let created_at = registered + TimeDelta::seconds(rng.range(0, 30 * 86_400));
                let id = id_of(seed, kind::HOUSEHOLD, index as u64, created_at);
                self.household_ids.push(id);
                let mut tags = 0;
                for (bit, share) in [(1, 0.05), (2, 0.03), (4, 0.10), (8, 0.02), (16, 0.08)] {
                    if rng.chance(share) {
                        tags |= bit;
                    }
                }
                let official = village.lottery[0];
                self.households.push([
                    uuid(id),
                    uuid(self.plan.county_id),
                    uuid(town.id),
                    uuid(village.id),
                    text(head_name(seed, index)),
                    opt_text(Some(phone(index))),
                    opt_text(Some(format!(
                        "{}{}组{}号",
                        village.name,
                        number / 50 + 1,
                        number % 50 + 1
                    ))),
                    Some(rng.range(1, 7) as i32).into(),
                    opt_text(
                        rng.chance(0.3)
                            .then(|| id_card(&self.plan.county_code, index)),
                    ),
                    Some(village.latitude + rng.range(-50, 50) as f64 / 10_000.0).into(),
                    Some(village.longitude + rng.range(-50, 50) as f64 / 10_000.0).into(),
                    tags.into(),
                    opt_text((tags & 16 != 0).then(|| "独居老人，需常走访".to_owned())),
                    last_visits[index].into(),
                    1i32.into(),
                    opt_uuid(Some(self.plan.users[official].id)),
                    created_at.into(),
                    created_at.into(),
                    self.seq.into(),
                    self.seq.into(),
                    opt_text(None),
                ]);
            }
            if self.households.pending() >= ROWS_PER_TRANSACTION {
                let batch = vec![self.households.take()];
                self.dispatch(batch).await?;
            }
        }
        let batch = vec![self.households.take()];
        self.dispatch(batch).await?;
        Ok(())
    }

    async fn visits_and_issues(&mut self) -> BenchResult<()> {
        let seed = self.options.seed;
        for (day, count) in self.day_counts().into_iter().enumerate() {
            let mut schedule = Rng::stream(seed, &[kind::SCHEDULE, day as u64]);
            let mut rng = Rng::stream(seed, &[kind::CONTENT, day as u64]);
            for _ in 0..count {
                let (household, visited_at) = self.scheduled(&mut schedule, day as i64);
                let (visit_id, cadre, channel, origin) =
                    self.visit(&mut rng, household, visited_at);
                for _ in 0..self.options.issue_factor {
                    if !rng.chance(0.18) {
                        continue;
                    }
                    let raised = Raised {
                        village: household / HOUSEHOLDS_PER_VILLAGE,
                        lead: cadre,
                        household: Some(household),
                        visit_id: Some(visit_id),
                        channel,
                        at: visited_at + TimeDelta::seconds(1),
                        origin: origin.clone(),
                    };
                    self.issue(&mut rng, raised);
                }
            }
            // Matters that came in by the hotline or the mailbox: 2% of the day's visits.
            for _ in 0..(count / 50 * u64::from(self.options.issue_factor)) {
                let village = rng.below(self.plan.villages.len() as u64) as usize;
                let lead = *rng.pick(&self.plan.villages[village].lottery);
                let household = rng.chance(0.6).then(|| {
                    village * HOUSEHOLDS_PER_VILLAGE
                        + rng.below(HOUSEHOLDS_PER_VILLAGE as u64) as usize
                });
                let at = local_midnight(day_date(self.options.as_of, day as i64))
                    + TimeDelta::hours(8)
                    + TimeDelta::seconds(rng.range(0, 10 * 3600));
                let channel = if rng.chance(0.7) {
                    Channel::Hotline
                } else {
                    Channel::Mailbox
                };
                let raised = Raised {
                    village,
                    lead,
                    household,
                    visit_id: None,
                    channel,
                    at,
                    origin: None,
                };
                self.issue(&mut rng, raised);
            }
            let pending = self.visits.pending()
                + self.issues.pending()
                + self.escalations.pending()
                + self.events.pending();
            if pending >= ROWS_PER_TRANSACTION || day as i64 == DAYS - 1 {
                // Parents first: an issue refers to its visit, escalations and events to
                // their issue.
                let batch = vec![
                    self.visits.take(),
                    self.issues.take(),
                    self.escalations.take(),
                    self.events.take(),
                ];
                self.dispatch(batch).await?;
            }
        }
        self.settle().await
    }

    /// Hands a batch (tables in the order they must be written) to a task that writes it in
    /// one transaction, once the previous batch is committed; takes the next sequence number.
    async fn dispatch(&mut self, batch: Vec<Bulk>) -> BenchResult<()> {
        self.settle().await?;
        let db = self.db.clone();
        self.in_flight = Some(tokio::spawn(async move {
            let mut batch = batch;
            let mut tables: Vec<&mut Bulk> = batch.iter_mut().collect();
            write(&db, &mut tables).await
        }));
        self.seq += 1;
        Ok(())
    }

    /// Waits for the batch being written.
    async fn settle(&mut self) -> BenchResult<()> {
        if let Some(writing) = self.in_flight.take() {
            let begun = Instant::now();
            writing.await??;
            self.waited += begun.elapsed();
        }
        Ok(())
    }

    /// One visit to `household`; returns its id, the visitor, the channel and the device it
    /// was pushed from.
    fn visit(
        &mut self,
        rng: &mut Rng,
        household: usize,
        visited_at: DateTime<Utc>,
    ) -> (Uuid, usize, Channel, Option<String>) {
        let village = &self.plan.villages[household / HOUSEHOLDS_PER_VILLAGE];
        let town = &self.plan.towns[village.town];
        let cadre_index = *rng.pick(&village.lottery);
        let cadre = &self.plan.users[cadre_index];
        let id = rng.uuid_v7(visited_at);
        let channel = visit_channel(rng);
        let received_at = if rng.chance(0.9) {
            visited_at + TimeDelta::minutes(rng.range(1, 120))
        } else {
            // Recorded offline, synced later.
            visited_at + TimeDelta::hours(rng.range(2, 72))
        }
        .min(self.now - TimeDelta::seconds(1));
        let (answers, rating) = rng.pick(&self.answers).clone();
        let origin = rng.chance(0.8).then(|| cadre.device.clone());
        self.visits.push([
            uuid(id),
            uuid(self.plan.county_id),
            uuid(town.id),
            uuid(village.id),
            opt_uuid(Some(self.household_ids[household])),
            opt_uuid(None),
            uuid(cadre.id),
            enum_value(channel),
            visited_at.into(),
            received_at.into(),
            Some(answers).into(),
            Some(rating).into(),
            opt_text(
                rng.chance(0.3)
                    .then(|| "入户走访，了解家庭近况，宣传惠民政策。".to_owned()),
            ),
            rng.chance(0.85).into(),
            Some(village.latitude + rng.range(-50, 50) as f64 / 10_000.0).into(),
            Some(village.longitude + rng.range(-50, 50) as f64 / 10_000.0).into(),
            opt_text(origin.clone()),
            opt_uuid(None),
            self.seq.into(),
            self.seq.into(),
            opt_text(origin.clone()),
        ]);
        (id, cadre_index, channel, origin)
    }

    /// One issue with its whole story up to now: rows for the issue, its escalations and its
    /// timeline.
    fn issue(&mut self, rng: &mut Rng, raised: Raised) {
        let seed = self.options.seed;
        let now = self.now;
        let today = local_date(now);
        let plan = &self.plan;
        let village = &plan.villages[raised.village];
        let town = &plan.towns[village.town];
        let lead = raised.lead;
        let id = rng.uuid_v7(raised.at);
        let (category, matters) = match rng.below(100) {
            0..45 => MATTERS[0],
            45..65 => MATTERS[1],
            65..90 => MATTERS[2],
            _ => MATTERS[3],
        };
        let matter = *rng.pick(matters);
        let named = (category == Category::CadreConduct && rng.chance(0.5))
            .then(|| *rng.pick(&village.lottery))
            .filter(|named| *named != lead)
            .map(|named| plan.users[named].id);
        let (applicant_name, applicant_phone, household_id) = match raised.household {
            Some(household) => (
                head_name(seed, household),
                Some(phone(household)),
                Some(self.household_ids[household]),
            ),
            None => (
                person_name(seed, 1_000_000 + rng.below(1_000_000)),
                None,
                None,
            ),
        };
        let on_the_spot = category != Category::CadreConduct && rng.chance(0.10);
        let raised_on = local_date(raised.at);
        let mut events = vec![Event {
            kind: EventKind::Created,
            at: raised.at,
            actor: lead,
            note: None,
            data: None,
        }];
        let mut level = Level::Village;
        let mut handler_org = village.id;
        let mut handler_department = None;
        let mut handler = lead;
        let mut deadline = raised_on + chrono::Days::new(*rng.pick(&[7, 10, 15, 15, 20, 30]));
        if !on_the_spot && rng.chance(0.04) {
            // Raised directly at the town, with one of its offices.
            let department = &plan.departments[*rng.pick(&town.departments)];
            level = Level::Town;
            handler_org = town.id;
            handler_department = Some(department.id);
            handler = department.staff;
            deadline = raised_on + chrono::Days::new(30);
        }
        let mut status = Status::Open;
        let mut latest_progress = None;
        let mut resolution = None;
        let mut feedback_given = false;
        let mut satisfied = None;
        let mut resolved_at = None;
        let mut closed_at = None;
        let mut is_deed = false;
        let mut escalated = false;
        let mut t = raised.at;
        'story: {
            if on_the_spot {
                status = Status::Closed;
                feedback_given = true;
                resolved_at = Some(raised.at);
                closed_at = Some(raised.at);
                break 'story;
            }
            let mut targets = Vec::new();
            if level == Level::Village && rng.chance(0.08) {
                targets.push(Level::Town);
                if rng.chance(0.25) {
                    targets.push(Level::County);
                }
            } else if level == Level::Town && rng.chance(0.1) {
                targets.push(Level::County);
            }
            for to_level in targets {
                t += TimeDelta::hours(rng.range(20, 120));
                if t >= now {
                    break 'story;
                }
                let (to_org, department, days) = match to_level {
                    Level::Town => (town.id, *rng.pick(&town.departments), 30),
                    _ => (plan.county_id, *rng.pick(&plan.county_departments), 45),
                };
                let department = &plan.departments[department];
                let new_deadline = local_date(t) + chrono::Days::new(days);
                let escalation_id = rng.uuid_v7(t);
                let accepted_at = t + TimeDelta::hours(rng.range(2, 48));
                let accepted = accepted_at < now;
                events.push(Event {
                    kind: EventKind::Escalated,
                    at: t,
                    actor: lead,
                    note: Some("本级无法解决，申请转办"),
                    data: Some(json!({
                        "escalation_id": escalation_id,
                        "from_level": level,
                        "to_level": to_level,
                        "department_id": department.id,
                        "new_deadline": new_deadline,
                    })),
                });
                self.escalations.push([
                    uuid(escalation_id),
                    uuid(id),
                    enum_value(level),
                    enum_value(to_level),
                    uuid(handler_org),
                    uuid(to_org),
                    uuid(department.id),
                    text("本级无法解决，申请转办"),
                    new_deadline.into(),
                    uuid(plan.users[lead].id),
                    t.into(),
                    opt_uuid(accepted.then_some(plan.users[department.staff].id)),
                    accepted.then_some(accepted_at).into(),
                ]);
                escalated = true;
                level = to_level;
                handler_org = to_org;
                handler_department = Some(department.id);
                deadline = new_deadline;
                if !accepted {
                    break 'story;
                }
                t = accepted_at;
                handler = department.staff;
                status = Status::InProgress;
                events.push(Event {
                    kind: EventKind::EscalationAccepted,
                    at: t,
                    actor: department.staff,
                    note: None,
                    data: Some(
                        json!({"escalation_id": escalation_id, "department_id": department.id}),
                    ),
                });
            }
            t += TimeDelta::hours(rng.range(3, 96));
            if t >= now {
                break 'story;
            }
            let note = *rng.pick(&PROGRESS_NOTES);
            events.push(Event {
                kind: EventKind::Progress,
                at: t,
                actor: handler,
                note: Some(note),
                data: None,
            });
            latest_progress = Some(note);
            status = Status::InProgress;
            // Most are done in time, some late, a few get stuck for months.
            let span = (deadline - local_date(t)).num_days().max(1);
            let delay = match rng.below(100) {
                0..72 => rng.range(12, span * 24),
                72..95 => rng.range(span * 24, (2 * span + 10) * 24),
                _ => rng.range(2 * span * 24, 400 * 24),
            };
            let done_at = t + TimeDelta::hours(delay.max(1));
            let urge_at = local_midnight(deadline + chrono::Days::new(3)) + TimeDelta::hours(10);
            if urge_at > t && urge_at < done_at.min(now) && rng.chance(0.4) {
                events.push(Event {
                    kind: EventKind::Urged,
                    at: urge_at,
                    actor: town.leader,
                    note: Some("已超期，请加快办理"),
                    data: None,
                });
            }
            if done_at >= now {
                break 'story;
            }
            t = done_at;
            is_deed = matches!(
                category,
                Category::PracticalDifficulty | Category::DevelopmentSuggestion
            ) && rng.chance(0.08);
            let note = *rng.pick(&RESOLUTIONS);
            events.push(Event {
                kind: EventKind::Resolved,
                at: t,
                actor: handler,
                note: Some(note),
                data: Some(json!({"is_deed": is_deed})),
            });
            status = Status::Resolved;
            resolution = Some(note);
            latest_progress = Some(note);
            resolved_at = Some(t);
            // Some applicants are never told (事事有回音 shows them).
            if !rng.chance(0.9) {
                break 'story;
            }
            t += TimeDelta::hours(rng.range(2, 96));
            if t >= now {
                break 'story;
            }
            let happy = rng.chance(0.93);
            events.push(Event {
                kind: EventKind::Feedback,
                at: t,
                actor: lead,
                note: None,
                data: Some(json!({"satisfied": happy})),
            });
            feedback_given = true;
            satisfied = Some(happy);
            if !happy {
                events.push(Event {
                    kind: EventKind::Reopened,
                    at: t + TimeDelta::seconds(1),
                    actor: lead,
                    note: Some("群众不满意，重新办理"),
                    data: Some(json!({"from": "resolved", "by": "feedback"})),
                });
                status = Status::InProgress;
                resolved_at = None;
                feedback_given = false;
                t += TimeDelta::hours(rng.range(72, 480));
                if t >= now {
                    break 'story;
                }
                events.push(Event {
                    kind: EventKind::Resolved,
                    at: t,
                    actor: handler,
                    note: Some(note),
                    data: Some(json!({"is_deed": is_deed})),
                });
                status = Status::Resolved;
                resolved_at = Some(t);
                t += TimeDelta::hours(rng.range(2, 72));
                if t >= now {
                    break 'story;
                }
                events.push(Event {
                    kind: EventKind::Feedback,
                    at: t,
                    actor: lead,
                    note: None,
                    data: Some(json!({"satisfied": true})),
                });
                feedback_given = true;
                satisfied = Some(true);
            }
            t += TimeDelta::hours(rng.range(24, 480));
            if t >= now {
                break 'story;
            }
            events.push(Event {
                kind: EventKind::Closed,
                at: t,
                actor: town.leader,
                note: Some("群众满意，予以销号"),
                data: None,
            });
            status = Status::Closed;
            closed_at = Some(t);
        }
        let tally = &mut self.tally;
        match status {
            _ if on_the_spot => tally.on_the_spot += 1,
            Status::Open => tally.open += 1,
            Status::InProgress => tally.in_progress += 1,
            Status::Resolved if feedback_given => tally.told += 1,
            Status::Resolved => tally.awaiting_feedback += 1,
            Status::Closed => tally.closed += 1,
        }
        if matches!(status, Status::Open | Status::InProgress) && deadline < today {
            tally.overdue += 1;
        }
        tally.deeds += u64::from(is_deed);
        tally.escalated += u64::from(escalated);
        let updated_at = events.last().map_or(raised.at, |event| event.at);
        // Every step after the first saved the issue once (a reopening by feedback is part of
        // the feedback's save).
        let version = events
            .iter()
            .filter(|event| !matches!(event.kind, EventKind::Created | EventKind::Reopened))
            .count() as i32
            + 1;
        let seq = self.seq;
        self.issues.push([
            uuid(id),
            uuid(plan.county_id),
            uuid(town.id),
            uuid(village.id),
            opt_uuid(raised.visit_id),
            enum_value(raised.channel),
            opt_uuid(household_id),
            text(applicant_name),
            opt_text(applicant_phone),
            enum_value(category),
            text(matter),
            on_the_spot.into(),
            opt_text(on_the_spot.then(|| "已当场解释政策并答复".to_owned())),
            enum_value(level),
            uuid(plan.users[lead].id),
            uuid(handler_org),
            opt_uuid(handler_department),
            opt_uuid(named),
            (!on_the_spot).then_some(deadline).into(),
            enum_value(status),
            is_deed.into(),
            opt_text(latest_progress.map(str::to_owned)),
            opt_text(resolution.map(str::to_owned)),
            feedback_given.into(),
            satisfied.into(),
            resolved_at.into(),
            closed_at.into(),
            version.into(),
            raised.at.into(),
            updated_at.into(),
            seq.into(),
            seq.into(),
            opt_text(raised.origin),
        ]);
        for event in events {
            let actor = &plan.users[event.actor];
            self.events.push([
                uuid(rng.uuid_v7(event.at)),
                uuid(id),
                enum_value(event.kind),
                opt_uuid(Some(actor.id)),
                opt_text(Some(api::auth::role_name(actor.role))),
                opt_text(event.note.map(str::to_owned)),
                event.data.into(),
                event.at.into(),
                seq.into(),
                seq.into(),
                opt_text(None),
            ]);
        }
    }
}

/// Writes the pending rows of these tables, in this order (parents first), in one
/// transaction.
async fn write(db: &DatabaseConnection, tables: &mut [&mut Bulk]) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    for bulk in tables.iter_mut() {
        bulk.flush(&txn).await?;
    }
    txn.commit().await
}

fn visit_channel(rng: &mut Rng) -> Channel {
    match rng.below(100) {
        0..92 => Channel::DoorToDoor,
        92..98 => Channel::DutySitIn,
        _ => Channel::Forum,
    }
}

/// The head of household `index`.
fn head_name(seed: u64, index: usize) -> String {
    person_name(seed, index as u64 + 10_000)
}

/// The phone of household `index` (unique).
fn phone(index: usize) -> String {
    format!("139{index:08}")
}

/// Answers to the six questions, with the cadre rating they contain.
fn answer_templates() -> Vec<(serde_json::Value, i16)> {
    let mut templates = Vec::new();
    for difficulty in DIFFICULTIES {
        for wish in WISHES {
            for rating in [2i16, 3, 4, 4, 5, 5] {
                templates.push((
                    json!({
                        "basic_situation": {
                            "employment": "务农",
                            "schooling": "孩子在镇中学",
                            "medical": "已参加合作医疗",
                            "elderly_care": "老人身体尚可",
                        },
                        "difficulties": difficulty,
                        "income_wishes": wish,
                        "cadre_evaluation": {"rating": rating, "comment": "干部常来"},
                        "work_suggestions": "希望多组织文化活动",
                        "development_ideas": "发展特色种植",
                    }),
                    rating,
                ));
            }
        }
    }
    templates
}
