//! The leadership dashboards: deadlines (what is open, overdue, due soon, awaiting the
//! applicant's answer, struck off this month), visit quotas and village coverage,
//! satisfaction, and deeds (实事). Each is a handful of grouped SQL queries — never a loop over
//! rows — restricted to the place asked about (always inside the caller's scope, so the
//! caller sees all of it) less the complaints naming the caller ([`ledger::conflict_condition`]):
//! no `OR` of "led by me", which would keep the engines off the place's indexes.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
};

use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    campaign, department, household,
    issue::{self, Category, Level},
    org_unit::{self, OrgKind},
    user::{self, Position},
    visit,
};
use sea_orm::{
    ActiveEnum, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Statement, TryGetable,
    sea_query::{Expr, ExprTrait, Func, Query, SimpleExpr},
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    access::Scope,
    auth::{Actor, Principal},
    error::{ApiError, ApiResult},
    households::HouseholdTag,
    ledger::{self, OPEN_LEDGER_SQL, labels::Label},
};

/// The place a dashboard is about: the unit asked for (404 unless in scope), else the
/// caller's own place (their scope's unit; the one county for a deployment-wide admin).
pub async fn place_of(
    db: &impl ConnectionTrait,
    scope: &Scope,
    org_unit_id: Option<Uuid>,
) -> ApiResult<org_unit::Model> {
    let not_found = || ApiError::NotFound("No such org unit in your scope.".to_owned());
    if let Some(id) = org_unit_id {
        return crate::org::find_org_unit(db, scope, id)
            .await?
            .ok_or_else(not_found);
    }
    let anchor = match scope {
        Scope::Subtree { id, .. } => Some(*id),
        Scope::Villages(villages) => villages.first().copied(),
        Scope::Department(id) => department::Entity::find_by_id(*id)
            .one(db)
            .await?
            .map(|department| department.org_unit_id),
        Scope::All => {
            let counties = org_unit::Entity::find()
                .filter(org_unit::Column::Kind.eq(OrgKind::County))
                .limit(2)
                .all(db)
                .await?;
            match counties.as_slice() {
                [county] => Some(county.id),
                _ => {
                    return Err(ApiError::invalid_field(
                        "org_unit_id",
                        "required",
                        "This deployment has several counties (or none): name the place.",
                    ));
                }
            }
        }
    };
    let anchor = anchor.ok_or_else(not_found)?;
    org_unit::Entity::find_by_id(anchor)
        .one(db)
        .await?
        .ok_or_else(not_found)
}

/// Records of villages inside `place` (records that carry county, town and village ids).
pub fn within<C: ColumnTrait>(
    place: &org_unit::Model,
    county: C,
    town: C,
    village: C,
) -> Condition {
    Scope::Subtree {
        kind: place.kind,
        id: place.id,
    }
    .village_condition(county, town, village)
}

/// How the deadline counts are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// By town.
    Town,
    /// By village.
    Village,
    /// By level (村/镇/县).
    Level,
    /// By category.
    Category,
    /// By the department handling it.
    Department,
    /// By the lead responsible person.
    Responsible,
}

impl GroupBy {
    fn column(self) -> issue::Column {
        match self {
            Self::Town => issue::Column::TownId,
            Self::Village => issue::Column::VillageId,
            Self::Level => issue::Column::Level,
            Self::Category => issue::Column::Category,
            Self::Department => issue::Column::HandlerDepartmentId,
            Self::Responsible => issue::Column::LeadResponsibleId,
        }
    }

    /// The ledger filter (`GET /api/v1/issues`) that selects one group.
    pub fn ledger_parameter(self) -> &'static str {
        match self {
            Self::Town => "town_id",
            Self::Village => "village_id",
            Self::Level => "level",
            Self::Category => "category",
            Self::Department => "department_id",
            Self::Responsible => "responsible_id",
        }
    }
}

/// The five deadline numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct DeadlineCounts {
    /// Open or in progress (in the ledger).
    pub open: i64,
    /// Of those, past their deadline.
    pub overdue: i64,
    /// Of those, due within the due-soon window (not overdue).
    pub due_soon: i64,
    /// Resolved, but the applicant has not been told the result (事事有回音).
    pub awaiting_feedback: i64,
    /// Struck off (销号) since the first of this month.
    pub closed_this_month: i64,
}

impl DeadlineCounts {
    fn add(&mut self, other: &Self) {
        self.open += other.open;
        self.overdue += other.overdue;
        self.due_soon += other.due_soon;
        self.awaiting_feedback += other.awaiting_feedback;
        self.closed_this_month += other.closed_this_month;
    }
}

/// The instants and days the deadline counts are taken against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DeadlineWindow {
    /// Today (local).
    pub today: NaiveDate,
    /// The last day that is "due soon".
    pub soon_limit: NaiveDate,
    /// The start of this month (local midnight, as UTC).
    pub month_start: DateTime<Utc>,
    /// Only issues raised at or after this instant.
    pub raised_from: Option<DateTime<Utc>>,
    /// Only issues raised before this instant.
    pub raised_before: Option<DateTime<Utc>>,
}

/// One group's key (an id or an enum value) and counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadlineGroup {
    /// The key; none for issues with no department (village level, not escalated).
    pub key: Option<String>,
    /// The counts.
    pub counts: DeadlineCounts,
}

fn raised_condition(window: &DeadlineWindow) -> Condition {
    let mut condition = Condition::all();
    if let Some(from) = window.raised_from {
        condition = condition.add(issue::Column::CreatedAt.gte(from));
    }
    if let Some(before) = window.raised_before {
        condition = condition.add(issue::Column::CreatedAt.lt(before));
    }
    condition
}

/// `SUM(CASE WHEN <condition> THEN 1 ELSE 0 END)`, with the condition's values bound the way
/// each engine binds them.
fn count_when(condition: impl Into<Condition>) -> SimpleExpr {
    Func::sum(Expr::case(condition, 1).finally(0)).into()
}

/// Resolved, the applicant not yet told — written literally, like [`OPEN_LEDGER_SQL`], so
/// that the partial index carrying the same condition is used on both engines.
const AWAITING_FEEDBACK_SQL: &str = "issues.status = 'resolved' AND issues.feedback_given = FALSE";

/// Runs one grouped count: the key column and `aggregates`, over `condition`.
///
/// On SQLite the statement names its index (`INDEXED BY`, see [`sqlite_index`]): without
/// statistics the planner picks any index with the place's column — the whole ledger's instead
/// of the small partial one — and with them it prefers an index in `GROUP BY` order and scans
/// the table. Measured at county scale, both cost 10–50× the right index.
async fn grouped<K: TryGetable + Send + Sync + 'static>(
    db: &impl ConnectionTrait,
    key: issue::Column,
    condition: Condition,
    aggregates: [SimpleExpr; 3],
    sqlite_index: Option<&str>,
) -> Result<Vec<(Option<K>, i64, i64, i64)>, DbErr> {
    let [first, second, third] = aggregates;
    let select = issue::Entity::find()
        .select_only()
        .column(key)
        .expr_as(first, "first")
        .expr_as(second, "second")
        .expr_as(third, "third")
        .filter(condition)
        .group_by(key);
    let backend = db.get_database_backend();
    let Some(index) = sqlite_index.filter(|_| backend == sea_orm::DbBackend::Sqlite) else {
        return select.into_tuple().all(db).await;
    };
    db.query_all_raw(ledger::issues_indexed_by(select.build(backend), index))
        .await?
        .iter()
        .map(|row| {
            Ok((
                row.try_get_by_index::<Option<K>>(0)?,
                row.try_get_by_index::<i64>(1)?,
                row.try_get_by_index::<i64>(2)?,
                row.try_get_by_index::<i64>(3)?,
            ))
        })
        .collect()
}

/// Which of the deadline counts.
#[derive(Debug, Clone, Copy)]
enum Slice {
    Open,
    AwaitingFeedback,
    ClosedThisMonth,
}

/// The index each count reads on SQLite, by the kind of place (see [`grouped`]). Each is
/// partial with the condition the count writes literally, or keyed on the place's column.
fn sqlite_index(slice: Slice, place: OrgKind) -> &'static str {
    match (slice, place) {
        (Slice::Open, OrgKind::County) => "idx_issues_open_county_deadline",
        (Slice::Open, OrgKind::Town) => "idx_issues_open_town_deadline",
        (Slice::Open, _) => "idx_issues_open_village_deadline",
        (Slice::AwaitingFeedback, _) => "idx_issues_awaiting_feedback",
        (Slice::ClosedThisMonth, OrgKind::County) => "idx_issues_closed_county",
        (Slice::ClosedThisMonth, OrgKind::Town) => "idx_issues_closed_town",
        (Slice::ClosedThisMonth, _) => "idx_issues_ledger_village",
    }
}

async fn deadline_counts_by<K>(
    db: &impl ConnectionTrait,
    key: issue::Column,
    base: Condition,
    place: OrgKind,
    window: &DeadlineWindow,
    to_key: impl Fn(K) -> String,
) -> Result<Vec<DeadlineGroup>, DbErr>
where
    K: TryGetable + Send + Sync + 'static,
{
    // A literal 0 is an INT4 on PostgreSQL; the tuple reads i64.
    let zero = || Expr::cust("CAST(0 AS BIGINT)");
    // Three narrow queries rather than one wide one: each reads only its own slice of the
    // ledger (the open slice has partial indexes), so closed issues piling up over the
    // years do not slow the dashboard.
    let open = grouped::<K>(
        db,
        key,
        base.clone().add(Expr::cust(OPEN_LEDGER_SQL)),
        [
            Expr::cust("COUNT(*)"),
            count_when(issue::Column::Deadline.lt(window.today)),
            count_when(
                Condition::all()
                    .add(issue::Column::Deadline.gte(window.today))
                    .add(issue::Column::Deadline.lte(window.soon_limit)),
            ),
        ],
        Some(sqlite_index(Slice::Open, place)),
    )
    .await?;
    let awaiting = grouped::<K>(
        db,
        key,
        base.clone().add(Expr::cust(AWAITING_FEEDBACK_SQL)),
        [Expr::cust("COUNT(*)"), zero(), zero()],
        Some(sqlite_index(Slice::AwaitingFeedback, place)),
    )
    .await?;
    let closed = grouped::<K>(
        db,
        key,
        base.add(Expr::cust("issues.status = 'closed'"))
            .add(issue::Column::ClosedAt.gte(window.month_start)),
        [Expr::cust("COUNT(*)"), zero(), zero()],
        Some(sqlite_index(Slice::ClosedThisMonth, place)),
    )
    .await?;
    let mut groups: BTreeMap<Option<String>, DeadlineCounts> = BTreeMap::new();
    for (key, count, overdue, due_soon) in open {
        let counts = groups.entry(key.map(&to_key)).or_default();
        counts.open += count;
        counts.overdue += overdue;
        counts.due_soon += due_soon;
    }
    for (key, count, _, _) in awaiting {
        groups
            .entry(key.map(&to_key))
            .or_default()
            .awaiting_feedback += count;
    }
    for (key, count, _, _) in closed {
        groups
            .entry(key.map(&to_key))
            .or_default()
            .closed_this_month += count;
    }
    Ok(groups
        .into_iter()
        .map(|(key, counts)| DeadlineGroup { key, counts })
        .collect())
}

/// The deadline counts of the issues the caller may see in `place`, grouped.
pub async fn deadline_counts(
    db: &impl ConnectionTrait,
    caller: &Principal,
    place: &org_unit::Model,
    group_by: GroupBy,
    window: &DeadlineWindow,
) -> Result<Vec<DeadlineGroup>, DbErr> {
    let base = Condition::all()
        .add(ledger::conflict_condition(caller))
        .add(within(
            place,
            issue::Column::CountyId,
            issue::Column::TownId,
            issue::Column::VillageId,
        ))
        .add(Expr::cust(ledger::LEDGER_SQL))
        .add(raised_condition(window));
    let key = group_by.column();
    match group_by {
        GroupBy::Level | GroupBy::Category => {
            deadline_counts_by::<String>(db, key, base, place.kind, window, |key| key).await
        }
        _ => {
            deadline_counts_by::<Uuid>(db, key, base, place.kind, window, |key| key.to_string())
                .await
        }
    }
}

/// Deadline counts already worked out, each kept with the issues' version it was worked out
/// at ([`issues_version`]) and answered again only while that version holds — that is, while
/// no issue has been written since. Leaders keep the dashboard open and reload it far more
/// often than the ledger changes; a county's counts read tens of thousands of rows, a repeat
/// reads one index entry. Per caller (a complaint naming the caller is left out of their
/// counts), place, grouping and window (today, due-soon limit, month, raised dates). At most
/// [`DeadlineCache::CAPACITY`] entries; when full it starts again empty.
#[derive(Debug, Default)]
pub struct DeadlineCache {
    entries: Mutex<HashMap<DeadlineKey, (i64, Groups)>>,
}

/// Counts shared between the cache and the requests reading them.
type Groups = Arc<Vec<DeadlineGroup>>;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct DeadlineKey {
    caller: Option<Uuid>,
    place: Uuid,
    group_by: GroupBy,
    window: DeadlineWindow,
}

impl DeadlineCache {
    /// The most entries kept.
    pub const CAPACITY: usize = 1024;

    fn get(&self, key: &DeadlineKey, version: i64) -> Option<Arc<Vec<DeadlineGroup>>> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| *at == version)
            .map(|(_, groups)| groups.clone())
    }

    fn put(&self, key: DeadlineKey, version: i64, groups: Arc<Vec<DeadlineGroup>>) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= Self::CAPACITY && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(key, (version, groups));
    }
}

/// The issues' version: the highest change stamp of any issue, when every issue write stamped
/// at or below it has ended — then a later write can only raise it. `None` while an older
/// PostgreSQL transaction is still running (its stamp would come in below): nothing may be
/// kept against it. SQLite stamps in commit order, so its version is always settled.
async fn issues_version(db: &impl ConnectionTrait) -> Result<Option<i64>, DbErr> {
    let backend = db.get_database_backend();
    let settled = match backend {
        DbBackend::Postgres => format!("{} + value", crate::sync::SETTLED_STAMP_PG),
        _ => "value".to_owned(),
    };
    let sql = format!(
        "SELECT COALESCE((SELECT MAX(change_seq) FROM issues), 0) AS latest, \
         {settled} AS settled FROM sync_counter WHERE id = 1"
    );
    let Some(row) = db
        .query_one_raw(Statement::from_string(backend, sql))
        .await?
    else {
        return Ok(None);
    };
    let (latest, settled): (i64, i64) = (row.try_get("", "latest")?, row.try_get("", "settled")?);
    Ok((latest <= settled).then_some(latest))
}

/// [`deadline_counts`], answered from `cache` while no issue has been written since it was
/// worked out.
pub async fn cached_deadline_counts(
    db: &DatabaseConnection,
    cache: &DeadlineCache,
    caller: &Principal,
    place: &org_unit::Model,
    group_by: GroupBy,
    window: &DeadlineWindow,
) -> Result<Arc<Vec<DeadlineGroup>>, DbErr> {
    let key = DeadlineKey {
        caller: match caller.actor {
            Actor::User { id } => Some(id),
            Actor::ApiToken { .. } => None,
        },
        place: place.id,
        group_by,
        window: *window,
    };
    // Read before the counts: a write landing while they are read changes the version, and
    // the next request works them out again.
    let version = issues_version(db).await?;
    if let Some(groups) = version.and_then(|version| cache.get(&key, version)) {
        return Ok(groups);
    }
    let groups = Arc::new(deadline_counts(db, caller, place, group_by, window).await?);
    if let Some(version) = version {
        cache.put(key, version, groups.clone());
    }
    Ok(groups)
}

/// The sum of the groups.
pub fn totals(groups: &[DeadlineGroup]) -> DeadlineCounts {
    let mut totals = DeadlineCounts::default();
    for group in groups {
        totals.add(&group.counts);
    }
    totals
}

/// What people read for each group key.
pub async fn group_names(
    db: &impl ConnectionTrait,
    group_by: GroupBy,
    keys: &[Option<String>],
) -> Result<HashMap<Option<String>, String>, DbErr> {
    let ids: Vec<Uuid> = keys
        .iter()
        .flatten()
        .filter_map(|key| key.parse().ok())
        .collect();
    let by_id: HashMap<Uuid, String> = match group_by {
        GroupBy::Town | GroupBy::Village => org_unit::Entity::find()
            .filter(org_unit::Column::Id.is_in(ids))
            .select_only()
            .column(org_unit::Column::Id)
            .column(org_unit::Column::Name)
            .into_tuple::<(Uuid, String)>()
            .all(db)
            .await?
            .into_iter()
            .collect(),
        GroupBy::Department => ledger::department_names(db, ids).await?,
        GroupBy::Responsible => user_names(db, ids).await?,
        GroupBy::Level | GroupBy::Category => HashMap::new(),
    };
    Ok(keys
        .iter()
        .map(|key| {
            let name = match (group_by, key.as_deref()) {
                (GroupBy::Department, None) => "（未转办部门）".to_owned(),
                (_, None) => String::new(),
                (GroupBy::Level, Some(key)) => Level::try_from_value(&key.to_owned())
                    .map(|level| level.label().to_owned())
                    .unwrap_or_default(),
                (GroupBy::Category, Some(key)) => Category::try_from_value(&key.to_owned())
                    .map(|category| category.label().to_owned())
                    .unwrap_or_default(),
                (_, Some(key)) => key
                    .parse::<Uuid>()
                    .ok()
                    .and_then(|id| by_id.get(&id).cloned())
                    .unwrap_or_default(),
            };
            (key.clone(), name)
        })
        .collect())
}

/// Display names of users, by id.
pub async fn user_names(
    db: &impl ConnectionTrait,
    ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, String>, DbErr> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .select_only()
        .column(user::Column::Id)
        .column(user::Column::DisplayName)
        .into_tuple::<(Uuid, String)>()
        .all(db)
        .await?
        .into_iter()
        .collect())
}

/// The campaign's span as UTC instants: from the first day's local midnight to the day after
/// the last (or after today, if the campaign is still running).
#[derive(Debug, Clone, Copy)]
pub struct Period {
    /// First local day.
    pub starts_on: NaiveDate,
    /// Last local day counted.
    pub ends_on: NaiveDate,
    /// `starts_on`'s local midnight.
    pub from: DateTime<Utc>,
    /// The local midnight after `ends_on`.
    pub until: DateTime<Utc>,
}

impl Period {
    /// The local days `starts_on` to `ends_on`, both included.
    pub fn days(
        clock: &crate::clock::LocalClock,
        starts_on: NaiveDate,
        ends_on: NaiveDate,
    ) -> Self {
        Self {
            starts_on,
            ends_on,
            from: clock.start_of(starts_on),
            until: clock.start_of(ends_on.succ_opt().unwrap_or(ends_on)),
        }
    }

    /// A campaign's days so far: from its first day to today (or its last day).
    pub fn campaign_so_far(
        clock: &crate::clock::LocalClock,
        campaign: &campaign::Model,
        today: NaiveDate,
    ) -> Self {
        let ends_on = Ord::max(Ord::min(today, campaign.ends_on), campaign.starts_on);
        Self::days(clock, campaign.starts_on, ends_on)
    }
}

/// The cadres a campaign's quotas and deed targets apply to: active users anchored in
/// `place` (or below it) whose position has a quota.
pub async fn campaign_cadres(
    db: &impl ConnectionTrait,
    place: &org_unit::Model,
    campaign: &campaign::Model,
) -> Result<Vec<user::Model>, DbErr> {
    let positions: Vec<Position> = campaign
        .quotas
        .0
        .iter()
        .map(|quota| quota.position)
        .collect();
    user::Entity::find()
        .filter(user::Column::Active.eq(true))
        .filter(user::Column::Position.is_in(positions))
        .filter(
            Condition::any()
                .add(user::Column::ScopeOrgUnitId.eq(place.id))
                .add(
                    Scope::Subtree {
                        kind: place.kind,
                        id: place.id,
                    }
                    .org_unit_condition(user::Column::ScopeOrgUnitId),
                ),
        )
        .order_by_asc(user::Column::DisplayName)
        .order_by_asc(user::Column::Id)
        .all(db)
        .await
}

/// Per cadre: household visits (repeats counted) and distinct households, in the period.
pub async fn visits_by_cadre(
    db: &impl ConnectionTrait,
    cadres: Vec<Uuid>,
    period: &Period,
) -> Result<HashMap<Uuid, (i64, i64)>, DbErr> {
    if cadres.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(visit::Entity::find()
        .select_only()
        .column(visit::Column::CadreId)
        .expr_as(Expr::cust("COUNT(visits.household_id)"), "visits")
        .expr_as(
            Expr::cust("COUNT(DISTINCT visits.household_id)"),
            "households",
        )
        .filter(visit::Column::CadreId.is_in(cadres))
        .filter(visit::Column::VisitedAt.gte(period.from))
        .filter(visit::Column::VisitedAt.lt(period.until))
        .group_by(visit::Column::CadreId)
        .into_tuple::<(Uuid, i64, i64)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(cadre, visits, households)| (cadre, (visits, households)))
        .collect())
}

/// The tags that make a household a visit priority (走访重点) for coverage.
pub const PRIORITY_TAGS: [HouseholdTag; 4] = [
    HouseholdTag::Hardship,
    HouseholdTag::Dissenting,
    HouseholdTag::FormerCadre,
    HouseholdTag::WealthLeader,
];

/// One village's coverage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Households on the roster.
    pub households: i64,
    /// Households visited at least once in the period.
    pub visited: i64,
    /// Priority households not visited in the period, per tag (in [`PRIORITY_TAGS`] order).
    pub priority_not_visited: [i64; 4],
    /// Priority households (any priority tag) not visited.
    pub priority_not_visited_total: i64,
}

/// Coverage of every village in `place` in the period, by village id.
pub async fn coverage_by_village(
    db: &impl ConnectionTrait,
    place: &org_unit::Model,
    period: &Period,
) -> Result<HashMap<Uuid, Coverage>, DbErr> {
    let mut coverage: HashMap<Uuid, Coverage> = HashMap::new();
    let in_place = within(
        place,
        household::Column::CountyId,
        household::Column::TownId,
        household::Column::VillageId,
    );
    let counts: Vec<(Uuid, i64)> = household::Entity::find()
        .select_only()
        .column(household::Column::VillageId)
        .expr_as(Expr::cust("COUNT(*)"), "households")
        .filter(in_place.clone())
        .group_by(household::Column::VillageId)
        .into_tuple()
        .all(db)
        .await?;
    for (village, households) in counts {
        coverage.entry(village).or_default().households = households;
    }
    let visited: Vec<(Uuid, i64)> = visit::Entity::find()
        .select_only()
        .column(visit::Column::VillageId)
        .expr_as(Expr::cust("COUNT(DISTINCT visits.household_id)"), "visited")
        .filter(within(
            place,
            visit::Column::CountyId,
            visit::Column::TownId,
            visit::Column::VillageId,
        ))
        .filter(visit::Column::HouseholdId.is_not_null())
        .filter(visit::Column::VisitedAt.gte(period.from))
        .filter(visit::Column::VisitedAt.lt(period.until))
        .group_by(visit::Column::VillageId)
        .into_tuple()
        .all(db)
        .await?;
    for (village, count) in visited {
        coverage.entry(village).or_default().visited = count;
    }
    let priority_bits = HouseholdTag::bits(&PRIORITY_TAGS);
    let per_tag = |tag: HouseholdTag| {
        Expr::cust(format!(
            "SUM(CASE WHEN (households.tags & {}) <> 0 THEN 1 ELSE 0 END)",
            tag.bit()
        ))
    };
    let unvisited: Vec<(Uuid, i64, i64, i64, i64, i64)> = household::Entity::find()
        .select_only()
        .column(household::Column::VillageId)
        .expr_as(Expr::cust("COUNT(*)"), "total")
        .expr_as(per_tag(PRIORITY_TAGS[0]), "tag0")
        .expr_as(per_tag(PRIORITY_TAGS[1]), "tag1")
        .expr_as(per_tag(PRIORITY_TAGS[2]), "tag2")
        .expr_as(per_tag(PRIORITY_TAGS[3]), "tag3")
        .filter(in_place)
        .filter(Expr::cust(format!(
            "(households.tags & {priority_bits}) <> 0"
        )))
        .filter(
            Expr::exists(
                Query::select()
                    .expr(Expr::val(1))
                    .from(visit::Entity)
                    .and_where(
                        Expr::col((visit::Entity, visit::Column::HouseholdId))
                            .equals((household::Entity, household::Column::Id)),
                    )
                    .and_where(visit::Column::VisitedAt.gte(period.from))
                    .and_where(visit::Column::VisitedAt.lt(period.until))
                    .to_owned(),
            )
            .not(),
        )
        .group_by(household::Column::VillageId)
        .into_tuple()
        .all(db)
        .await?;
    for (village, total, tag0, tag1, tag2, tag3) in unvisited {
        let entry = coverage.entry(village).or_default();
        entry.priority_not_visited_total = total;
        entry.priority_not_visited = [tag0, tag1, tag2, tag3];
    }
    Ok(coverage)
}

/// The villages (or towns) of a place, by name.
pub async fn units_in(
    db: &impl ConnectionTrait,
    place: &org_unit::Model,
    kind: OrgKind,
) -> Result<Vec<org_unit::Model>, DbErr> {
    org_unit::Entity::find()
        .filter(org_unit::Column::Kind.eq(kind))
        .filter(
            Scope::Subtree {
                kind: place.kind,
                id: place.id,
            }
            .org_unit_condition(org_unit::Column::Id),
        )
        .order_by_asc(org_unit::Column::Code)
        .all(db)
        .await
}

/// How satisfaction is grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SatisfactionBy {
    /// By cadre: issues they lead, visits they made.
    Cadre,
    /// By village.
    Village,
}

/// One group's satisfaction numbers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Satisfaction {
    /// Issues struck off (销号).
    pub closed: i64,
    /// Issues whose applicant answered (反馈) — their latest answer counts.
    pub answered: i64,
    /// Of those, satisfied.
    pub satisfied: i64,
    /// Visits whose 干部评价 has a rating.
    pub rated_visits: i64,
    /// The sum of those ratings (1–5 each).
    pub rating_sum: i64,
    /// How many ratings of 1, 2, 3, 4, 5.
    pub ratings: [i64; 5],
}

/// Satisfaction with the issues the caller may see, and the cadre ratings of visits, in
/// `place` during the period, grouped.
pub async fn satisfaction(
    db: &impl ConnectionTrait,
    caller: &Principal,
    place: &org_unit::Model,
    by: SatisfactionBy,
    period: &Period,
) -> Result<HashMap<Uuid, Satisfaction>, DbErr> {
    let issue_key = match by {
        SatisfactionBy::Cadre => issue::Column::LeadResponsibleId,
        SatisfactionBy::Village => issue::Column::VillageId,
    };
    let issues: Vec<(Uuid, i64, i64, i64)> = issue::Entity::find()
        .select_only()
        .column(issue_key)
        .expr_as(
            Expr::cust("SUM(CASE WHEN issues.status = 'closed' THEN 1 ELSE 0 END)"),
            "closed",
        )
        .expr_as(
            Expr::cust("SUM(CASE WHEN issues.applicant_satisfied IS NOT NULL THEN 1 ELSE 0 END)"),
            "answered",
        )
        .expr_as(
            Expr::cust("SUM(CASE WHEN issues.applicant_satisfied = TRUE THEN 1 ELSE 0 END)"),
            "satisfied",
        )
        .filter(ledger::conflict_condition(caller))
        .filter(within(
            place,
            issue::Column::CountyId,
            issue::Column::TownId,
            issue::Column::VillageId,
        ))
        .filter(Expr::cust(ledger::LEDGER_SQL))
        .filter(issue::Column::CreatedAt.gte(period.from))
        .filter(issue::Column::CreatedAt.lt(period.until))
        .group_by(issue_key)
        .into_tuple()
        .all(db)
        .await?;
    let visit_key = match by {
        SatisfactionBy::Cadre => visit::Column::CadreId,
        SatisfactionBy::Village => visit::Column::VillageId,
    };
    let rating = |value: i16| {
        Expr::cust(format!(
            "SUM(CASE WHEN visits.cadre_rating = {value} THEN 1 ELSE 0 END)"
        ))
    };
    let visits: Vec<(Uuid, i64, i64, i64, i64, i64)> = visit::Entity::find()
        .select_only()
        .column(visit_key)
        .expr_as(rating(1), "r1")
        .expr_as(rating(2), "r2")
        .expr_as(rating(3), "r3")
        .expr_as(rating(4), "r4")
        .expr_as(rating(5), "r5")
        .filter(within(
            place,
            visit::Column::CountyId,
            visit::Column::TownId,
            visit::Column::VillageId,
        ))
        .filter(visit::Column::CadreRating.is_not_null())
        .filter(visit::Column::VisitedAt.gte(period.from))
        .filter(visit::Column::VisitedAt.lt(period.until))
        .group_by(visit_key)
        .into_tuple()
        .all(db)
        .await?;
    let mut groups: HashMap<Uuid, Satisfaction> = HashMap::new();
    for (key, closed, answered, satisfied) in issues {
        let entry = groups.entry(key).or_default();
        entry.closed = closed;
        entry.answered = answered;
        entry.satisfied = satisfied;
    }
    for (key, r1, r2, r3, r4, r5) in visits {
        let entry = groups.entry(key).or_default();
        entry.ratings = [r1, r2, r3, r4, r5];
        entry.rated_visits = r1 + r2 + r3 + r4 + r5;
        entry.rating_sum = r1 + 2 * r2 + 3 * r3 + 4 * r4 + 5 * r5;
    }
    Ok(groups)
}

/// Per lead responsible person: deeds marked during the period, and of those the ones done
/// (resolved or struck off).
pub async fn deeds_by_cadre(
    db: &impl ConnectionTrait,
    caller: &Principal,
    place: &org_unit::Model,
    cadres: Vec<Uuid>,
    period: &Period,
) -> Result<HashMap<Uuid, (i64, i64)>, DbErr> {
    if cadres.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(deeds_grouped(
        db,
        caller,
        place,
        issue::Column::LeadResponsibleId,
        period,
        None,
    )
    .await?
    .into_iter()
    .filter(|(cadre, _)| cadres.contains(cadre))
    .collect())
}

/// Per town: deeds marked during the period, and those done; with `first_batch_due`, only the
/// deeds marked by the end of that day.
pub async fn deeds_by_town(
    db: &impl ConnectionTrait,
    caller: &Principal,
    place: &org_unit::Model,
    period: &Period,
    marked_before: Option<DateTime<Utc>>,
) -> Result<HashMap<Uuid, (i64, i64)>, DbErr> {
    deeds_grouped(
        db,
        caller,
        place,
        issue::Column::TownId,
        period,
        marked_before,
    )
    .await
}

async fn deeds_grouped(
    db: &impl ConnectionTrait,
    caller: &Principal,
    place: &org_unit::Model,
    key: issue::Column,
    period: &Period,
    marked_before: Option<DateTime<Utc>>,
) -> Result<HashMap<Uuid, (i64, i64)>, DbErr> {
    let mut query = issue::Entity::find()
        .select_only()
        .column(key)
        .expr_as(Expr::cust("COUNT(*)"), "marked")
        .expr_as(
            Expr::cust("SUM(CASE WHEN issues.status IN ('resolved', 'closed') THEN 1 ELSE 0 END)"),
            "done",
        )
        .filter(within(
            place,
            issue::Column::CountyId,
            issue::Column::TownId,
            issue::Column::VillageId,
        ))
        .filter(ledger::conflict_condition(caller))
        .filter(issue::Column::IsDeed.eq(true))
        .filter(issue::Column::CreatedAt.gte(period.from))
        .filter(issue::Column::CreatedAt.lt(period.until));
    if let Some(before) = marked_before {
        query = query.filter(issue::Column::CreatedAt.lt(before));
    }
    Ok(query
        .group_by(key)
        .into_tuple::<(Uuid, i64, i64)>()
        .all(db)
        .await?
        .into_iter()
        .map(|(key, marked, done)| (key, (marked, done)))
        .collect())
}

/// A quota's progress: `met` at or above the target, `on_track` at or above the share of the
/// target the days elapsed call for, `behind` otherwise.
pub fn quota_status(done: i64, target: i64, expected: i64) -> &'static str {
    if done >= target {
        "met"
    } else if done >= expected {
        "on_track"
    } else {
        "behind"
    }
}

/// The part of `target` due by `today` if the work were spread evenly over the campaign
/// (rounded down): none before it starts, all of it from its last day.
pub fn expected_by(target: i64, starts_on: NaiveDate, ends_on: NaiveDate, today: NaiveDate) -> i64 {
    if today < starts_on {
        return 0;
    }
    let total = (ends_on - starts_on).num_days() + 1;
    let elapsed = (Ord::min(today, ends_on) - starts_on).num_days() + 1;
    if total <= 0 {
        return target;
    }
    target * elapsed / total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(month: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, month, day).expect("valid date")
    }

    #[test]
    fn the_expected_share_grows_with_the_days_elapsed() {
        // 1 April – 30 April: 30 days; on 15 April, 15 of them have passed.
        assert_eq!(expected_by(120, day(4, 1), day(4, 30), day(4, 15)), 60);
        assert_eq!(expected_by(120, day(4, 1), day(4, 30), day(3, 31)), 0);
        assert_eq!(expected_by(120, day(4, 1), day(4, 30), day(5, 20)), 120);
    }

    #[test]
    fn a_quota_is_met_on_track_or_behind() {
        assert_eq!(quota_status(120, 120, 120), "met");
        assert_eq!(quota_status(61, 120, 60), "on_track");
        assert_eq!(quota_status(59, 120, 60), "behind");
    }
}
