//! The working-day calendar (工作日): Monday to Friday are working days and Saturday and
//! Sunday are not, except where a loaded year says otherwise — a public holiday (法定节假日)
//! is a day off even on a weekday, and a make-up working day (调休上班) is a working day on a
//! weekend. Only the exceptions are stored, per year, loaded by an admin
//! (`PUT /api/v1/calendar/{year}`).
//!
//! Deadlines given in working days ("办结时限 5 个工作日") are counted here: day 1 is the first
//! working day *after* the day the matter was raised (or the step was taken). A year nobody
//! loaded falls back to plain weekends — holidays are then not skipped — and every deadline
//! counted through such a year logs a warning naming it; `GET /api/v1/calendar/{year}` says
//! `loaded: false` for it.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{Datelike, Days, NaiveDate, Utc, Weekday};
use entity::{
    calendar_day::{self, DayKind},
    calendar_year,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult, FieldError};

/// The most working days a deadline may be given in.
pub const MAX_WORKING_DAYS: u32 = 365;
/// The years a calendar may be loaded for.
pub const YEARS: std::ops::RangeInclusive<i32> = 2000..=2100;

/// Saturday or Sunday.
pub fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Whether `date` is a working day, given its exception (if the calendar has one for it).
pub fn is_working(date: NaiveDate, exception: Option<DayKind>) -> bool {
    match exception {
        Some(DayKind::Holiday) => false,
        Some(DayKind::Workday) => true,
        None => !is_weekend(date),
    }
}

/// How far a walk over working days got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// The wanted working day.
    Reached(NaiveDate),
    /// The window ended first, after this many working days.
    Counted(u32),
}

/// Counts `days` working days after `start` (day 1 is the first working day after `start`),
/// knowing the exceptions up to `until` inclusive; stops at `until` if not there yet.
pub fn walk(
    start: NaiveDate,
    days: u32,
    exceptions: &BTreeMap<NaiveDate, DayKind>,
    until: NaiveDate,
) -> Walk {
    let mut counted = 0;
    let mut date = start;
    while date < until {
        let Some(next) = date.succ_opt() else {
            break;
        };
        date = next;
        if is_working(date, exceptions.get(&date).copied()) {
            counted += 1;
            if counted >= days {
                return Walk::Reached(date);
            }
        }
    }
    Walk::Counted(counted)
}

/// The exceptions between two days, inclusive, in one query.
pub async fn exceptions_between(
    db: &impl ConnectionTrait,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<BTreeMap<NaiveDate, DayKind>, DbErr> {
    Ok(calendar_day::Entity::find()
        .filter(calendar_day::Column::Date.gte(from))
        .filter(calendar_day::Column::Date.lte(to))
        .all(db)
        .await?
        .into_iter()
        .map(|day| (day.date, day.kind))
        .collect())
}

/// Which of the years `from..=to` have a loaded calendar.
pub async fn loaded_years(
    db: &impl ConnectionTrait,
    from: i32,
    to: i32,
) -> Result<BTreeSet<i32>, DbErr> {
    Ok(calendar_year::Entity::find()
        .filter(calendar_year::Column::Year.gte(from))
        .filter(calendar_year::Column::Year.lte(to))
        .all(db)
        .await?
        .into_iter()
        .map(|year| year.year)
        .collect())
}

/// Whether every year from `from`'s to `to`'s has a loaded calendar; logs a warning for each
/// one that has not (its holidays are not skipped).
pub async fn calendar_loaded(
    db: &impl ConnectionTrait,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<bool, DbErr> {
    let loaded = loaded_years(db, from.year(), to.year()).await?;
    let missing: Vec<i32> = (from.year()..=to.year())
        .filter(|year| !loaded.contains(year))
        .collect();
    if !missing.is_empty() {
        tracing::warn!(
            years = ?missing,
            "no working-day calendar loaded for these years: counted on plain weekends, holidays not skipped"
        );
    }
    Ok(missing.is_empty())
}

/// Whether `date` is a working day (one query).
pub async fn is_working_day(db: &impl ConnectionTrait, date: NaiveDate) -> Result<bool, DbErr> {
    let exception = calendar_day::Entity::find_by_id(date).one(db).await?;
    Ok(is_working(date, exception.map(|day| day.kind)))
}

/// The `days`-th working day after `start`: day 1 is the first working day after `start`.
/// Reads the calendar's exceptions for the whole stretch in one query (a second only if the
/// stretch was full of holidays). A year without a loaded calendar counts on plain weekends,
/// with a warning in the log.
pub async fn add_working_days(
    db: &impl ConnectionTrait,
    start: NaiveDate,
    days: u32,
) -> Result<NaiveDate, DbErr> {
    if days == 0 {
        return Ok(start);
    }
    let out_of_range = || DbErr::Custom("a working-day deadline beyond the calendar".to_owned());
    let mut from = start;
    let mut remaining = days;
    loop {
        // Five working days take at most seven calendar days, plus the year's holidays: twice
        // the days and two months more is enough in one window for any real calendar.
        let until = from
            .checked_add_days(Days::new(u64::from(remaining) * 2 + 60))
            .ok_or_else(out_of_range)?;
        let exceptions = exceptions_between(db, from.succ_opt().unwrap_or(from), until).await?;
        match walk(from, remaining, &exceptions, until) {
            Walk::Reached(date) => {
                calendar_loaded(db, start.succ_opt().unwrap_or(start), date).await?;
                return Ok(date);
            }
            Walk::Counted(counted) => {
                remaining -= counted;
                from = until;
            }
        }
    }
}

/// A deadline given either as a date or as a number of working days after `from` (exactly one,
/// or neither: then none). `date_field` and `days_field` name the two in errors.
pub async fn resolve_deadline(
    db: &impl ConnectionTrait,
    date: Option<NaiveDate>,
    working_days: Option<u32>,
    from: NaiveDate,
    date_field: &str,
    days_field: &str,
) -> ApiResult<Option<NaiveDate>> {
    match (date, working_days) {
        (Some(_), Some(_)) => Err(ApiError::invalid_field(
            days_field,
            "conflicts",
            format!("Give either {date_field} or {days_field}, not both."),
        )),
        (date, None) => Ok(date),
        (None, Some(days)) if !(1..=MAX_WORKING_DAYS).contains(&days) => {
            Err(ApiError::invalid_field(
                days_field,
                "out_of_range",
                format!("Between 1 and {MAX_WORKING_DAYS} working days."),
            ))
        }
        (None, Some(days)) => Ok(Some(add_working_days(db, from, days).await?)),
    }
}

/// One exception day to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCalendarDay {
    /// The day.
    pub date: NaiveDate,
    /// Holiday or make-up working day.
    pub kind: DayKind,
    /// What it is for (春节).
    pub name: String,
}

/// Checks a year's exceptions: every date in that year, none twice, a make-up working day
/// only on a Saturday or Sunday (a holiday may fall on a weekend). Each problem names its
/// entry (`days[3].date`).
pub fn check_year(year: i32, days: &[NewCalendarDay]) -> Result<(), Vec<FieldError>> {
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    for (index, day) in days.iter().enumerate() {
        let mut fail = |field: &str, code: &str, message: String| {
            problems.push(FieldError {
                field: format!("days[{index}].{field}"),
                code: code.to_owned(),
                message,
            });
        };
        if day.date.year() != year {
            fail(
                "date",
                "wrong_year",
                format!("{} is not in {year}.", day.date),
            );
        }
        if !seen.insert(day.date) {
            fail(
                "date",
                "duplicate",
                format!("{} is listed twice.", day.date),
            );
        }
        if day.kind == DayKind::Workday && !is_weekend(day.date) {
            fail(
                "kind",
                "not_a_weekend",
                format!(
                    "{} is a {}: a make-up working day (调休) is a Saturday or Sunday.",
                    day.date,
                    day.date.weekday()
                ),
            );
        }
        if day.name.trim().is_empty() {
            fail(
                "name",
                "required",
                "Say what the day is for (春节).".to_owned(),
            );
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The first and last day of a year.
fn bounds(year: i32) -> ApiResult<(NaiveDate, NaiveDate)> {
    match (
        NaiveDate::from_ymd_opt(year, 1, 1),
        NaiveDate::from_ymd_opt(year, 12, 31),
    ) {
        (Some(first), Some(last)) if YEARS.contains(&year) => Ok((first, last)),
        _ => Err(ApiError::invalid_field(
            "year",
            "out_of_range",
            format!("A year from {} to {}.", YEARS.start(), YEARS.end()),
        )),
    }
}

/// A year's calendar: whether it was loaded, and its exception days in date order.
#[derive(Debug, Clone)]
pub struct YearCalendar {
    /// The year.
    pub year: i32,
    /// When it was loaded, if it was.
    pub loaded: Option<calendar_year::Model>,
    /// Its exceptions.
    pub days: Vec<calendar_day::Model>,
}

/// A year's calendar as stored.
pub async fn find_year(db: &impl ConnectionTrait, year: i32) -> ApiResult<YearCalendar> {
    let (first, last) = bounds(year)?;
    let days = calendar_day::Entity::find()
        .filter(calendar_day::Column::Date.gte(first))
        .filter(calendar_day::Column::Date.lte(last))
        .order_by_asc(calendar_day::Column::Date)
        .all(db)
        .await?;
    let loaded = calendar_year::Entity::find_by_id(year).one(db).await?;
    Ok(YearCalendar { year, loaded, days })
}

/// Replaces a year's exceptions with `days` (checked by [`check_year`]) in the caller's
/// transaction, and marks the year loaded. `None` when the year is loaded with exactly these
/// days already: nothing is written (a retried load).
pub async fn replace_year(
    db: &impl ConnectionTrait,
    year: i32,
    days: Vec<NewCalendarDay>,
    loaded_by: Option<Uuid>,
) -> ApiResult<Option<YearCalendar>> {
    let (first, last) = bounds(year)?;
    check_year(year, &days).map_err(ApiError::Validation)?;
    let stored = find_year(db, year).await?;
    let mut wanted: Vec<(NaiveDate, DayKind, &str)> = days
        .iter()
        .map(|day| (day.date, day.kind, day.name.trim()))
        .collect();
    wanted.sort_by_key(|day| day.0);
    let same = stored.loaded.is_some()
        && stored.days.len() == wanted.len()
        && stored
            .days
            .iter()
            .zip(&wanted)
            .all(|(day, (date, kind, name))| {
                day.date == *date && day.kind == *kind && day.name == *name
            });
    if same {
        return Ok(None);
    }
    calendar_day::Entity::delete_many()
        .filter(calendar_day::Column::Date.gte(first))
        .filter(calendar_day::Column::Date.lte(last))
        .exec(db)
        .await?;
    let count = i32::try_from(days.len()).unwrap_or(i32::MAX);
    let rows: Vec<calendar_day::ActiveModel> = days
        .into_iter()
        .map(|day| calendar_day::ActiveModel {
            date: Set(day.date),
            kind: Set(day.kind),
            name: Set(day.name.trim().to_owned()),
        })
        .collect();
    if !rows.is_empty() {
        calendar_day::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    calendar_year::Entity::delete_by_id(year).exec(db).await?;
    calendar_year::Entity::insert(calendar_year::ActiveModel {
        year: Set(year),
        days: Set(count),
        loaded_by: Set(loaded_by),
        loaded_at: Set(Utc::now()),
    })
    .exec_without_returning(db)
    .await?;
    find_year(db, year).await.map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap_or_default()
    }

    /// Spring Festival 2026 as the fixture of the integration tests has it: Feb 15–23 off,
    /// Saturdays Feb 14 and Feb 28 worked.
    fn spring_festival_2026() -> BTreeMap<NaiveDate, DayKind> {
        let mut days = BTreeMap::new();
        for day in 15..=23 {
            days.insert(
                NaiveDate::from_ymd_opt(2026, 2, day).unwrap_or_default(),
                DayKind::Holiday,
            );
        }
        days.insert(date("2026-02-14"), DayKind::Workday);
        days.insert(date("2026-02-28"), DayKind::Workday);
        days
    }

    #[test]
    fn day_one_is_the_first_working_day_after_the_start() {
        let none = BTreeMap::new();
        // Friday 2026-11-27: Monday is day 1, Friday day 5.
        let far = date("2027-12-31");
        assert_eq!(
            walk(date("2026-11-27"), 1, &none, far),
            Walk::Reached(date("2026-11-30"))
        );
        assert_eq!(
            walk(date("2026-11-27"), 5, &none, far),
            Walk::Reached(date("2026-12-04"))
        );
    }

    #[test]
    fn holidays_are_skipped_and_make_up_saturdays_count() {
        let calendar = spring_festival_2026();
        let far = date("2026-12-31");
        // Thursday Feb 12: Fri 13 (1), Sat 14 make-up (2), 15–23 off, Tue 24 (3), Wed 25 (4),
        // Thu 26 (5).
        assert_eq!(
            walk(date("2026-02-12"), 5, &calendar, far),
            Walk::Reached(date("2026-02-26"))
        );
        // Fri 27 (6), Sat 28 make-up (7).
        assert_eq!(
            walk(date("2026-02-12"), 7, &calendar, far),
            Walk::Reached(date("2026-02-28"))
        );
    }

    #[test]
    fn a_walk_stops_at_the_end_of_its_window() {
        let calendar = spring_festival_2026();
        // Feb 13 (1), Feb 14 (2), then holidays up to the window's end on Feb 20.
        assert_eq!(
            walk(date("2026-02-12"), 5, &calendar, date("2026-02-20")),
            Walk::Counted(2)
        );
    }

    #[test]
    fn working_days_follow_the_week_unless_the_calendar_says_otherwise() {
        assert!(is_working(date("2026-02-13"), None));
        assert!(!is_working(date("2026-02-14"), None));
        assert!(is_working(date("2026-02-14"), Some(DayKind::Workday)));
        assert!(!is_working(date("2026-02-16"), Some(DayKind::Holiday)));
    }

    #[test]
    fn a_year_is_refused_entry_by_entry() {
        let day = |text: &str, kind, name: &str| NewCalendarDay {
            date: date(text),
            kind,
            name: name.to_owned(),
        };
        let good = vec![
            day("2026-10-01", DayKind::Holiday, "国庆节"),
            day("2026-10-03", DayKind::Holiday, "国庆节"),
            day("2026-10-10", DayKind::Workday, "国庆节调休"),
        ];
        assert_eq!(check_year(2026, &good), Ok(()));
        let bad = vec![
            day("2027-01-01", DayKind::Holiday, "元旦"),
            day("2026-10-09", DayKind::Workday, "国庆节调休"),
            day("2026-10-01", DayKind::Holiday, "国庆节"),
            day("2026-10-01", DayKind::Holiday, " "),
        ];
        let fields: Vec<(String, String)> = check_year(2026, &bad)
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|problem| (problem.field, problem.code))
            .collect();
        let expected = [
            ("days[0].date", "wrong_year"),
            ("days[1].kind", "not_a_weekend"),
            ("days[3].date", "duplicate"),
            ("days[3].name", "required"),
        ];
        assert_eq!(
            fields,
            expected
                .iter()
                .map(|(field, code)| ((*field).to_owned(), (*code).to_owned()))
                .collect::<Vec<_>>()
        );
    }
}
