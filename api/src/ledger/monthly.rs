//! The monthly ledger (月度台账): for a town or county and a month, the issues new that month,
//! those struck off (销号) in it, and those carried over into the next month with their
//! progress as it stood at the month's end. A leader signs the month off; the signed month is
//! kept as a frozen copy ([`entity::ledger_month`]) and later changes to the issues do not
//! alter it.
//!
//! Status and progress "as of the month's end" are read from each issue's timeline (events up
//! to the end), so a past month reads as it stood, not as things are today; the deadline,
//! level and deed mark are the issue's current ones.
//!
//! A month is usually signed before it ends (by the 30th). What is raised or struck off after
//! the signature is then not in the frozen month, so the next month's window starts at that
//! signature: nothing falls between two months.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use entity::{
    issue::{self, Category, Level, Status},
    issue_event::{self, EventKind},
    ledger_month, org_unit,
};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    access::Scope,
    clock::LocalClock,
    dashboard,
    error::{ApiError, ApiResult},
    privacy,
};

/// A calendar month, `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    /// Its first day.
    pub first_day: NaiveDate,
}

impl Month {
    /// Reads `2026-05`; anything else is a 422 naming the path parameter.
    pub fn parse(text: &str) -> ApiResult<Self> {
        let invalid = || ApiError::invalid_field("month", "invalid", "A month is written YYYY-MM.");
        if text.len() != 7 || text.as_bytes().get(4) != Some(&b'-') {
            return Err(invalid());
        }
        let first_day =
            NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d").map_err(|_| invalid())?;
        Ok(Self { first_day })
    }

    /// The day a ledger of this month computed (or signed) on `generated_on` stands as of:
    /// the month's last day, or the day it was computed if that came first (a month signed
    /// before it ended is frozen as it stood then). What is overdue in it is judged on that
    /// day.
    pub fn lines_as_of(&self, generated_on: NaiveDate) -> NaiveDate {
        self.next_first_day()
            .pred_opt()
            .unwrap_or(self.first_day)
            .min(generated_on)
    }

    /// The first day of the next month.
    pub fn next_first_day(&self) -> NaiveDate {
        self.first_day
            .checked_add_months(Months::new(1))
            .unwrap_or(self.first_day)
    }

    /// The month of a day.
    pub fn of(day: NaiveDate) -> Self {
        Self {
            first_day: day.with_day(1).unwrap_or(day),
        }
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}", self.first_day.format("%Y-%m"))
    }
}

/// One line of the monthly ledger.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MonthlyItem {
    /// The issue.
    pub issue_id: Uuid,
    /// The village.
    pub village_id: Uuid,
    /// 村.
    #[schema(example = "东关村")]
    pub village: String,
    /// 申请人姓名 (masked for viewers).
    pub applicant_name: String,
    /// 申办事项.
    pub matter: String,
    /// 问题类别.
    pub category: Category,
    /// 层级.
    pub level: Level,
    /// 主办责任人.
    pub responsible_id: Uuid,
    /// 责任人 (name).
    pub responsible: String,
    /// 办结时限.
    pub deadline: Option<NaiveDate>,
    /// The status at the month's end.
    pub status: Status,
    /// 办理情况: the latest progress note (or resolution) at the month's end.
    pub progress: Option<String>,
    /// A practical deed (实事).
    pub is_deed: bool,
    /// When it was raised.
    pub created_at: DateTime<Utc>,
    /// When it was struck off in this month, if it was.
    pub closed_at: Option<DateTime<Utc>>,
    /// For cadre-conduct complaints: the cadre named (who never sees the line).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub named_cadre_id: Option<Uuid>,
}

/// A month's ledger for a place.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MonthlyLedger {
    /// The town or county.
    pub org_unit_id: Uuid,
    /// Its name.
    pub org_unit: String,
    /// `YYYY-MM`.
    #[schema(example = "2026-05")]
    pub month: String,
    /// When this ledger was computed (for a signed month: when it was signed).
    pub generated_at: DateTime<Utc>,
    /// 本月新增: raised this month.
    pub new: Vec<MonthlyItem>,
    /// 本月销号: struck off this month.
    pub struck_off: Vec<MonthlyItem>,
    /// 结转下月: not struck off by the month's end (new ones included), with their progress.
    pub carried_over: Vec<MonthlyItem>,
}

impl MonthlyLedger {
    /// The ledger as a reader may see it: lines naming the reader (conduct complaints about
    /// them) removed, applicant names masked unless the role sees names.
    pub fn for_reader(mut self, reader: Option<Uuid>, sees_names: bool) -> Self {
        for items in [&mut self.new, &mut self.struck_off, &mut self.carried_over] {
            items.retain(|item| reader.is_none() || item.named_cadre_id != reader);
            for item in items.iter_mut() {
                if !sees_names {
                    item.applicant_name = privacy::mask_name(&item.applicant_name);
                }
                item.named_cadre_id = None;
            }
        }
        self
    }

    /// Every line once (new, carried over, struck off), for exports.
    pub fn all_items(&self) -> Vec<&MonthlyItem> {
        let mut seen = std::collections::HashSet::new();
        self.new
            .iter()
            .chain(&self.carried_over)
            .chain(&self.struck_off)
            .filter(|item| seen.insert(item.issue_id))
            .collect()
    }
}

/// Where an issue stood at the month's end, read from its timeline.
#[derive(Debug, Clone, Default)]
struct Standing {
    status: Option<Status>,
    progress: Option<String>,
    closed_in_month: Option<DateTime<Utc>>,
}

fn fold(events: &[issue_event::Model], month_from: DateTime<Utc>) -> Standing {
    let mut standing = Standing::default();
    for event in events {
        match event.kind {
            EventKind::Created => standing.status = Some(Status::Open),
            EventKind::Progress | EventKind::EscalationAccepted => {
                if matches!(standing.status, None | Some(Status::Open)) {
                    standing.status = Some(Status::InProgress);
                }
                if event.kind == EventKind::Progress {
                    standing.progress.clone_from(&event.note);
                }
            }
            EventKind::Resolved => {
                standing.status = Some(Status::Resolved);
                standing.progress.clone_from(&event.note);
            }
            EventKind::Closed => {
                standing.status = Some(Status::Closed);
                standing.closed_in_month =
                    (event.occurred_at >= month_from).then_some(event.occurred_at);
            }
            EventKind::Reopened => {
                standing.status = Some(Status::InProgress);
                standing.closed_in_month = None;
                // Why it was reopened, not the resolution it overturned.
                standing.progress.clone_from(&event.note);
            }
            EventKind::Feedback
            | EventKind::Urged
            | EventKind::DeadlineExtended
            | EventKind::Escalated => {}
        }
    }
    standing
}

/// Computes the month's ledger for a place from the issues and their timelines.
pub async fn compute(
    db: &impl ConnectionTrait,
    clock: &LocalClock,
    place: &org_unit::Model,
    month: Month,
) -> Result<MonthlyLedger, DbErr> {
    // The month holds what was written before this moment (a signature's time, when it is
    // signed): an issue raised or struck off after it, even while this is being read, is the
    // next month's, whose window starts here. Taken before the reads (it was taken after them:
    // whatever was written while they ran fell in neither month). Only a write already under
    // way at this moment — stamped before it, committed after the reads — can still be missed.
    let generated_at = Utc::now();
    let until = clock.start_of(month.next_first_day()).min(generated_at);
    // A month signed off before its end (by the 30th, as the campaign asks) froze without its
    // last days: what was raised or struck off after that signature belongs to this month.
    let month_start = clock.start_of(month.first_day);
    let previous = Month::of(month.first_day.pred_opt().unwrap_or(month.first_day));
    let from = match find_sign_off(db, place.id, previous).await? {
        Some(signed) if previous != month && signed.signed_at < month_start => signed.signed_at,
        _ => month_start,
    };
    let rows = issue::Entity::find()
        .filter(dashboard::within(
            place,
            issue::Column::CountyId,
            issue::Column::TownId,
            issue::Column::VillageId,
        ))
        .filter(issue::Column::AnsweredOnSpot.eq(false))
        .filter(issue::Column::CreatedAt.lt(until))
        // Struck off before the month and still so: not this month's business.
        .filter(
            Condition::any()
                .add(issue::Column::Status.ne(Status::Closed))
                .add(issue::Column::ClosedAt.gte(from)),
        )
        .order_by_asc(issue::Column::Deadline)
        .order_by_asc(issue::Column::Id)
        .all(db)
        .await?;
    let mut timelines: HashMap<Uuid, Vec<issue_event::Model>> = HashMap::new();
    for chunk in rows.chunks(500) {
        let events = issue_event::Entity::find()
            .filter(issue_event::Column::IssueId.is_in(chunk.iter().map(|row| row.id)))
            .filter(issue_event::Column::OccurredAt.lt(until))
            .filter(issue_event::Column::Kind.is_in(super::STANDING_EVENTS))
            .order_by_asc(issue_event::Column::IssueId)
            // Server time, not id: phones choose the ids of the events they push.
            .order_by_asc(issue_event::Column::OccurredAt)
            .order_by_asc(issue_event::Column::Id)
            .all(db)
            .await?;
        for event in events {
            timelines.entry(event.issue_id).or_default().push(event);
        }
    }
    let villages = dashboard::unit_names(db, rows.iter().map(|row| row.village_id)).await?;
    let people = dashboard::user_names(db, rows.iter().map(|row| row.lead_responsible_id)).await?;
    let mut ledger = MonthlyLedger {
        org_unit_id: place.id,
        org_unit: place.name.clone(),
        month: month.to_string(),
        generated_at,
        new: Vec::new(),
        struck_off: Vec::new(),
        carried_over: Vec::new(),
    };
    for row in rows {
        let standing = fold(timelines.get(&row.id).map_or(&[][..], Vec::as_slice), from);
        // An issue whose timeline holds nothing before the month's end (written straight
        // into the database) stands as it is now.
        let status = standing.status.unwrap_or(row.status);
        let item = MonthlyItem {
            issue_id: row.id,
            village_id: row.village_id,
            village: villages.get(&row.village_id).cloned().unwrap_or_default(),
            applicant_name: row.applicant_name,
            matter: row.matter,
            category: row.category,
            level: row.level,
            responsible_id: row.lead_responsible_id,
            responsible: people
                .get(&row.lead_responsible_id)
                .cloned()
                .unwrap_or_default(),
            deadline: row.deadline,
            status,
            // As of the month's end: a note written after it is not the month's.
            progress: standing.progress,
            is_deed: row.is_deed,
            created_at: row.created_at,
            closed_at: standing.closed_in_month,
            named_cadre_id: row.named_cadre_id,
        };
        if item.created_at >= from {
            ledger.new.push(item.clone());
        }
        if status == Status::Closed {
            if item.closed_at.is_some() {
                ledger.struck_off.push(item);
            }
        } else {
            ledger.carried_over.push(item);
        }
    }
    Ok(ledger)
}

/// The sign-off of a month for a place, if it was signed.
pub async fn find_sign_off(
    db: &impl ConnectionTrait,
    place: Uuid,
    month: Month,
) -> Result<Option<ledger_month::Model>, DbErr> {
    ledger_month::Entity::find()
        .filter(ledger_month::Column::OrgUnitId.eq(place))
        .filter(ledger_month::Column::Month.eq(month.to_string()))
        .one(db)
        .await
}

/// The frozen ledger of a signed month.
pub fn frozen(sign_off: &ledger_month::Model) -> ApiResult<MonthlyLedger> {
    serde_json::from_value(sign_off.snapshot.clone())
        .map_err(|error| ApiError::Internal(format!("unreadable monthly snapshot: {error}").into()))
}

/// Checks the place a month is kept for: a town or county in the caller's scope.
pub fn check_place(place: &org_unit::Model) -> ApiResult<()> {
    if matches!(
        place.kind,
        org_unit::OrgKind::Town | org_unit::OrgKind::County
    ) {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            "org_unit_id",
            "wrong_level",
            "The monthly ledger is kept by a town or a county.",
        ))
    }
}

/// A month that has begun: one to come has no ledger yet (it would list today's open matters as
/// if carried over from it), and is signed off once it has begun (usually by the 30th).
pub fn check_begun(clock: &LocalClock, month: Month) -> ApiResult<()> {
    if month.first_day > clock.today() {
        return Err(ApiError::invalid_field(
            "month",
            "in_future",
            "The month has not begun: it has no ledger yet, and is signed off once it has \
             begun (usually by the 30th).",
        ));
    }
    Ok(())
}

/// Whether `month` of `place` can be signed off now: a town or county, a month that has
/// begun, not signed already. Checked again in the sign-off's transaction; checked first
/// alone, before the month is computed, so that a refusal costs nothing.
pub async fn check_sign_off(
    db: &impl ConnectionTrait,
    clock: &LocalClock,
    place: &org_unit::Model,
    month: Month,
) -> ApiResult<()> {
    check_place(place)?;
    check_begun(clock, month)?;
    if let Some(signed) = find_sign_off(db, place.id, month).await? {
        return Err(ApiError::Conflict {
            code: "month_signed_off",
            detail: format!(
                "{} {} was signed off at {}; a signed month is frozen.",
                place.name, month, signed.signed_at
            ),
        });
    }
    Ok(())
}

/// Signs a month off: stores its ledger (computed by the caller with [`compute`], outside
/// the write transaction so that SQLite's writer is not held while it is read) frozen. A
/// month is signed once (409 after that) and not before it has begun.
pub async fn sign_off(
    db: &impl ConnectionTrait,
    clock: &LocalClock,
    place: &org_unit::Model,
    month: Month,
    signed_by: Uuid,
    note: Option<String>,
    ledger: MonthlyLedger,
) -> ApiResult<ledger_month::Model> {
    check_sign_off(db, clock, place, month).await?;
    let row = ledger_month::Model {
        id: Uuid::now_v7(),
        org_unit_id: place.id,
        month: month.to_string(),
        signed_by,
        signed_at: ledger.generated_at,
        note,
        snapshot: serde_json::to_value(&ledger)
            .map_err(|error| ApiError::Internal(error.to_string().into()))?,
    };
    ledger_month::Entity::insert(ledger_month::ActiveModel::from(row.clone()))
        .exec_without_returning(db)
        .await?;
    Ok(row)
}

/// Is the place one the scope reaches?
pub async fn place_in_scope(
    db: &impl ConnectionTrait,
    scope: &Scope,
    id: Uuid,
) -> ApiResult<org_unit::Model> {
    crate::org::find_org_unit(db, scope, id)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such org unit in your scope.".to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_written_year_dash_month() {
        assert_eq!(
            Month::parse("2026-05").expect("valid").to_string(),
            "2026-05"
        );
        assert_eq!(
            Month::parse("2026-12").expect("valid").next_first_day(),
            NaiveDate::from_ymd_opt(2027, 1, 1).expect("date")
        );
        for bad in ["2026-5", "2026-13", "26-05", "2026/05", "2026-05-01", ""] {
            assert!(Month::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_month_signed_before_it_ends_stands_as_of_its_signing_and_one_read_later_as_of_its_end() {
        let may = Month::parse("2026-05").expect("valid");
        let day = |d: u32| NaiveDate::from_ymd_opt(2026, 5, d).expect("date");

        // Signed on the 28th: an issue due on the 29th was not overdue in what was frozen.
        assert_eq!(may.lines_as_of(day(28)), day(28));
        // Read or signed after the month ended: as it stood on the 31st.
        let june_5 = NaiveDate::from_ymd_opt(2026, 6, 5).expect("date");
        assert_eq!(may.lines_as_of(june_5), day(31));
        let february = Month::parse("2027-02").expect("valid");
        assert_eq!(
            february.lines_as_of(NaiveDate::from_ymd_opt(2027, 3, 1).expect("date")),
            NaiveDate::from_ymd_opt(2027, 2, 28).expect("date")
        );
    }
}
