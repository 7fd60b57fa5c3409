//! The live part of the ledger — open and in progress, resolved with the applicant not yet told,
//! struck off this month — kept in memory for the deadline counts ([`LiveLedger`]).
//!
//! Counting it in SQL reads every live issue of the place on every request: at county scale
//! tens of thousands of rows, 0.1–1 s. Leaders reload the dashboard all day while cadres keep
//! writing, so finished counts alone would be thrown away at every write. Instead the live
//! issues themselves are kept (48 bytes each), and before each count the issues written since
//! are read back by their change stamps — usually none, or a handful — so every count is of
//! the ledger as committed, from any server process, and costs a walk over memory (a few
//! milliseconds for a county of a million issues); a count is kept until an issue kept changes.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    num::NonZeroU32,
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    issue::{self, Category, Level, Status},
    org_unit::{self, OrgKind},
};
use futures_util::TryStreamExt;
use sea_orm::{
    ActiveEnum, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, FromQueryResult,
    Iterable, QueryFilter, QuerySelect, StreamTrait, sea_query::Expr,
};
use uuid::Uuid;

use super::{DeadlineCounts, DeadlineGroup, DeadlineWindow, GroupBy};
use crate::ledger::OPEN_LEDGER_SQL;

/// The live issues of every place, and the change stamp they are known up to.
///
/// Brought up to date by [`LiveLedger::deadline_counts`] before it counts: the issues stamped
/// above the known stamp are read again (the `change_seq` index) and replace what was kept;
/// the known stamp then moves to the sync cursor taken before that read
/// ([`crate::sync::current_cursor`]: every transaction stamped at or below it had ended, so its
/// writes were in the read). Issues never leave the table, so there is nothing else to follow.
/// The first count loads the live slices whole (their partial indexes); so does a count for a
/// month before the oldest one kept (a clock set back).
#[derive(Debug, Default)]
pub struct LiveLedger {
    /// One refresh at a time: requests arriving together wait and find the work done.
    refresh: tokio::sync::Mutex<()>,
    /// Refreshes begun so far.
    begun: AtomicU64,
    /// The number (in [`LiveLedger::begun`]) of the last refresh that succeeded.
    done: AtomicU64,
    /// Counts already walked, each with the [`Live::generation`] it was walked at: a leader
    /// reloading an unchanged dashboard is answered without walking again.
    counts: Mutex<HashMap<CountKey, (u64, Arc<Answer>)>>,
    live: RwLock<Option<Live>>,
}

/// One count's answer, kept while no issue kept changes.
#[derive(Debug)]
pub struct Answer {
    /// The groups, by key.
    pub groups: Vec<DeadlineGroup>,
    /// The ids of the ten oldest overdue issues behind the counts, found by the first request
    /// that shows them. While the counts stand (no counted field of any issue changed), they
    /// are the same issues in the same order; their rows are read again at each request, for
    /// a step that leaves every count as it was (progress, an urge) still changes the issue a
    /// leader acts on, and its version.
    pub oldest_overdue: tokio::sync::OnceCell<Vec<uuid::Uuid>>,
}

/// What one count was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct CountKey {
    place: Uuid,
    naming: Option<Uuid>,
    group_by: GroupBy,
    window: DeadlineWindow,
}

#[derive(Debug)]
struct Live {
    /// Every issue stamped at or below this is reflected.
    known: i64,
    /// Changes whenever an issue kept changes (or the set is loaded again).
    generation: u64,
    /// Issues struck off at or after this instant are kept (the start of the month counted).
    closed_since: DateTime<Utc>,
    ids: Interner,
    issues: HashMap<Uuid, LiveIssue>,
}

/// What the counts need of one live issue, in 48 bytes: ids as [`Interner`] numbers, instants
/// as Unix seconds (every bound they are compared with is a whole second).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LiveIssue {
    county: Number,
    town: Number,
    village: Number,
    department: Option<Number>,
    responsible: Number,
    named_cadre: Option<Number>,
    level: Level,
    category: Category,
    standing: Standing,
    deadline: Option<NaiveDate>,
    raised_at: i64,
    /// When it was struck off (for [`Standing::Closed`]).
    closed_at: i64,
}

/// Which live slice an issue is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// Open or in progress.
    Open,
    /// Resolved, the applicant not yet told.
    AwaitingFeedback,
    /// Struck off (this month, or the one the counts were last asked for).
    Closed,
}

/// An interned id.
type Number = NonZeroU32;

/// Ids as small numbers: the places, departments and people of a county are a few thousand,
/// repeated over every issue.
#[derive(Debug, Default)]
struct Interner {
    /// Number `n` is `ids[n - 1]`.
    ids: Vec<Uuid>,
    numbers: HashMap<Uuid, Number>,
}

impl Interner {
    fn intern(&mut self, id: Uuid) -> Number {
        if let Some(number) = self.numbers.get(&id) {
            return *number;
        }
        self.ids.push(id);
        let number = u32::try_from(self.ids.len())
            .ok()
            .and_then(Number::new)
            .unwrap_or(Number::MAX);
        self.numbers.insert(id, number);
        number
    }

    fn number(&self, id: Uuid) -> Option<Number> {
        self.numbers.get(&id).copied()
    }

    fn id(&self, number: Number) -> Option<Uuid> {
        self.ids.get(number.get() as usize - 1).copied()
    }
}

/// The columns of `issues` read.
#[derive(Debug, FromQueryResult)]
struct IssueRow {
    id: Uuid,
    county_id: Uuid,
    town_id: Uuid,
    village_id: Uuid,
    level: Level,
    category: Category,
    handler_department_id: Option<Uuid>,
    lead_responsible_id: Uuid,
    named_cadre_id: Option<Uuid>,
    deadline: Option<NaiveDate>,
    status: Status,
    feedback_given: bool,
    answered_on_spot: bool,
    created_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
}

impl IssueRow {
    const COLUMNS: [issue::Column; 15] = [
        issue::Column::Id,
        issue::Column::CountyId,
        issue::Column::TownId,
        issue::Column::VillageId,
        issue::Column::Level,
        issue::Column::Category,
        issue::Column::HandlerDepartmentId,
        issue::Column::LeadResponsibleId,
        issue::Column::NamedCadreId,
        issue::Column::Deadline,
        issue::Column::Status,
        issue::Column::FeedbackGiven,
        issue::Column::AnsweredOnSpot,
        issue::Column::CreatedAt,
        issue::Column::ClosedAt,
    ];

    /// The live slice the issue is in, if any: ledger issues only (not answered on the spot),
    /// struck off at or after `closed_since`.
    fn standing(&self, closed_since: DateTime<Utc>) -> Option<Standing> {
        if self.answered_on_spot {
            return None;
        }
        match self.status {
            Status::Open | Status::InProgress => Some(Standing::Open),
            Status::Resolved if !self.feedback_given => Some(Standing::AwaitingFeedback),
            Status::Resolved => None,
            Status::Closed => self
                .closed_at
                .is_some_and(|at| at >= closed_since)
                .then_some(Standing::Closed),
        }
    }
}

/// The issues counted: inside one place, less those naming one person.
#[derive(Debug, Clone)]
pub struct Counted {
    /// The place's id.
    pub place: Uuid,
    /// The place's villages.
    pub within: Within,
    /// Complaints naming this person are left out (the caller, for a person).
    pub naming: Option<Uuid>,
}

/// A place, as the ids its issues carry.
#[derive(Debug, Clone)]
pub enum Within {
    /// Issues with this county id.
    County(Uuid),
    /// Issues with this town id.
    Town(Uuid),
    /// Issues with this village id.
    Village(Uuid),
    /// Issues of these villages (a district's).
    Villages(HashSet<Uuid>),
}

impl Within {
    /// The place's villages, as a condition on the ids its issues carry; a district's villages
    /// are read from the org units.
    pub async fn of(db: &impl ConnectionTrait, place: &org_unit::Model) -> Result<Self, DbErr> {
        Ok(match place.kind {
            OrgKind::County => Self::County(place.id),
            OrgKind::Town => Self::Town(place.id),
            OrgKind::Village => Self::Village(place.id),
            OrgKind::District => Self::Villages(
                super::units_in(db, place, OrgKind::Village)
                    .await?
                    .into_iter()
                    .map(|village| village.id)
                    .collect(),
            ),
        })
    }
}

/// [`Within`] in interned numbers.
enum Inside {
    County(Number),
    Town(Number),
    Village(Number),
    Villages(HashSet<Number>),
}

impl Inside {
    fn holds(&self, issue: &LiveIssue) -> bool {
        match self {
            Self::County(county) => issue.county == *county,
            Self::Town(town) => issue.town == *town,
            Self::Village(village) => issue.village == *village,
            Self::Villages(villages) => villages.contains(&issue.village),
        }
    }
}

/// The counting slot of an interned id (0 for none).
fn slot_of(number: Option<Number>) -> usize {
    number.map_or(0, |number| number.get() as usize)
}

impl LiveLedger {
    /// The most counts kept; when full, the next one starts the store again empty.
    const COUNTS_KEPT: usize = 1024;

    /// The deadline counts of the ledger issues in `counted`, grouped, as of `window` — with
    /// every issue written before the call.
    pub async fn deadline_counts<C>(
        &self,
        db: &C,
        counted: &Counted,
        group_by: GroupBy,
        window: &DeadlineWindow,
    ) -> Result<Arc<Answer>, DbErr>
    where
        C: ConnectionTrait + StreamTrait,
    {
        self.bring_up_to_date(db, window.month_start).await?;
        let live = self
            .live
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(live) = live.as_ref() else {
            return Ok(Arc::new(Answer {
                groups: Vec::new(),
                oldest_overdue: Default::default(),
            }));
        };
        let key = CountKey {
            place: counted.place,
            naming: counted.naming,
            group_by,
            window: *window,
        };
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((generation, answer)) = counts.get(&key)
            && *generation == live.generation
        {
            return Ok(answer.clone());
        }
        let answer = Arc::new(Answer {
            groups: live.count(counted, group_by, window),
            oldest_overdue: Default::default(),
        });
        if counts.len() >= Self::COUNTS_KEPT {
            counts.clear();
        }
        counts.insert(key, (live.generation, answer.clone()));
        Ok(answer)
    }

    /// Whether struck-off issues are kept from `month_start` on.
    fn month_kept(&self, month_start: DateTime<Utc>) -> bool {
        self.live
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .as_ref()
            .is_some_and(|live| live.closed_since == month_start)
    }

    /// Reads what was written since the last refresh (everything, the first time), unless a
    /// refresh begun since this call arrived has just done so.
    pub async fn bring_up_to_date<C>(&self, db: &C, month_start: DateTime<Utc>) -> Result<(), DbErr>
    where
        C: ConnectionTrait + StreamTrait,
    {
        let arrived = self.begun.load(Ordering::SeqCst);
        let _one_at_a_time = self.refresh.lock().await;
        if self.done.load(Ordering::SeqCst) > arrived && self.month_kept(month_start) {
            // A refresh begun after this request arrived has succeeded: it read every write
            // committed before the request.
            return Ok(());
        }
        let number = self.begun.fetch_add(1, Ordering::SeqCst) + 1;
        self.refresh_now(db, month_start).await?;
        self.done.store(number, Ordering::SeqCst);
        Ok(())
    }

    async fn refresh_now<C>(&self, db: &C, month_start: DateTime<Utc>) -> Result<(), DbErr>
    where
        C: ConnectionTrait + StreamTrait,
    {
        // Taken before the issues are read: every write stamped at or below it is in the read.
        let settled = crate::sync::current_cursor(db).await?;
        let kept = {
            let live = self
                .live
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            live.as_ref()
                .map(|live| (live.known, live.closed_since, live.generation))
        };
        let generation = kept.map_or(0, |(_, _, generation)| generation);
        let Some((known, closed_since, _)) =
            kept.filter(|(_, closed_since, _)| *closed_since <= month_start)
        else {
            let loaded = Live::load(db, settled, month_start, generation + 1).await?;
            *self
                .live
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(loaded);
            return Ok(());
        };
        // Issues committed above the settled stamp (an older transaction still running) are
        // read too, and again next time: each read replaces what the one before kept.
        let changed: Vec<IssueRow> = select_rows(issue::Column::ChangeSeq.gt(known))
            .all(db)
            .await?;
        let mut live = self
            .live
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(live) = live.as_mut() else {
            return Ok(());
        };
        let mut moved = false;
        if month_start > closed_since {
            let from = month_start.timestamp();
            live.issues
                .retain(|_, issue| issue.standing != Standing::Closed || issue.closed_at >= from);
            live.closed_since = month_start;
            moved = true;
        }
        for row in &changed {
            moved |= live.apply(row);
        }
        if moved {
            live.generation += 1;
        }
        // A later snapshot can see a transaction of another database still running that an
        // earlier one did not (see `SETTLED_STAMP_PG`): the known stamp never goes back.
        live.known = live.known.max(settled);
        Ok(())
    }
}

/// The issues' columns the counts need, for the rows matching `condition`.
fn select_rows(
    condition: impl Into<Condition>,
) -> sea_orm::Selector<sea_orm::SelectModel<IssueRow>> {
    issue::Entity::find()
        .select_only()
        .columns(IssueRow::COLUMNS)
        .filter(condition.into())
        .into_model::<IssueRow>()
}

impl Live {
    /// Every live issue, read slice by slice (each has its partial index).
    async fn load<C>(
        db: &C,
        known: i64,
        closed_since: DateTime<Utc>,
        generation: u64,
    ) -> Result<Self, DbErr>
    where
        C: ConnectionTrait + StreamTrait,
    {
        let mut live = Self {
            known,
            generation,
            closed_since,
            ids: Interner::default(),
            issues: HashMap::new(),
        };
        let slices = [
            Condition::all().add(Expr::cust(OPEN_LEDGER_SQL)),
            Condition::all().add(Expr::cust(
                "issues.status = 'resolved' AND issues.feedback_given = FALSE",
            )),
            Condition::all()
                .add(Expr::cust("issues.status = 'closed'"))
                .add(issue::Column::ClosedAt.gte(closed_since)),
        ];
        for slice in slices {
            let mut rows = select_rows(slice).stream(db).await?;
            while let Some(row) = rows.try_next().await? {
                live.apply(&row);
            }
        }
        Ok(live)
    }

    /// Keeps the issue as it now stands, or forgets it if it left the live slices; whether
    /// that changed what is kept.
    fn apply(&mut self, row: &IssueRow) -> bool {
        let Some(standing) = row.standing(self.closed_since) else {
            return self.issues.remove(&row.id).is_some();
        };
        let issue = LiveIssue {
            county: self.ids.intern(row.county_id),
            town: self.ids.intern(row.town_id),
            village: self.ids.intern(row.village_id),
            department: row.handler_department_id.map(|id| self.ids.intern(id)),
            responsible: self.ids.intern(row.lead_responsible_id),
            named_cadre: row.named_cadre_id.map(|id| self.ids.intern(id)),
            level: row.level,
            category: row.category,
            standing,
            deadline: row.deadline,
            raised_at: row.created_at.timestamp(),
            closed_at: row.closed_at.map_or(0, |at| at.timestamp()),
        };
        self.issues.insert(row.id, issue) != Some(issue)
    }

    /// The group key of a counting slot ([`slot_of`], or an enum's position).
    fn key_of(&self, group_by: GroupBy, slot: usize) -> Option<String> {
        match group_by {
            GroupBy::Level => Level::iter().nth(slot).map(|level| level.to_value()),
            GroupBy::Category => Category::iter()
                .nth(slot)
                .map(|category| category.to_value()),
            _ => u32::try_from(slot)
                .ok()
                .and_then(Number::new)
                .and_then(|number| self.ids.id(number))
                .map(|id| id.to_string()),
        }
    }

    fn count(
        &self,
        counted: &Counted,
        group_by: GroupBy,
        window: &DeadlineWindow,
    ) -> Vec<DeadlineGroup> {
        // A place or person never seen on a live issue has none.
        let number = |id: &Uuid| self.ids.number(*id);
        let inside = match &counted.within {
            Within::County(id) => number(id).map(Inside::County),
            Within::Town(id) => number(id).map(Inside::Town),
            Within::Village(id) => number(id).map(Inside::Village),
            Within::Villages(ids) => {
                Some(Inside::Villages(ids.iter().filter_map(number).collect()))
            }
        };
        // A place never seen on a live issue has none.
        let Some(inside) = inside else {
            return Vec::new();
        };
        let naming = counted.naming.and_then(|id| self.ids.number(id));
        let raised_from = window.raised_from.map(|from| from.timestamp());
        let raised_before = window.raised_before.map(|before| before.timestamp());
        let month_start = window.month_start.timestamp();
        // One slot per possible key, indexed by the key (an interned number, 0 for none; an
        // enum's position): no hashing per issue.
        let mut slots: Vec<Option<DeadlineCounts>> = vec![None; self.ids.ids.len() + 1];
        for issue in self.issues.values() {
            if !inside.holds(issue)
                || (naming.is_some() && issue.named_cadre == naming)
                || raised_from.is_some_and(|from| issue.raised_at < from)
                || raised_before.is_some_and(|before| issue.raised_at >= before)
            {
                continue;
            }
            if issue.standing == Standing::Closed && issue.closed_at < month_start {
                continue;
            }
            let slot = match group_by {
                GroupBy::Town => slot_of(Some(issue.town)),
                GroupBy::Village => slot_of(Some(issue.village)),
                GroupBy::Level => issue.level as usize,
                GroupBy::Category => issue.category as usize,
                GroupBy::Department => slot_of(issue.department),
                GroupBy::Responsible => slot_of(Some(issue.responsible)),
            };
            let Some(counts) = slots.get_mut(slot) else {
                continue;
            };
            let counts = counts.get_or_insert_default();
            match issue.standing {
                Standing::Open => {
                    counts.open += 1;
                    match issue.deadline {
                        Some(deadline) if deadline < window.today => counts.overdue += 1,
                        Some(deadline) if deadline <= window.soon_limit => counts.due_soon += 1,
                        _ => {}
                    }
                }
                Standing::AwaitingFeedback => counts.awaiting_feedback += 1,
                Standing::Closed => counts.closed_this_month += 1,
            }
        }
        let named: BTreeMap<Option<String>, DeadlineCounts> = slots
            .into_iter()
            .enumerate()
            .filter_map(|(slot, counts)| Some((self.key_of(group_by, slot), counts?)))
            .collect();
        named
            .into_iter()
            .map(|(key, counts)| DeadlineGroup { key, counts })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    const COUNTY: Uuid = Uuid::from_u128(1);
    const TOWN: Uuid = Uuid::from_u128(2);
    const VILLAGE: Uuid = Uuid::from_u128(3);
    const OTHER_VILLAGE: Uuid = Uuid::from_u128(4);
    const CADRE: Uuid = Uuid::from_u128(5);

    fn day(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 5, day).expect("a May day")
    }

    fn at(day: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, day, 2, 0, 0).unwrap()
    }

    fn open(id: u128, village: Uuid, deadline: u32) -> IssueRow {
        IssueRow {
            id: Uuid::from_u128(id),
            county_id: COUNTY,
            town_id: TOWN,
            village_id: village,
            level: Level::Village,
            category: Category::PracticalDifficulty,
            handler_department_id: None,
            lead_responsible_id: CADRE,
            named_cadre_id: None,
            deadline: Some(day(deadline)),
            status: Status::Open,
            feedback_given: false,
            answered_on_spot: false,
            created_at: at(1),
            closed_at: None,
        }
    }

    fn closed(id: u128, on: u32) -> IssueRow {
        IssueRow {
            status: Status::Closed,
            feedback_given: true,
            closed_at: Some(at(on)),
            ..open(id, VILLAGE, 30)
        }
    }

    fn live(rows: &[IssueRow], closed_since: DateTime<Utc>) -> Live {
        let mut live = Live {
            known: 0,
            generation: 0,
            closed_since,
            ids: Interner::default(),
            issues: HashMap::new(),
        };
        for row in rows {
            live.apply(row);
        }
        live
    }

    /// Today the 10th, due soon up to the 12th, the month from the 1st.
    fn window() -> DeadlineWindow {
        DeadlineWindow {
            today: day(10),
            soon_limit: day(12),
            month_start: Utc.with_ymd_and_hms(2026, 4, 30, 16, 0, 0).unwrap(),
            raised_from: None,
            raised_before: None,
        }
    }

    fn totals(live: &Live, counted: &Counted, window: &DeadlineWindow) -> [i64; 5] {
        let counts = super::super::totals(&live.count(counted, GroupBy::Village, window));
        [
            counts.open,
            counts.overdue,
            counts.due_soon,
            counts.awaiting_feedback,
            counts.closed_this_month,
        ]
    }

    fn county() -> Counted {
        Counted {
            place: COUNTY,
            within: Within::County(COUNTY),
            naming: None,
        }
    }

    #[test]
    fn a_live_issue_takes_48_bytes() {
        assert_eq!(std::mem::size_of::<LiveIssue>(), 48);
    }

    #[test]
    fn each_issue_is_counted_in_the_slice_it_now_stands_in() {
        let mut live = live(
            &[
                open(1, VILLAGE, 9),
                open(2, VILLAGE, 12),
                open(3, OTHER_VILLAGE, 20),
                closed(4, 3),
                IssueRow {
                    status: Status::Resolved,
                    ..open(5, VILLAGE, 1)
                },
                IssueRow {
                    answered_on_spot: true,
                    ..open(6, VILLAGE, 1)
                },
            ],
            window().month_start,
        );
        assert_eq!(totals(&live, &county(), &window()), [3, 1, 1, 1, 1]);

        live.apply(&IssueRow {
            status: Status::Resolved,
            feedback_given: true,
            ..open(1, VILLAGE, 9)
        });
        assert_eq!(
            totals(&live, &county(), &window()),
            [2, 0, 1, 1, 1],
            "resolved and told: no longer live"
        );
        assert_eq!(live.issues.len(), 4, "and forgotten");

        let groups = live.count(&county(), GroupBy::Village, &window());
        let keys: Vec<Option<String>> = groups.into_iter().map(|group| group.key).collect();
        let mut expected = vec![Some(VILLAGE.to_string()), Some(OTHER_VILLAGE.to_string())];
        expected.sort();
        assert_eq!(keys, expected);
    }

    #[test]
    fn the_place_the_month_the_raised_days_and_the_person_named_decide_what_is_counted() {
        let live = live(
            &[
                open(1, VILLAGE, 9),
                IssueRow {
                    named_cadre_id: Some(CADRE),
                    category: Category::CadreConduct,
                    ..open(2, VILLAGE, 9)
                },
                IssueRow {
                    created_at: at(8),
                    ..open(3, OTHER_VILLAGE, 11)
                },
                closed(4, 3),
                // Struck off on the last day of April, local time (kept: the month counted
                // might have been April).
                IssueRow {
                    closed_at: Some(Utc.with_ymd_and_hms(2026, 4, 30, 15, 0, 0).unwrap()),
                    ..closed(5, 3)
                },
            ],
            Utc.with_ymd_and_hms(2026, 3, 31, 16, 0, 0).unwrap(),
        );
        assert_eq!(totals(&live, &county(), &window()), [3, 2, 1, 0, 1]);
        let village = Counted {
            place: VILLAGE,
            within: Within::Village(VILLAGE),
            naming: Some(CADRE),
        };
        assert_eq!(
            totals(&live, &village, &window()),
            [1, 1, 0, 0, 1],
            "one village, less the complaint naming the caller"
        );
        let raised_late = DeadlineWindow {
            raised_from: Some(at(5)),
            ..window()
        };
        assert_eq!(totals(&live, &county(), &raised_late), [1, 0, 1, 0, 0]);
        let nowhere = Counted {
            place: Uuid::from_u128(99),
            within: Within::Town(Uuid::from_u128(99)),
            naming: None,
        };
        assert_eq!(totals(&live, &nowhere, &window()), [0, 0, 0, 0, 0]);
        let april = DeadlineWindow {
            month_start: Utc.with_ymd_and_hms(2026, 3, 31, 16, 0, 0).unwrap(),
            ..window()
        };
        assert_eq!(
            totals(&live, &county(), &april)[4],
            2,
            "April's struck off too"
        );
    }
}
