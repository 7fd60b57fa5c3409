//! Records as the field app stores them: flat objects, `id` plus snake_case columns. Times are
//! milliseconds since the epoch (WatermelonDB's convention), calendar dates `YYYY-MM-DD`,
//! tags a comma-separated string, the six answers a JSON string. Personal data is masked by
//! the same policy as the REST responses.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use entity::{enterprise, household, issue, issue_event, org_unit, pairing, visit};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{households::HouseholdTag, privacy};

fn millis(time: DateTime<Utc>) -> i64 {
    time.timestamp_millis()
}

/// A village.
pub fn village(row: &org_unit::Model) -> Value {
    json!({"id": row.id, "name": row.name, "code": row.code, "town_id": row.town_id, "district_id": row.district_id})
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

/// A household (phone and ID number masked unless the role may see them).
pub fn household(row: &household::Model, unmasked: bool) -> Value {
    json!({
        "id": row.id, "village_id": row.village_id, "town_id": row.town_id, "head_name": row.head_name,
        "phone": row.phone.as_deref().map(|phone| if unmasked { phone.to_owned() } else { privacy::mask_phone(phone) }),
        "address": row.address, "members_count": row.members_count,
        "id_card_number": row.id_card_number.as_deref().map(|number| if unmasked { number.to_owned() } else { privacy::mask_id_card(number) }),
        "latitude": row.latitude, "longitude": row.longitude, "tags": tags_text(row.tags), "notes": row.notes,
        "last_visited_at": row.last_visited_at.map(millis), "version": row.version,
    })
}

/// An enterprise.
pub fn enterprise(row: &enterprise::Model, unmasked: bool) -> Value {
    json!({
        "id": row.id, "village_id": row.village_id, "town_id": row.town_id, "name": row.name,
        "contact_name": row.contact_name,
        "contact_phone": row.contact_phone.as_deref().map(|phone| if unmasked { phone.to_owned() } else { privacy::mask_phone(phone) }),
        "address": row.address,
    })
}

/// A visit.
pub fn visit(row: &visit::Model) -> Value {
    json!({
        "id": row.id, "household_id": row.household_id, "enterprise_id": row.enterprise_id,
        "village_id": row.village_id, "cadre_id": row.cadre_id, "channel": row.channel,
        "visited_at": millis(row.visited_at), "received_at": millis(row.received_at),
        "answers": row.answers.as_ref().map(Value::to_string), "diary_note": row.diary_note,
        "service_card_given": row.service_card_given, "latitude": row.latitude, "longitude": row.longitude,
    })
}

/// An issue.
pub fn issue(row: &issue::Model, unmasked: bool) -> Value {
    json!({
        "id": row.id, "visit_id": row.visit_id, "village_id": row.village_id, "channel": row.channel,
        "applicant_household_id": row.applicant_household_id, "applicant_name": row.applicant_name,
        "applicant_phone": row.applicant_phone.as_deref().map(|phone| if unmasked { phone.to_owned() } else { privacy::mask_phone(phone) }),
        "category": row.category, "matter": row.matter, "answered_on_spot": row.answered_on_spot,
        "spot_answer": row.spot_answer, "level": row.level, "lead_responsible_id": row.lead_responsible_id,
        "handler_department_id": row.handler_department_id, "deadline": row.deadline, "status": row.status,
        "is_deed": row.is_deed, "latest_progress": row.latest_progress, "resolution": row.resolution,
        "feedback_given": row.feedback_given, "applicant_satisfied": row.applicant_satisfied,
        "version": row.version, "created_at": millis(row.created_at), "updated_at": millis(row.updated_at),
    })
}

/// An event of an issue's timeline.
pub fn issue_event(row: &issue_event::Model) -> Value {
    json!({
        "id": row.id, "issue_id": row.issue_id, "kind": row.kind, "actor_id": row.actor_id,
        "note": row.note, "occurred_at": millis(row.occurred_at),
    })
}

/// A pairing.
pub fn pairing(row: &pairing::Model) -> Value {
    json!({"id": row.id, "cadre_id": row.cadre_id, "household_id": row.household_id, "village_id": row.village_id})
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

/// A visit as a phone pushes it (`cadre_id` is the caller, whatever the record says).
#[derive(Debug, Clone, Deserialize)]
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
    pub diary_note: Option<String>,
    /// Service card.
    #[serde(default)]
    pub service_card_given: bool,
    /// Latitude.
    #[serde(default)]
    pub latitude: Option<f64>,
    /// Longitude.
    #[serde(default)]
    pub longitude: Option<f64>,
}

/// An issue as a phone pushes it: raised in a pushed or stored visit.
#[derive(Debug, Clone, Deserialize)]
pub struct PushedIssue {
    /// Id.
    pub id: Uuid,
    /// The visit it was raised in.
    pub visit_id: Uuid,
    /// Category.
    pub category: issue::Category,
    /// Matter.
    pub matter: String,
    /// Answered on the spot.
    #[serde(default)]
    pub answered_on_spot: bool,
    /// The answer.
    #[serde(default)]
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
    pub applicant_name: Option<String>,
    /// Applicant's phone.
    #[serde(default)]
    pub applicant_phone: Option<String>,
}

fn village_level() -> issue::Level {
    issue::Level::Village
}

/// A timeline event a phone may create: a progress note, a resolution, or feedback.
#[derive(Debug, Clone, Deserialize)]
pub struct PushedEvent {
    /// Id.
    pub id: Uuid,
    /// The issue.
    pub issue_id: Uuid,
    /// `progress`, `resolved` or `feedback`.
    pub kind: issue_event::EventKind,
    /// The note.
    #[serde(default)]
    pub note: Option<String>,
    /// Feedback: was the applicant satisfied?
    #[serde(default)]
    pub satisfied: Option<bool>,
}
