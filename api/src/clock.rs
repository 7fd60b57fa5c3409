//! The township's calendar. Dates that people write — assignment start and end days,
//! deadlines — are local dates in the deployment's time zone (China: UTC+8, no daylight
//! saving), not UTC dates: between midnight and 08:00 the two differ.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

/// China Standard Time, the default offset.
pub const CHINA_STANDARD_TIME: FixedOffset = match FixedOffset::east_opt(8 * 3600) {
    Some(offset) => offset,
    None => panic!("UTC+8 is a valid offset"),
};

/// The deployment's local calendar.
#[derive(Debug, Clone, Copy)]
pub struct LocalClock {
    offset: FixedOffset,
}

impl LocalClock {
    /// A clock at this offset from UTC.
    pub fn new(offset: FixedOffset) -> Self {
        Self { offset }
    }

    /// Today's local date.
    pub fn today(&self) -> NaiveDate {
        self.date_of(Utc::now())
    }

    /// The local date of an instant.
    pub fn date_of(&self, instant: DateTime<Utc>) -> NaiveDate {
        instant.with_timezone(&self.offset).date_naive()
    }

    /// The instant a local day begins (its local midnight). The first and last days chrono
    /// can name (a client may send them) have no such instant within its range: they give
    /// its first or last instant.
    pub fn start_of(&self, day: NaiveDate) -> DateTime<Utc> {
        let midnight = day.and_time(chrono::NaiveTime::MIN);
        midnight
            .checked_sub_offset(self.offset)
            .unwrap_or(if self.offset.local_minus_utc() > 0 {
                chrono::NaiveDateTime::MIN
            } else {
                chrono::NaiveDateTime::MAX
            })
            .and_utc()
    }
}

/// Parses `+08:00` (the form `MINQING_UTC_OFFSET` takes).
pub fn parse_offset(text: &str) -> Result<FixedOffset, String> {
    text.parse::<FixedOffset>()
        .map_err(|_| format!("`{text}` is not a UTC offset like +08:00"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_parse_in_the_documented_form() {
        assert_eq!(parse_offset("+08:00"), Ok(CHINA_STANDARD_TIME));
        assert!(parse_offset("Asia/Shanghai").is_err());
    }

    #[test]
    fn a_local_day_in_china_begins_at_sixteen_hundred_utc_the_day_before() {
        let clock = LocalClock::new(CHINA_STANDARD_TIME);
        let day = NaiveDate::from_ymd_opt(2026, 5, 1).expect("date");
        assert_eq!(
            clock.start_of(day).to_rfc3339(),
            "2026-04-30T16:00:00+00:00"
        );
        assert_eq!(clock.date_of(clock.start_of(day)), day);
    }
}
