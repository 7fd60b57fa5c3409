//! `/api/v1/dashboard/*`: the leadership dashboards — deadlines, quotas and coverage,
//! satisfaction, deeds. Each answers for one place (a county, town, district or village in
//! the caller's scope; default the caller's own) and counts only what the caller may see.

use actix_web::{get, web};
use chrono::{Datelike, NaiveDate};
use entity::{
    campaign::{self, QuotaMeasure},
    org_unit::{self, OrgKind},
    user::Position,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::{
    auth::AuthUser,
    campaigns,
    dashboard::{
        self, Coverage, DeadlineCounts, DeadlineWindow, GroupBy, PRIORITY_TAGS, Period,
        SatisfactionBy,
    },
    error::{ApiError, ApiResult, Problem},
    ledger::{self, LedgerFilter},
    routes::issues::IssueResponse,
    startup::AppState,
};

/// Registers the dashboards.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(get_deadline_dashboard)
        .service(get_quota_dashboard)
        .service(get_satisfaction_dashboard)
        .service(get_deed_dashboard);
}

/// The place a dashboard is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlaceRef {
    /// Id.
    pub id: Uuid,
    /// Name.
    #[schema(example = "东岭镇")]
    pub name: String,
    /// Level.
    pub kind: OrgKind,
}

impl From<&org_unit::Model> for PlaceRef {
    fn from(unit: &org_unit::Model) -> Self {
        Self {
            id: unit.id,
            name: unit.name.clone(),
            kind: unit.kind,
        }
    }
}

/// The campaign a dashboard measures against.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignRef {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Year.
    pub year: i32,
    /// First day.
    pub starts_on: NaiveDate,
    /// Last day.
    pub ends_on: NaiveDate,
}

impl From<&campaign::Model> for CampaignRef {
    fn from(row: &campaign::Model) -> Self {
        Self {
            id: row.id,
            name: row.name.clone(),
            year: row.year,
            starts_on: row.starts_on,
            ends_on: row.ends_on,
        }
    }
}

/// Parameters of the deadlines dashboard.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeadlineQuery {
    /// How to group: `town`, `village` (default), `level`, `category`, `department` or
    /// `responsible`.
    pub group_by: Option<GroupBy>,
    /// The place: a county, town, district or village in your scope (default: your own).
    pub org_unit_id: Option<Uuid>,
    /// Only issues raised on or after this (local) day.
    pub from: Option<NaiveDate>,
    /// Only issues raised on or before this (local) day.
    pub to: Option<NaiveDate>,
}

/// One group of the deadlines dashboard.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadlineGroupResponse {
    /// The group's key: an id (town, village, department, person) or a value (`village`,
    /// `practical_difficulty`); null for issues no department handles.
    pub key: Option<String>,
    /// What people read: 东关村, 实际困难, 县交通运输局, 李明.
    pub name: String,
    /// The counts.
    #[serde(flatten)]
    pub counts: DeadlineCounts,
    /// The ledger behind this group: append a count's filter from `count_filters` and call
    /// `GET /api/v1/issues?<this>&<that>`. Null when no ledger filter selects the group.
    #[schema(example = "org_unit_id=0190…&village_id=0190…")]
    pub ledger_query: Option<String>,
}

/// The ledger filter behind each count.
#[derive(Debug, Serialize, ToSchema)]
pub struct CountFilters {
    /// `status=open,in_progress`.
    pub open: String,
    /// `overdue=true`.
    pub overdue: String,
    /// `due_soon=true`.
    pub due_soon: String,
    /// `awaiting_feedback=true`.
    pub awaiting_feedback: String,
    /// `closed_since=<first of this month>`.
    pub closed_this_month: String,
}

/// The deadlines dashboard.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadlineDashboard {
    /// The place.
    pub org_unit: PlaceRef,
    /// Today (local): what "overdue" and "this month" are measured against.
    pub as_of: NaiveDate,
    /// The last day that counts as due soon.
    pub due_soon_until: NaiveDate,
    /// How the groups are formed.
    pub group_by: GroupBy,
    /// The counts over all groups.
    pub totals: DeadlineCounts,
    /// The groups, most overdue first.
    pub groups: Vec<DeadlineGroupResponse>,
    /// The ledger filter behind each count.
    pub count_filters: CountFilters,
    /// The ten oldest overdue issues (earliest deadline first).
    pub oldest_overdue: Vec<IssueResponse>,
}

fn check_range(from: Option<NaiveDate>, to: Option<NaiveDate>) -> ApiResult<()> {
    match (from, to) {
        (Some(from), Some(to)) if from > to => Err(ApiError::invalid_field(
            "to",
            "before_from",
            "`to` is on or after `from`.",
        )),
        _ => Ok(()),
    }
}

/// Open, overdue, due-soon, awaiting-feedback (事事有回音) and struck-off-this-month counts of
/// the ledger, grouped; with the ledger query behind each group and the ten oldest overdue
/// issues. Only issues the caller may see are counted.
#[utoipa::path(
    tag = "dashboard",
    params(DeadlineQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The dashboard.", body = DeadlineDashboard),
        (status = 404, description = "No such org unit in your scope.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/dashboard/deadlines")]
async fn get_deadline_dashboard(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<DeadlineQuery>,
) -> ApiResult<web::Json<DeadlineDashboard>> {
    check_range(query.from, query.to)?;
    let place = dashboard::place_of(&state.db, user.scope(), query.org_unit_id).await?;
    let group_by = query.group_by.unwrap_or(GroupBy::Village);
    let deadlines = state.deadlines();
    let today = deadlines.today;
    let month_first = today.with_day(1).unwrap_or(today);
    let window = DeadlineWindow {
        today,
        soon_limit: deadlines.soon_limit(),
        month_start: state.month_start(),
        raised_from: query.from.map(|day| state.clock.start_of(day)),
        raised_before: query
            .to
            .and_then(|day| day.succ_opt())
            .map(|day| state.clock.start_of(day)),
    };
    let answer = dashboard::deadline_counts(
        &state.db,
        &state.live_ledger,
        &user.principal,
        &place,
        group_by,
        &window,
    )
    .await?;
    let groups = &answer.groups;
    let keys: Vec<Option<String>> = groups.iter().map(|group| group.key.clone()).collect();
    let names = dashboard::group_names(&state.db, &state.names, group_by, &keys).await?;
    let mut base_query = format!("org_unit_id={}", place.id);
    if let Some(from) = query.from {
        base_query.push_str(&format!("&raised_from={from}"));
    }
    if let Some(to) = query.to {
        base_query.push_str(&format!("&raised_to={to}"));
    }
    let totals = dashboard::totals(groups);
    let mut groups: Vec<DeadlineGroupResponse> = groups
        .iter()
        .cloned()
        .map(|group| DeadlineGroupResponse {
            name: names.get(&group.key).cloned().unwrap_or_default(),
            ledger_query: group
                .key
                .as_ref()
                .map(|key| format!("{base_query}&{}={key}", group_by.ledger_parameter())),
            key: group.key,
            counts: group.counts,
        })
        .collect();
    groups.sort_by(|a, b| {
        (b.counts.overdue, b.counts.open)
            .cmp(&(a.counts.overdue, a.counts.open))
            .then_with(|| a.name.cmp(&b.name))
    });
    let overdue = LedgerFilter {
        overdue: true,
        within: Some((place.kind, place.id)),
        raised_from: window.raised_from,
        raised_before: window.raised_before,
        ..LedgerFilter::default()
    };
    let oldest_ids = answer
        .oldest_overdue
        .get_or_try_init(|| async {
            let rows =
                ledger::list_ledger(&state.db, &user.principal, &overdue, deadlines, None, 10)
                    .await?;
            Ok::<_, sea_orm::DbErr>(rows.into_iter().map(|row| row.id).collect())
        })
        .await?;
    let oldest_overdue = ledger::issues_in_order(&state.db, &user.principal, oldest_ids)
        .await?
        .into_iter()
        .map(|row| IssueResponse::for_caller(row, &user, deadlines))
        .collect();
    Ok(web::Json(DeadlineDashboard {
        org_unit: PlaceRef::from(&place),
        as_of: today,
        due_soon_until: deadlines.soon_limit(),
        group_by,
        totals,
        groups,
        count_filters: CountFilters {
            open: "status=open,in_progress".to_owned(),
            overdue: "overdue=true".to_owned(),
            due_soon: "due_soon=true".to_owned(),
            awaiting_feedback: "awaiting_feedback=true".to_owned(),
            closed_this_month: format!("closed_since={month_first}"),
        },
        oldest_overdue,
    }))
}

/// Parameters of the campaign dashboards.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CampaignDashboardQuery {
    /// The place: a county, town, district or village in your scope (default: your own).
    pub org_unit_id: Option<Uuid>,
    /// The campaign (default: the one that applies to the place this year).
    pub campaign_id: Option<Uuid>,
}

/// A cadre's progress against the quota for their position.
#[derive(Debug, Serialize, ToSchema)]
pub struct CadreQuota {
    /// The cadre.
    pub user_id: Uuid,
    /// Name.
    pub name: String,
    /// Position.
    pub position: Position,
    /// What the quota counts.
    pub measure: QuotaMeasure,
    /// The quota for the campaign.
    pub target: i64,
    /// Household visits made in the campaign so far (repeats counted).
    pub visits: i64,
    /// Distinct households visited.
    pub households: i64,
    /// The number the quota counts (`visits` or `households`).
    pub done: i64,
    /// The share of the target the days elapsed call for (rounded down).
    pub expected_to_date: i64,
    /// `met`, `on_track` or `behind`.
    #[schema(example = "on_track")]
    pub status: String,
}

/// Priority households (走访重点) not yet visited, per tag; one household may carry several.
#[derive(Debug, Serialize, ToSchema)]
pub struct PriorityNotVisited {
    /// 困难.
    pub hardship: i64,
    /// 有不同意见.
    pub dissenting: i64,
    /// 离任村干部.
    pub former_cadre: i64,
    /// 致富能手.
    pub wealth_leader: i64,
    /// Households with any of these tags.
    pub total: i64,
}

/// A village's visit coverage in the campaign.
#[derive(Debug, Serialize, ToSchema)]
pub struct VillageCoverage {
    /// The village.
    pub village_id: Uuid,
    /// Name.
    pub name: String,
    /// Households on the roster.
    pub households: i64,
    /// Households visited at least once.
    pub visited_households: i64,
    /// `visited_households / households` (0–1, four decimals); null without households.
    pub coverage: Option<f64>,
    /// Priority households not yet visited.
    pub priority_not_visited: PriorityNotVisited,
    /// List them: `GET /api/v1/households?village_id=<id>&tag=<tag>&not_visited_since=<this>`.
    pub not_visited_since: NaiveDate,
}

/// How many cadres stand where.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct QuotaSummary {
    /// Cadres with a quota.
    pub cadres: i64,
    /// At or above the target.
    pub met: i64,
    /// Keeping pace.
    pub on_track: i64,
    /// Falling behind.
    pub behind: i64,
}

/// The quotas dashboard.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaDashboard {
    /// The place.
    pub org_unit: PlaceRef,
    /// The campaign.
    pub campaign: CampaignRef,
    /// Today (local).
    pub as_of: NaiveDate,
    /// Counts of cadres by status.
    pub summary: QuotaSummary,
    /// Each cadre anchored in the place whose position has a quota, by name.
    pub cadres: Vec<CadreQuota>,
    /// Each village of the place, by code.
    pub villages: Vec<VillageCoverage>,
}

fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| (part as f64 / whole as f64 * 10_000.0).round() / 10_000.0)
}

/// Each cadre's visits and distinct households in the campaign against the quota for their
/// position (on track / behind, pro rata to the days elapsed), and each village's coverage:
/// the share of households visited at least once and the priority households (hardship,
/// dissenting views, former cadres, wealth leaders) not yet visited.
#[utoipa::path(
    tag = "dashboard",
    params(CampaignDashboardQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The dashboard.", body = QuotaDashboard),
        (status = 404, description = "No such org unit or campaign in your scope.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No campaign is set up for the place this year.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/dashboard/quotas")]
async fn get_quota_dashboard(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<CampaignDashboardQuery>,
) -> ApiResult<web::Json<QuotaDashboard>> {
    let place = dashboard::place_of(&state.db, user.scope(), query.org_unit_id).await?;
    let today = state.clock.today();
    let campaign =
        campaigns::for_dashboard(&state.db, user.scope(), &place, query.campaign_id, today).await?;
    let period = Period::campaign_so_far(&state.clock, &campaign, today);
    let cadres = dashboard::campaign_cadres(&state.db, &place, &campaign).await?;
    let visits = dashboard::visits_by_cadre(
        &state.db,
        cadres.iter().map(|cadre| cadre.id).collect(),
        &period,
    )
    .await?;
    let mut summary = QuotaSummary::default();
    let cadres: Vec<CadreQuota> = cadres
        .into_iter()
        .filter_map(|cadre| {
            let quota = campaigns::quota_of(&campaign, cadre.position)?;
            let (visits, households) = visits.get(&cadre.id).copied().unwrap_or_default();
            let done = match quota.measure {
                QuotaMeasure::Households => households,
                QuotaMeasure::Visits => visits,
            };
            let target = i64::from(quota.target);
            let expected =
                dashboard::expected_by(target, campaign.starts_on, campaign.ends_on, today);
            let status = dashboard::quota_status(done, target, expected);
            summary.cadres += 1;
            match status {
                "met" => summary.met += 1,
                "on_track" => summary.on_track += 1,
                _ => summary.behind += 1,
            }
            Some(CadreQuota {
                user_id: cadre.id,
                name: cadre.display_name,
                position: cadre.position,
                measure: quota.measure,
                target,
                visits,
                households,
                done,
                expected_to_date: expected,
                status: status.to_owned(),
            })
        })
        .collect();
    let coverage = dashboard::coverage_by_village(&state.db, &place, &period).await?;
    let villages = dashboard::units_in(&state.db, &place, OrgKind::Village)
        .await?
        .into_iter()
        .map(|village| {
            let numbers = coverage.get(&village.id).cloned().unwrap_or_default();
            village_coverage(village, numbers, campaign.starts_on)
        })
        .collect();
    Ok(web::Json(QuotaDashboard {
        org_unit: PlaceRef::from(&place),
        campaign: CampaignRef::from(&campaign),
        as_of: today,
        summary,
        cadres,
        villages,
    }))
}

fn village_coverage(
    village: org_unit::Model,
    numbers: Coverage,
    since: NaiveDate,
) -> VillageCoverage {
    let [hardship, dissenting, former_cadre, wealth_leader] = numbers.priority_not_visited;
    debug_assert_eq!(PRIORITY_TAGS.len(), 4);
    VillageCoverage {
        village_id: village.id,
        name: village.name,
        households: numbers.households,
        visited_households: numbers.visited,
        coverage: ratio(numbers.visited, numbers.households),
        priority_not_visited: PriorityNotVisited {
            hardship,
            dissenting,
            former_cadre,
            wealth_leader,
            total: numbers.priority_not_visited_total,
        },
        not_visited_since: since,
    }
}

/// Parameters of the satisfaction dashboard.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SatisfactionQuery {
    /// `cadre` (default) or `village`.
    pub group_by: Option<SatisfactionBy>,
    /// The place: a county, town, district or village in your scope (default: your own).
    pub org_unit_id: Option<Uuid>,
    /// Issues raised and visits made on or after this (local) day (default: 1 January).
    pub from: Option<NaiveDate>,
    /// … and on or before this day (default: today).
    pub to: Option<NaiveDate>,
}

/// One cadre's or village's satisfaction.
#[derive(Debug, Serialize, ToSchema)]
pub struct SatisfactionGroup {
    /// The cadre (lead responsible person / visitor) or village.
    pub key: Uuid,
    /// Name.
    pub name: String,
    /// Issues struck off.
    pub closed: i64,
    /// Issues whose applicant has answered (反馈); the latest answer counts.
    pub answered: i64,
    /// Of those, satisfied.
    pub satisfied: i64,
    /// `satisfied / answered` (0–1, four decimals); null before any answer.
    pub satisfaction_rate: Option<f64>,
    /// Visits whose 问干部评价 carries a rating.
    pub rated_visits: i64,
    /// The mean rating, 1–5 (two decimals); null without ratings.
    pub average_rating: Option<f64>,
    /// How many ratings of 1, 2, 3, 4 and 5.
    pub ratings: [i64; 5],
}

/// The satisfaction dashboard.
#[derive(Debug, Serialize, ToSchema)]
pub struct SatisfactionDashboard {
    /// The place.
    pub org_unit: PlaceRef,
    /// First day counted.
    pub from: NaiveDate,
    /// Last day counted.
    pub to: NaiveDate,
    /// How the groups are formed.
    pub group_by: SatisfactionBy,
    /// The groups, by name.
    pub groups: Vec<SatisfactionGroup>,
}

/// Per cadre or village: the share of answered issues whose applicant was satisfied, the
/// issues struck off, and the residents' evaluation of cadres (问干部评价) from visits.
#[utoipa::path(
    tag = "dashboard",
    params(SatisfactionQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The dashboard.", body = SatisfactionDashboard),
        (status = 404, description = "No such org unit in your scope.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/dashboard/satisfaction")]
async fn get_satisfaction_dashboard(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<SatisfactionQuery>,
) -> ApiResult<web::Json<SatisfactionDashboard>> {
    check_range(query.from, query.to)?;
    let place = dashboard::place_of(&state.db, user.scope(), query.org_unit_id).await?;
    let today = state.clock.today();
    let to = query.to.unwrap_or(today);
    let from = query
        .from
        .unwrap_or_else(|| NaiveDate::from_ymd_opt(to.year(), 1, 1).unwrap_or(to));
    let period = Period::days(&state.clock, from, to);
    let group_by = query.group_by.unwrap_or(SatisfactionBy::Cadre);
    let numbers =
        dashboard::satisfaction(&state.db, &user.principal, &place, group_by, &period).await?;
    let ids: Vec<Uuid> = numbers.keys().copied().collect();
    let names = match group_by {
        SatisfactionBy::Cadre => dashboard::user_names(&state.db, ids).await?,
        SatisfactionBy::Village => dashboard::units_in(&state.db, &place, OrgKind::Village)
            .await?
            .into_iter()
            .map(|village| (village.id, village.name))
            .collect(),
    };
    let mut groups: Vec<SatisfactionGroup> = numbers
        .into_iter()
        .map(|(key, numbers)| SatisfactionGroup {
            key,
            name: names.get(&key).cloned().unwrap_or_default(),
            closed: numbers.closed,
            answered: numbers.answered,
            satisfied: numbers.satisfied,
            satisfaction_rate: ratio(numbers.satisfied, numbers.answered),
            rated_visits: numbers.rated_visits,
            average_rating: (numbers.rated_visits > 0).then(|| {
                (numbers.rating_sum as f64 / numbers.rated_visits as f64 * 100.0).round() / 100.0
            }),
            ratings: numbers.ratings,
        })
        .collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name).then(a.key.cmp(&b.key)));
    Ok(web::Json(SatisfactionDashboard {
        org_unit: PlaceRef::from(&place),
        from,
        to,
        group_by,
        groups,
    }))
}

/// A cadre's deeds (实事) against the campaign's target.
#[derive(Debug, Serialize, ToSchema)]
pub struct CadreDeeds {
    /// The cadre.
    pub user_id: Uuid,
    /// Name.
    pub name: String,
    /// Deeds they lead, marked during the campaign.
    pub marked: i64,
    /// Of those, resolved or struck off.
    pub done: i64,
    /// Deeds each cadre must complete.
    pub target: i64,
    /// `done >= target`.
    pub met: bool,
}

/// A town's deeds and its first batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct TownDeeds {
    /// The town.
    pub town_id: Uuid,
    /// Name.
    pub name: String,
    /// Deeds marked during the campaign.
    pub marked: i64,
    /// Of those, resolved or struck off.
    pub done: i64,
    /// Deeds marked by the first batch's due day.
    pub first_batch: i64,
    /// The first batch's size.
    pub first_batch_target: i64,
    /// `first_batch >= first_batch_target`.
    pub first_batch_met: bool,
}

/// The deeds dashboard.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeedDashboard {
    /// The place.
    pub org_unit: PlaceRef,
    /// The campaign.
    pub campaign: CampaignRef,
    /// The first batch's due day.
    pub first_batch_due: NaiveDate,
    /// Each cadre anchored in the place whose position has a quota, by name.
    pub cadres: Vec<CadreDeeds>,
    /// Each town of the place.
    pub towns: Vec<TownDeeds>,
}

/// Deeds (实事) per cadre against the campaign's target (≥ 2), and per town with its first
/// batch (12 by 30 April in the standard campaign).
#[utoipa::path(
    tag = "dashboard",
    params(CampaignDashboardQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The dashboard.", body = DeedDashboard),
        (status = 404, description = "No such org unit or campaign in your scope.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No campaign is set up for the place this year.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/dashboard/deeds")]
async fn get_deed_dashboard(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<CampaignDashboardQuery>,
) -> ApiResult<web::Json<DeedDashboard>> {
    let place = dashboard::place_of(&state.db, user.scope(), query.org_unit_id).await?;
    let today = state.clock.today();
    let campaign =
        campaigns::for_dashboard(&state.db, user.scope(), &place, query.campaign_id, today).await?;
    let period = Period::campaign_so_far(&state.clock, &campaign, today);
    let cadres = dashboard::campaign_cadres(&state.db, &place, &campaign).await?;
    let by_cadre = dashboard::deeds_by_cadre(
        &state.db,
        &user.principal,
        &place,
        cadres.iter().map(|cadre| cadre.id).collect(),
        &period,
    )
    .await?;
    let target = i64::from(campaign.deeds_per_cadre);
    let cadres = cadres
        .into_iter()
        .map(|cadre| {
            let (marked, done) = by_cadre.get(&cadre.id).copied().unwrap_or_default();
            CadreDeeds {
                user_id: cadre.id,
                name: cadre.display_name,
                marked,
                done,
                target,
                met: done >= target,
            }
        })
        .collect();
    let batch_end = state.clock.start_of(
        campaign
            .first_batch_due
            .succ_opt()
            .unwrap_or(campaign.first_batch_due),
    );
    let by_town =
        dashboard::deeds_by_town(&state.db, &user.principal, &place, &period, None).await?;
    let first_batch =
        dashboard::deeds_by_town(&state.db, &user.principal, &place, &period, Some(batch_end))
            .await?;
    let towns = match place.kind {
        OrgKind::Town => vec![place.clone()],
        OrgKind::County => dashboard::units_in(&state.db, &place, OrgKind::Town).await?,
        // A district or village belongs to one town; its deeds are that town's share.
        _ => Vec::new(),
    };
    let batch_target = i64::from(campaign.first_batch_deeds);
    let towns = towns
        .into_iter()
        .map(|town| {
            let (marked, done) = by_town.get(&town.id).copied().unwrap_or_default();
            let (batch, _) = first_batch.get(&town.id).copied().unwrap_or_default();
            TownDeeds {
                town_id: town.id,
                name: town.name,
                marked,
                done,
                first_batch: batch,
                first_batch_target: batch_target,
                first_batch_met: batch >= batch_target,
            }
        })
        .collect();
    Ok(web::Json(DeedDashboard {
        org_unit: PlaceRef::from(&place),
        campaign: CampaignRef::from(&campaign),
        first_batch_due: campaign.first_batch_due,
        cadres,
        towns,
    }))
}
