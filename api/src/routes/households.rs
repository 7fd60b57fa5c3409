//! `/api/v1/households`: the roster, with bulk CSV import.

use actix_web::{HttpRequest, HttpResponse, get, http::header, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use entity::household;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;
use validator::{Validate, ValidationError};

use crate::{
    audit::{self, AuditEntry},
    auth::AuthUser,
    concurrency,
    db::begin_write,
    error::{ApiError, ApiResult, Problem},
    households::{self, HouseholdTag},
    import,
    pagination::{self, Page},
    privacy,
    startup::AppState,
};

/// Registers the household routes.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_households)
        .service(create_household)
        .service(import_households)
        .service(get_household)
        .service(update_household);
}

/// A household. `phone` and `id_card_number` are masked (`138****1234`) unless the caller is
/// an admin or one of the household's own cadres; for viewers the head's name is masked
/// (`张**`) and the address, location and notes are left out.
#[derive(Debug, Serialize, ToSchema)]
pub struct HouseholdResponse {
    /// Id.
    pub id: Uuid,
    /// Town.
    pub town_id: Uuid,
    /// Village.
    pub village_id: Uuid,
    /// Head of household (户主).
    #[schema(example = "王建华")]
    pub head_name: String,
    /// Phone, masked per role.
    #[schema(example = "138****1234")]
    pub phone: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Members of the household.
    pub members_count: Option<i32>,
    /// Resident ID number of the head, masked per role.
    #[schema(example = "3715**********1234")]
    pub id_card_number: Option<String>,
    /// WGS-84 latitude.
    pub latitude: Option<f64>,
    /// WGS-84 longitude.
    pub longitude: Option<f64>,
    /// Visit-priority tags.
    pub tags: Vec<HouseholdTag>,
    /// Notes.
    pub notes: Option<String>,
    /// When a visit last reached the household.
    pub last_visited_at: Option<DateTime<Utc>>,
    /// Version for optimistic concurrency (also the `ETag`).
    pub version: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl HouseholdResponse {
    /// The household as this caller may see it.
    pub fn for_caller(row: household::Model, user: &AuthUser) -> Self {
        let role = user.principal.role;
        let unmasked = privacy::sees_contact_details(role);
        let names = privacy::sees_names(role);
        Self {
            id: row.id,
            town_id: row.town_id,
            village_id: row.village_id,
            head_name: if names {
                row.head_name
            } else {
                privacy::mask_name(&row.head_name)
            },
            phone: row.phone.map(|phone| {
                if unmasked {
                    phone
                } else {
                    privacy::mask_phone(&phone)
                }
            }),
            // Viewers (dashboards, auditors) get no address, location or notes.
            address: row.address.filter(|_| names),
            members_count: row.members_count,
            id_card_number: row.id_card_number.map(|number| {
                if unmasked {
                    number
                } else {
                    privacy::mask_id_card(&number)
                }
            }),
            latitude: row.latitude.filter(|_| names),
            longitude: row.longitude.filter(|_| names),
            tags: HouseholdTag::from_bits(row.tags),
            notes: row.notes.filter(|_| names),
            last_visited_at: row.last_visited_at,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

fn valid_id_card(number: &str) -> Result<(), ValidationError> {
    if privacy::valid_id_card(number) {
        Ok(())
    } else {
        Err(ValidationError::new("invalid_id_card").with_message(
            "Not an 18-character resident ID number with a valid date and check character.".into(),
        ))
    }
}

/// A new household. A phone may choose the `id` (a UUID); sending the same household with
/// the same id again returns it instead of creating a second one.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateHouseholdRequest {
    /// Client-chosen id; generated when omitted.
    pub id: Option<Uuid>,
    /// The village (in the caller's scope).
    pub village_id: Uuid,
    /// Head of household.
    #[validate(
        length(min = 1, max = 50),
        custom(function = "crate::validation::not_blank")
    )]
    #[schema(min_length = 1, max_length = 50, pattern = "\\S")]
    pub head_name: String,
    /// Mobile or landline.
    #[validate(custom(function = "crate::validation::phone"))]
    pub phone: Option<String>,
    /// Address.
    #[validate(length(max = 200))]
    #[schema(max_length = 200)]
    pub address: Option<String>,
    /// Members of the household, 1–99.
    #[validate(range(min = 1, max = 99))]
    #[schema(minimum = 1, maximum = 99)]
    pub members_count: Option<i32>,
    /// Resident ID number of the head (18 characters, checked).
    #[validate(custom(function = "valid_id_card"))]
    pub id_card_number: Option<String>,
    /// WGS-84 latitude.
    #[validate(range(min = -90.0, max = 90.0))]
    #[schema(minimum = -90.0, maximum = 90.0)]
    pub latitude: Option<f64>,
    /// WGS-84 longitude.
    #[validate(range(min = -180.0, max = 180.0))]
    #[schema(minimum = -180.0, maximum = 180.0)]
    pub longitude: Option<f64>,
    /// Visit-priority tags.
    #[serde(default)]
    #[validate(length(max = 5))]
    #[schema(max_items = 5)]
    pub tags: Vec<HouseholdTag>,
    /// Notes.
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub notes: Option<String>,
}

/// `Some(None)` for an explicit `null`, `None` when the field is absent.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(deserializer).map(Some)
}

/// Changes to a household. Omitted fields stay; `null` clears an optional field. Send the
/// `version` you read (or `If-Match`); a stale one is 412.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct UpdateHouseholdRequest {
    /// The version this change is based on.
    pub version: Option<i32>,
    /// Move to another village in scope.
    pub village_id: Option<Uuid>,
    /// Head of household.
    #[validate(
        length(min = 1, max = 50),
        custom(function = "crate::validation::not_blank")
    )]
    #[schema(min_length = 1, max_length = 50, pattern = "\\S")]
    pub head_name: Option<String>,
    /// Mobile or landline; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    /// Address; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub address: Option<Option<String>>,
    /// Members, 1–99; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i32>)]
    pub members_count: Option<Option<i32>>,
    /// Resident ID number; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub id_card_number: Option<Option<String>>,
    /// Latitude; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>)]
    pub latitude: Option<Option<f64>>,
    /// Longitude; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>)]
    pub longitude: Option<Option<f64>>,
    /// The complete new set of tags.
    #[validate(length(max = 5))]
    #[schema(max_items = 5)]
    pub tags: Option<Vec<HouseholdTag>>,
    /// Notes; `null` clears them.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub notes: Option<Option<String>>,
}

impl UpdateHouseholdRequest {
    /// Checks the values inside the nullable fields (validator sees only the outer option).
    fn check_values(&self) -> ApiResult<()> {
        let mut errors = Vec::new();
        let mut fail = |field: &str, code: &str, message: &str| {
            errors.push(crate::error::FieldError {
                field: field.to_owned(),
                code: code.to_owned(),
                message: message.to_owned(),
            });
        };
        if let Some(Some(phone)) = &self.phone
            && !privacy::valid_phone(phone)
        {
            fail(
                "phone",
                "invalid_phone",
                "A mobile (11 digits) or a landline.",
            );
        }
        if let Some(Some(number)) = &self.id_card_number
            && !privacy::valid_id_card(number)
        {
            fail(
                "id_card_number",
                "invalid_id_card",
                "Not a valid resident ID number.",
            );
        }
        if let Some(Some(address)) = &self.address
            && address.chars().count() > 200
        {
            fail("address", "length", "At most 200 characters.");
        }
        if let Some(Some(count)) = self.members_count
            && !(1..=99).contains(&count)
        {
            fail("members_count", "range", "Between 1 and 99.");
        }
        if let Some(Some(latitude)) = self.latitude
            && !(-90.0..=90.0).contains(&latitude)
        {
            fail("latitude", "range", "Between -90 and 90.");
        }
        if let Some(Some(longitude)) = self.longitude
            && !(-180.0..=180.0).contains(&longitude)
        {
            fail("longitude", "range", "Between -180 and 180.");
        }
        if let Some(Some(notes)) = &self.notes
            && notes.chars().count() > 2000
        {
            fail("notes", "length", "At most 2000 characters.");
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(errors))
        }
    }
}

/// Filters of the household list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HouseholdQuery {
    /// Only this village.
    pub village_id: Option<Uuid>,
    /// Only this town.
    pub town_id: Option<Uuid>,
    /// Only households with this tag.
    pub tag: Option<HouseholdTag>,
    /// Only households not visited since this day (`YYYY-MM-DD`), or never.
    pub not_visited_since: Option<NaiveDate>,
    /// Only households whose head's name contains this text.
    pub q: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn with_etag(mut response: HttpResponse, version: i32) -> HttpResponse {
    if let Ok(value) = header::HeaderValue::from_str(&concurrency::etag(version)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

fn audit_view(row: &household::Model) -> serde_json::Value {
    // Phones and ID numbers are recorded masked: the audit trail is read by admins, but
    // it is kept for years and exported for inspections.
    serde_json::json!({
        "village_id": row.village_id,
        "head_name": row.head_name,
        "phone": row.phone.as_deref().map(privacy::mask_phone),
        "address": row.address,
        "members_count": row.members_count,
        "id_card_number": row.id_card_number.as_deref().map(privacy::mask_id_card),
        "latitude": row.latitude,
        "longitude": row.longitude,
        "tags": HouseholdTag::from_bits(row.tags),
        "notes": row.notes,
    })
}

/// What a change did, for its audit row (masked, like the views).
fn audit_changes(before: &household::Model, after: &household::Model) -> serde_json::Value {
    let mut changes = audit::diff(&audit_view(before), &audit_view(after));
    audit::note_masked_change(
        &mut changes,
        "phone",
        before.phone.as_deref(),
        after.phone.as_deref(),
        privacy::mask_phone,
    );
    audit::note_masked_change(
        &mut changes,
        "id_card_number",
        before.id_card_number.as_deref(),
        after.id_card_number.as_deref(),
        privacy::mask_id_card,
    );
    changes
}

/// PIPL read audit: when the caller is shown phones or ID numbers unmasked, one audit entry
/// (`household.read_personal_data`) names the households and which of the two fields, written
/// before the answer leaves. `one`: a single household (its id is the entry's `entity_id`);
/// otherwise a list page (the ids are listed). Masked answers and households without either
/// field record nothing. A change's answer is covered by the change's own entry; a PATCH that
/// changes nothing records this read instead.
async fn record_personal_data_read(
    state: &AppState,
    user: &AuthUser,
    rows: &[household::Model],
    one: bool,
) -> ApiResult<()> {
    if !privacy::sees_contact_details(user.principal.role) {
        return Ok(());
    }
    let shown: Vec<&household::Model> = rows
        .iter()
        .filter(|row| row.phone.is_some() || row.id_card_number.is_some())
        .collect();
    let Some(first) = shown.first() else {
        return Ok(());
    };
    let mut fields = Vec::new();
    if shown.iter().any(|row| row.phone.is_some()) {
        fields.push("phone");
    }
    if shown.iter().any(|row| row.id_card_number.is_some()) {
        fields.push("id_card_number");
    }
    let entry = if one {
        AuditEntry::new("household.read_personal_data", "household", first.id)
            .with_changes(serde_json::json!({"fields": fields}))
    } else {
        AuditEntry {
            action: "household.read_personal_data",
            entity_type: "household",
            entity_id: None,
            changes: Some(serde_json::json!({
                "household_ids": shown.iter().map(|row| row.id).collect::<Vec<_>>(),
                "fields": fields,
            })),
        }
    };
    audit::record_read(&state.db, &user.audit_actor(), entry).await?;
    Ok(())
}

/// Lists households in the caller's scope.
#[utoipa::path(
    tag = "roster",
    params(HouseholdQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of households.", body = Page<HouseholdResponse>)),
)]
#[get("/households")]
async fn list_households(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<HouseholdQuery>,
) -> ApiResult<web::Json<Page<HouseholdResponse>>> {
    let limit = pagination::limit(query.limit)?;
    let after = pagination::uuid_cursor(query.cursor.as_deref())?;
    let query = query.into_inner();
    if query.q.is_some() && !privacy::sees_names(user.principal.role) {
        return Err(ApiError::Forbidden(
            "Viewers see names masked and cannot search by name.".to_owned(),
        ));
    }
    if query
        .q
        .as_deref()
        .is_some_and(|text| text.chars().count() > 50)
    {
        return Err(ApiError::invalid_field(
            "q",
            "length",
            "At most 50 characters.",
        ));
    }
    let filter = households::HouseholdFilter {
        village_id: query.village_id,
        town_id: query.town_id,
        tag: query.tag,
        // The day as the township counts it (UTC+8), not UTC's: a visit at 07:00 local time
        // on that day is since it.
        not_visited_since: query.not_visited_since.map(|day| state.clock.start_of(day)),
        name_contains: query.q.filter(|text| !text.is_empty()),
    };
    let rows =
        households::list_households(&state.db, user.scope(), &filter, after, limit + 1).await?;
    let shown = usize::try_from(limit).unwrap_or(usize::MAX);
    record_personal_data_read(&state, &user, &rows[..rows.len().min(shown)], false).await?;
    Ok(web::Json(Page::from_rows(
        rows,
        limit,
        |row| row.id.to_string(),
        |row| HouseholdResponse::for_caller(row, &user),
    )))
}

/// Registers a household in a village in scope (cadres, village officials, admins).
/// Idempotent by `id`: the same household sent again is answered 200 with the stored one.
#[utoipa::path(
    tag = "roster",
    request_body = CreateHouseholdRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created.", body = HouseholdResponse),
        (status = 200, description = "A household with this id and the same content already existed.", body = HouseholdResponse),
        (status = 409, description = "The id belongs to a different household, or the ID number to another household.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/households")]
async fn create_household(
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<CreateHouseholdRequest>,
) -> ApiResult<HttpResponse> {
    body.validate()?;
    let body = body.into_inner();
    let txn = begin_write(&state.db).await?;
    let place =
        households::village_in_scope(&txn, user.scope(), body.village_id, "village_id").await?;
    let now = Utc::now();
    let row = household::Model {
        id: body.id.unwrap_or_else(Uuid::now_v7),
        county_id: place.county_id,
        town_id: place.town_id,
        village_id: place.village_id,
        head_name: body.head_name.trim().to_owned(),
        phone: body.phone,
        address: body.address,
        members_count: body.members_count,
        id_card_number: body
            .id_card_number
            .as_deref()
            .map(privacy::normalise_id_card),
        latitude: body.latitude,
        longitude: body.longitude,
        tags: HouseholdTag::bits(&body.tags),
        notes: body.notes,
        last_visited_at: None,
        version: 1,
        created_by: user.user_id().ok(),
        created_at: now,
        updated_at: now,
        change_seq: 0,
        created_seq: 0,
        origin_device: None,
    };
    if let households::Inserted::Existing(stored) = households::insert_household(&txn, &row).await?
    {
        // The same household again: a retry. Answer with what is stored, write nothing.
        crate::db::commit(txn).await?;
        let version = stored.version;
        return Ok(with_etag(
            HttpResponse::Ok().json(HouseholdResponse::for_caller(*stored, &user)),
            version,
        ));
    }
    audit::record(
        &txn,
        &user.audit_actor(),
        AuditEntry::new("household.create", "household", row.id).with_changes(audit_view(&row)),
    )
    .await?;
    crate::db::commit(txn).await?;
    let version = row.version;
    Ok(with_etag(
        HttpResponse::Created().json(HouseholdResponse::for_caller(row, &user)),
        version,
    ))
}

/// One household in the caller's scope, with its `ETag`.
#[utoipa::path(
    tag = "roster",
    params(("id" = Uuid, Path, description = "Household id.")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The household.", body = HouseholdResponse, headers(("ETag" = String, description = "The version, quoted."))),
        (status = 404, description = "No such household in your scope.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/households/{id}")]
async fn get_household(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let row = households::find_household(&state.db, user.scope(), *id)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such household.".to_owned()))?;
    record_personal_data_read(&state, &user, std::slice::from_ref(&row), true).await?;
    let version = row.version;
    Ok(with_etag(
        HttpResponse::Ok().json(HouseholdResponse::for_caller(row, &user)),
        version,
    ))
}

/// Changes a household in the caller's scope (cadres, village officials, admins).
#[utoipa::path(
    tag = "roster",
    params(
        ("id" = Uuid, Path, description = "Household id."),
        ("If-Match" = Option<String>, Header, description = "The `ETag` you read; a stale one is 412."),
    ),
    request_body = UpdateHouseholdRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed household.", body = HouseholdResponse),
        (status = 404, description = "No such household in your scope.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another household already has this ID number.", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The household changed since you read it; `current_version` says its version.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[patch("/households/{id}")]
async fn update_household(
    user: AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: web::Json<UpdateHouseholdRequest>,
) -> ApiResult<HttpResponse> {
    body.validate()?;
    body.check_values()?;
    let body = body.into_inner();
    let txn = begin_write(&state.db).await?;
    let before = households::find_household(&txn, user.scope(), *id)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such household.".to_owned()))?;
    concurrency::check_version(&req, body.version, before.version)?;
    let mut changed = before.clone();
    if let Some(village_id) = body.village_id {
        let place =
            households::village_in_scope(&txn, user.scope(), village_id, "village_id").await?;
        changed.county_id = place.county_id;
        changed.town_id = place.town_id;
        changed.village_id = place.village_id;
    }
    if let Some(head_name) = body.head_name {
        changed.head_name = head_name.trim().to_owned();
    }
    if let Some(phone) = body.phone {
        changed.phone = phone;
    }
    if let Some(address) = body.address {
        changed.address = address;
    }
    if let Some(members_count) = body.members_count {
        changed.members_count = members_count;
    }
    if let Some(number) = body.id_card_number {
        changed.id_card_number = number.as_deref().map(privacy::normalise_id_card);
    }
    if let Some(latitude) = body.latitude {
        changed.latitude = latitude;
    }
    if let Some(longitude) = body.longitude {
        changed.longitude = longitude;
    }
    if let Some(tags) = body.tags {
        changed.tags = HouseholdTag::bits(&tags);
    }
    if let Some(notes) = body.notes {
        changed.notes = notes;
    }
    if households::same_content(&before, &changed) {
        // Nothing changed: no new version, no change recorded. The answer still shows the
        // caller the household's phone and ID number, so that read is recorded as a GET's is.
        crate::db::commit(txn).await?;
        record_personal_data_read(&state, &user, std::slice::from_ref(&before), true).await?;
        return Ok(with_etag(
            HttpResponse::Ok().json(HouseholdResponse::for_caller(before.clone(), &user)),
            before.version,
        ));
    }
    let changes = audit_changes(&before, &changed);
    changed.version = before.version + 1;
    changed.updated_at = Utc::now();
    let saved = households::save_household(&txn, before.version, changed).await?;
    if saved.village_id != before.village_id {
        crate::pairings::follow_household(&txn, &before, &saved).await?;
    }
    audit::record(
        &txn,
        &user.audit_actor(),
        AuditEntry::new("household.update", "household", saved.id).with_changes(changes),
    )
    .await?;
    crate::db::commit(txn).await?;
    let version = saved.version;
    Ok(with_etag(
        HttpResponse::Ok().json(HouseholdResponse::for_caller(saved, &user)),
        version,
    ))
}

/// How to run an import.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// Check everything and report, but write nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Import the valid rows even when some rows are invalid (they are reported and left out).
    /// Without it, one invalid row imports nothing.
    #[serde(default)]
    pub skip_invalid: bool,
}

/// Imports the office's household roster from CSV (admins and admin scripts).
///
/// The body is the CSV file itself (`Content-Type: text/csv`), UTF-8 (with or without BOM)
/// or GBK, detected automatically, at most 32 MiB. The first row names the columns, in
/// Chinese or English: 村/village (name or code, required), 镇/town (to tell apart villages
/// of the same name), 户主姓名/head_name (required), 联系电话/phone, 住址/address,
/// 家庭人口/members_count, 身份证号/id_card_number, 标签/tags (separated by 、 , ; or
/// spaces: 致富能手 离任村干部 党员 有不同意见 困难), 备注/notes, 纬度/latitude,
/// 经度/longitude. Rows are numbered as in a spreadsheet (the header is row 1).
///
/// A row naming a household that already exists (same village, head and phone, or the same
/// ID number) is reported under `existing` and left as it is, so importing the same file again
/// changes nothing. A repeat within the file is reported under `duplicates_in_file`. All or
/// nothing: if any row is invalid the answer is 422 with the report in `details`, and nothing
/// is written, unless `skip_invalid=true`.
#[utoipa::path(
    tag = "roster",
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "The CSV file."),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Imported (or, with `dry_run`, checked): the per-row report.", body = import::ImportReport),
        (status = 422, description = "`import_rejected`: invalid rows and `skip_invalid` not set, or a header without the required columns (村, 户主姓名) or with two columns for one field, whatever `skip_invalid` says: nothing written; `details` is the report. `not_csv`: an Excel workbook (.xlsx, .xls) was sent: save it as CSV.", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many imports running (2 per server, 1 per caller); retry after `Retry-After` seconds.", body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
    ),
)]
#[post("/households/import")]
async fn import_households(
    user: AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<ImportQuery>,
    payload: web::Payload,
) -> ApiResult<web::Json<import::ImportReport>> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if ![
        "text/csv",
        "application/csv",
        "text/plain",
        "application/octet-stream",
    ]
    .iter()
    .any(|accepted| content_type.starts_with(accepted))
    {
        return Err(ApiError::UnsupportedMediaType {
            expected: "text/csv",
        });
    }
    // Imports are as heavy as exports: they share the limit (2 at once per process, 1 per
    // caller; 429 with Retry-After beyond).
    let _permit = state.imports.try_start(&user.principal)?;
    let body = import::read_body(payload, import::MAX_IMPORT_BYTES).await?;
    let options = import::ImportOptions {
        dry_run: query.dry_run,
        skip_invalid: query.skip_invalid,
    };
    let report = import::import_households(&state.db, &user, body, options).await?;
    Ok(web::Json(report))
}
