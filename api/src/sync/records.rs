//! Records as the field app stores them: flat objects, `id` plus snake_case columns. Times are
//! milliseconds since the epoch (WatermelonDB's convention), calendar dates `YYYY-MM-DD`,
//! tags a comma-separated string, the six answers a JSON string. Personal data is masked by
//! the same policy as the REST responses.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use entity::{enterprise, household, issue, issue_event, org_unit, pairing, visit};
use std::borrow::Cow;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use uuid::Uuid;
use validator::Validate;

use crate::{households::HouseholdTag, privacy};

fn millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

/// Personal data as the caller may see it: whole, or masked by `mask`.
fn shown<'a>(
    value: &'a Option<String>,
    unmasked: bool,
    mask: fn(&str) -> String,
) -> Option<Cow<'a, str>> {
    value.as_deref().map(|value| {
        if unmasked {
            Cow::Borrowed(value)
        } else {
            Cow::Owned(mask(value))
        }
    })
}

// Each record is written straight from its row (a pull carries tens of thousands of them):
// no intermediate JSON value per record.

/// A village.
#[derive(Serialize)]
pub struct Village<'a> {
    id: Uuid,
    name: &'a str,
    code: &'a str,
    town_id: Option<Uuid>,
    district_id: Option<Uuid>,
}

/// A village.
pub fn village(row: &org_unit::Model) -> Village<'_> {
    Village {
        id: row.id,
        name: &row.name,
        code: &row.code,
        town_id: row.town_id,
        district_id: row.district_id,
    }
}

/// The tags as the app stores them: `party_member,hardship`.
pub fn tags_text(bits: i32) -> String {
    HouseholdTag::from_bits(bits)
        .into_iter()
        .filter_map(|tag| {
            serde_json::to_value(tag)
                .ok()
                .and_then(|value| value.as_str().map(str::to_owned))
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A household.
#[derive(Serialize)]
pub struct Household<'a> {
    id: Uuid,
    village_id: Uuid,
    town_id: Uuid,
    head_name: &'a str,
    phone: Option<Cow<'a, str>>,
    address: Option<&'a str>,
    members_count: Option<i32>,
    id_card_number: Option<Cow<'a, str>>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    tags: String,
    notes: Option<&'a str>,
    last_visited_at: Option<i64>,
    version: i32,
}

/// A household (phone and ID number masked unless the role may see them).
pub fn household(row: &household::Model, unmasked: bool) -> Household<'_> {
    Household {
        id: row.id,
        village_id: row.village_id,
        town_id: row.town_id,
        head_name: &row.head_name,
        phone: shown(&row.phone, unmasked, privacy::mask_phone),
        address: row.address.as_deref(),
        members_count: row.members_count,
        id_card_number: shown(&row.id_card_number, unmasked, privacy::mask_id_card),
        latitude: row.latitude,
        longitude: row.longitude,
        tags: tags_text(row.tags),
        notes: row.notes.as_deref(),
        last_visited_at: row.last_visited_at.map(millis),
        version: row.version,
    }
}

/// An enterprise.
#[derive(Serialize)]
pub struct Enterprise<'a> {
    id: Uuid,
    village_id: Option<Uuid>,
    town_id: Uuid,
    name: &'a str,
    contact_name: Option<&'a str>,
    contact_phone: Option<Cow<'a, str>>,
    address: Option<&'a str>,
}

/// An enterprise (the contact's phone masked unless the role may see it).
pub fn enterprise(row: &enterprise::Model, unmasked: bool) -> Enterprise<'_> {
    Enterprise {
        id: row.id,
        village_id: row.village_id,
        town_id: row.town_id,
        name: &row.name,
        contact_name: row.contact_name.as_deref(),
        contact_phone: shown(&row.contact_phone, unmasked, privacy::mask_phone),
        address: row.address.as_deref(),
    }
}

/// A visit.
#[derive(Serialize)]
pub struct Visit<'a> {
    id: Uuid,
    household_id: Option<Uuid>,
    enterprise_id: Option<Uuid>,
    village_id: Uuid,
    cadre_id: Uuid,
    channel: visit::Channel,
    visited_at: i64,
    received_at: i64,
    answers: Option<String>,
    diary_note: Option<&'a str>,
    service_card_given: bool,
    latitude: Option<f64>,
    longitude: Option<f64>,
}

/// A visit.
pub fn visit(row: &visit::Model) -> Visit<'_> {
    Visit {
        id: row.id,
        household_id: row.household_id,
        enterprise_id: row.enterprise_id,
        village_id: row.village_id,
        cadre_id: row.cadre_id,
        channel: row.channel,
        visited_at: millis(row.visited_at),
        received_at: millis(row.received_at),
        answers: row.answers.as_ref().map(Value::to_string),
        diary_note: row.diary_note.as_deref(),
        service_card_given: row.service_card_given,
        latitude: row.latitude,
        longitude: row.longitude,
    }
}

/// An issue.
#[derive(Serialize)]
pub struct Issue<'a> {
    id: Uuid,
    visit_id: Option<Uuid>,
    village_id: Uuid,
    channel: visit::Channel,
    applicant_household_id: Option<Uuid>,
    applicant_name: &'a str,
    applicant_phone: Option<Cow<'a, str>>,
    category: issue::Category,
    matter: &'a str,
    answered_on_spot: bool,
    spot_answer: Option<&'a str>,
    level: issue::Level,
    lead_responsible_id: Uuid,
    handler_department_id: Option<Uuid>,
    deadline: Option<NaiveDate>,
    status: issue::Status,
    is_deed: bool,
    latest_progress: Option<&'a str>,
    resolution: Option<&'a str>,
    feedback_given: bool,
    applicant_satisfied: Option<bool>,
    version: i32,
    created_at: i64,
    updated_at: i64,
}

/// An issue (the applicant's phone masked unless the role may see it).
pub fn issue(row: &issue::Model, unmasked: bool) -> Issue<'_> {
    Issue {
        id: row.id,
        visit_id: row.visit_id,
        village_id: row.village_id,
        channel: row.channel,
        applicant_household_id: row.applicant_household_id,
        applicant_name: &row.applicant_name,
        applicant_phone: shown(&row.applicant_phone, unmasked, privacy::mask_phone),
        category: row.category,
        matter: &row.matter,
        answered_on_spot: row.answered_on_spot,
        spot_answer: row.spot_answer.as_deref(),
        level: row.level,
        lead_responsible_id: row.lead_responsible_id,
        handler_department_id: row.handler_department_id,
        deadline: row.deadline,
        status: row.status,
        is_deed: row.is_deed,
        latest_progress: row.latest_progress.as_deref(),
        resolution: row.resolution.as_deref(),
        feedback_given: row.feedback_given,
        applicant_satisfied: row.applicant_satisfied,
        version: row.version,
        created_at: millis(row.created_at),
        updated_at: millis(row.updated_at),
    }
}

/// An event of an issue's timeline.
#[derive(Serialize)]
pub struct IssueEvent<'a> {
    id: Uuid,
    issue_id: Uuid,
    kind: issue_event::EventKind,
    actor_id: Option<Uuid>,
    note: Option<&'a str>,
    occurred_at: i64,
}

/// An event of an issue's timeline.
pub fn issue_event(row: &issue_event::Model) -> IssueEvent<'_> {
    IssueEvent {
        id: row.id,
        issue_id: row.issue_id,
        kind: row.kind,
        actor_id: row.actor_id,
        note: row.note.as_deref(),
        occurred_at: millis(row.occurred_at),
    }
}

/// A pairing.
#[derive(Serialize)]
pub struct Pairing {
    id: Uuid,
    cadre_id: Uuid,
    household_id: Uuid,
    village_id: Uuid,
}

/// A pairing.
pub fn pairing(row: &pairing::Model) -> Pairing {
    Pairing {
        id: row.id,
        cadre_id: row.cadre_id,
        household_id: row.household_id,
        village_id: row.village_id,
    }
}

/// A time as the app sends it: milliseconds since the epoch, or RFC 3339 text.
pub fn time<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Time {
        Millis(i64),
        Text(String),
    }
    match Time::deserialize(deserializer)? {
        Time::Millis(millis) => Utc
            .timestamp_millis_opt(millis)
            .single()
            .ok_or_else(|| serde::de::Error::custom("time out of range")),
        Time::Text(text) => DateTime::parse_from_rfc3339(&text)
            .map(|time| time.with_timezone(&Utc))
            .map_err(|_| serde::de::Error::custom("not an RFC 3339 time")),
    }
}

/// An optional time as the app sends it (see [`time`]); `null` or absent is none.
pub fn optional_time<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    #[derive(Deserialize)]
    struct Given(#[serde(deserialize_with = "time")] DateTime<Utc>);
    Ok(Option::<Given>::deserialize(deserializer)?.map(|Given(time)| time))
}

/// JSON the app may send as a string (its `@json` columns) or as an object.
pub fn json_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    match Option::<Value>::deserialize(deserializer)? {
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|_| serde::de::Error::custom("not JSON")),
        other => Ok(other),
    }
}

/// Tags the app may send as `party_member,hardship` or as a list.
pub fn tag_list<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Vec<String>>, D::Error> {
    Ok(match Option::<Value>::deserialize(deserializer)? {
        Some(Value::String(text)) => Some(
            text.split(',')
                .map(str::trim)
                .filter(|tag| !tag.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        Some(Value::Array(items)) => Some(
            items
                .into_iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => None,
    })
}

/// A household as a phone pushes it. Server-owned columns (`version`, `town_id`,
/// `last_visited_at`) and bookkeeping (`_status`, `_changed`) are ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct PushedHousehold {
    /// Id.
    pub id: Uuid,
    /// Village.
    pub village_id: Uuid,
    /// Head of household.
    pub head_name: String,
    /// Phone.
    #[serde(default)]
    pub phone: Option<String>,
    /// Address.
    #[serde(default)]
    pub address: Option<String>,
    /// Members.
    #[serde(default)]
    pub members_count: Option<i32>,
    /// ID number.
    #[serde(default)]
    pub id_card_number: Option<String>,
    /// Latitude.
    #[serde(default)]
    pub latitude: Option<f64>,
    /// Longitude.
    #[serde(default)]
    pub longitude: Option<f64>,
    /// Tags.
    #[serde(default, deserialize_with = "tag_list")]
    pub tags: Option<Vec<String>>,
    /// Notes.
    #[serde(default)]
    pub notes: Option<String>,
}

/// A visit as a phone pushes it (`cadre_id` is the caller, whatever the record says). Checked
/// as `POST /visits` checks a visit (its answers in `sync::push`).
#[derive(Debug, Clone, Deserialize, Validate)]
pub struct PushedVisit {
    /// Id.
    pub id: Uuid,
    /// Household visited.
    #[serde(default)]
    pub household_id: Option<Uuid>,
    /// Enterprise visited.
    #[serde(default)]
    pub enterprise_id: Option<Uuid>,
    /// Channel.
    pub channel: visit::Channel,
    /// When, by the device.
    #[serde(deserialize_with = "time")]
    pub visited_at: DateTime<Utc>,
    /// The six answers.
    #[serde(default, deserialize_with = "json_text")]
    pub answers: Option<Value>,
    /// Diary note.
    #[serde(default)]
    #[validate(length(max = 5000))]
    pub diary_note: Option<String>,
    /// Service card.
    #[serde(default)]
    pub service_card_given: bool,
    /// Latitude.
    #[serde(default)]
    #[validate(range(min = -90.0, max = 90.0))]
    pub latitude: Option<f64>,
    /// Longitude.
    #[serde(default)]
    #[validate(range(min = -180.0, max = 180.0))]
    pub longitude: Option<f64>,
}

/// An issue as a phone pushes it: raised in a pushed or stored visit. Checked as
/// `POST /visits` checks an issue.
#[derive(Debug, Clone, Deserialize, Validate)]
pub struct PushedIssue {
    /// Id.
    pub id: Uuid,
    /// The visit it was raised in.
    pub visit_id: Uuid,
    /// Category.
    pub category: issue::Category,
    /// Matter.
    #[validate(
        length(min = 1, max = 2000),
        custom(function = "crate::validation::not_blank")
    )]
    pub matter: String,
    /// Answered on the spot.
    #[serde(default)]
    pub answered_on_spot: bool,
    /// The answer.
    #[serde(default)]
    #[validate(length(max = 2000))]
    pub spot_answer: Option<String>,
    /// Level.
    #[serde(default = "village_level")]
    pub level: issue::Level,
    /// Deadline.
    #[serde(default)]
    pub deadline: Option<NaiveDate>,
    /// Deadline in working days after the day of the visit (instead of `deadline`).
    #[serde(default)]
    pub deadline_working_days: Option<u32>,
    /// Deed.
    #[serde(default)]
    pub is_deed: bool,
    /// The cadre a conduct complaint names.
    #[serde(default)]
    pub named_cadre_id: Option<Uuid>,
    /// Department.
    #[serde(default)]
    pub handler_department_id: Option<Uuid>,
    /// Applicant, when not the household head.
    #[serde(default)]
    #[validate(
        length(min = 1, max = 50),
        custom(function = "crate::validation::not_blank")
    )]
    pub applicant_name: Option<String>,
    /// Applicant's phone.
    #[serde(default)]
    #[validate(length(max = 20))]
    pub applicant_phone: Option<String>,
}

fn village_level() -> issue::Level {
    issue::Level::Village
}

/// A timeline event a phone may create: a progress note, a resolution, or feedback.
#[derive(Debug, Clone, Deserialize, Validate)]
pub struct PushedEvent {
    /// Id.
    pub id: Uuid,
    /// The issue.
    pub issue_id: Uuid,
    /// `progress`, `resolved` or `feedback`.
    pub kind: issue_event::EventKind,
    /// The note.
    #[serde(default)]
    #[validate(length(max = 2000))]
    pub note: Option<String>,
    /// Feedback: was the applicant satisfied?
    #[serde(default)]
    pub satisfied: Option<bool>,
    /// When the phone took the step (epoch ms or RFC 3339): the event, and a resolution's
    /// `resolved_at`, are dated by it, within bounds (`ledger::steps`); without it, by the
    /// push.
    #[serde(default, deserialize_with = "optional_time")]
    pub occurred_at: Option<DateTime<Utc>>,
}
