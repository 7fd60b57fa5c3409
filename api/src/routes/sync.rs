//! `/api/v1/sync`: WatermelonDB-compatible pull and push for the field app.

use actix_web::{HttpRequest, HttpResponse, get, http::header::ContentType, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::{
    auth::AuthUser,
    error::{ApiError, ApiResult, Problem},
    import::read_body,
    startup::AppState,
    sync::{self, push::PushReport},
};

/// Registers the sync routes.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(pull_changes).service(push_changes);
}

/// Pull parameters (WatermelonDB sends them as given).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PullQuery {
    /// The `timestamp` of the last pull, or the literal `null` on the first sync (required:
    /// WatermelonDB always sends it).
    #[param(value_type = String, example = "null")]
    pub last_pulled_at: String,
    /// The app's schema version.
    pub schema_version: Option<u32>,
    /// WatermelonDB's migration info (JSON) or `null`; accepted and not needed here.
    pub migration: Option<String>,
}

/// Push parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PushQuery {
    /// The `timestamp` of the phone's last pull: records changed on the server after it
    /// conflict.
    pub last_pulled_at: i64,
}

/// `{created, updated, deleted}` of one table.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SyncTableChanges {
    /// New records (flat objects: `id` and snake_case columns).
    pub created: Vec<serde_json::Value>,
    /// Changed records.
    pub updated: Vec<serde_json::Value>,
    /// Ids of deleted records, and of records that left the caller's scope.
    pub deleted: Vec<String>,
}

/// What changed, per table: `villages`, `households`, `enterprises`, `visits`, `issues`,
/// `issue_events`, `pairings`.
// The handler writes this JSON itself, from the records serialized as they were read.
#[derive(Debug, ToSchema)]
pub struct PullResponse {
    /// Changes per table.
    pub changes: std::collections::BTreeMap<String, SyncTableChanges>,
    /// The new cursor: pass it as `last_pulled_at` next time. Opaque and strictly increasing.
    pub timestamp: i64,
}

/// A push body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PushRequest {
    /// Changes per table, as WatermelonDB's `synchronize()` sends them.
    pub changes: std::collections::BTreeMap<String, SyncTableChanges>,
}

fn device_id(req: &HttpRequest) -> ApiResult<String> {
    let device = req
        .headers()
        .get("x-device-id")
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .unwrap_or_default();
    if device.is_empty() || device.len() > 64 || !device.bytes().all(|byte| byte.is_ascii_graphic())
    {
        return Err(ApiError::BadRequest {
            code: "invalid_device_id",
            detail: "Send the device's stable id as X-Device-Id (1–64 visible ASCII characters)."
                .to_owned(),
        });
    }
    Ok(device.to_owned())
}

/// WatermelonDB pull: everything in the caller's scope that changed after `last_pulled_at`,
/// from one consistent snapshot. The first sync (`last_pulled_at=null`) sends only `created`:
/// the villages, their households and enterprises, a year of visits, the open issues and a
/// year of the rest, their timelines, and the pairings. A village that left the caller's scope
/// comes down with its records as `deleted`. Send the device's id as `X-Device-Id`. A cursor this
/// device's history does not know is `409 sync_reset_required`: pull again from `null`.
/// The answer is sent as it is read (chunked, no `Content-Length`); should the server fail
/// once it has begun, the connection is cut before the JSON is whole: pull again.
#[utoipa::path(
    tag = "sync",
    params(PullQuery, ("X-Device-Id" = String, Header, description = "The device's stable id (required).")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changes and the new cursor.", body = PullResponse),
        (status = 409, description = "`sync_reset_required`: pull again with `last_pulled_at=null`.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[get("/sync/pull")]
async fn pull_changes(
    user: AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<PullQuery>,
) -> ApiResult<HttpResponse> {
    let last_pulled_at = match query.last_pulled_at.trim() {
        "null" | "" => None,
        text => Some(text.parse::<i64>().map_err(|_| {
            ApiError::invalid_field(
                "last_pulled_at",
                "invalid",
                "A timestamp from a previous pull, or null.",
            )
        })?),
    };
    let device = device_id(&req)?;
    let mut pull = sync::pull::pull(&state.db, &user, last_pulled_at, &device).await?;
    let personal_data = std::mem::take(&mut pull.personal_data);
    record_personal_data_pull(&state, &user, personal_data, &device).await?;
    Ok(HttpResponse::Ok()
        .content_type(ContentType::json())
        .streaming(pull.into_body(state.db.clone())))
}

/// PIPL read audit: a pull that sends households with phones or ID numbers (unmasked: the
/// phone keeps its villages' roster) writes one `household.read_personal_data` entry naming
/// them and the device, before the answer leaves — as a household read through the REST API.
async fn record_personal_data_pull(
    state: &AppState,
    user: &AuthUser,
    (ids, fields): (Vec<uuid::Uuid>, std::collections::BTreeSet<&'static str>),
    device: &str,
) -> ApiResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let entry = crate::audit::AuditEntry {
        action: "household.read_personal_data",
        entity_type: "household",
        entity_id: None,
        changes: Some(serde_json::json!({
            "household_ids": ids, "fields": fields, "via": "sync_pull", "device": device,
        })),
    };
    crate::audit::record_read(&state.db, &user.audit_actor(), entry).await?;
    Ok(())
}

/// WatermelonDB push: the phone's changes, all or nothing in one transaction, each record
/// through the same rules as the REST API. At most 1,000 records and 4 MiB (413 beyond).
/// Households are created and updated; visits, issues (raised in a visit) and issue events
/// (`progress`, `resolved`, `feedback`) are created; villages, enterprises and pairings are
/// read-only. An issue already stored is not edited by a push: with the same `matter`,
/// `category` and `visit_id` it is a re-push (its other columns are the server's once created:
/// an extended deadline, an escalated level), with another of those three 422. A record the server changed after `last_pulled_at`, pushed with other content,
/// refuses the whole push with 409 naming it (`details.conflicts`); pull and push again.
/// Re-pushing records the server already has with the same content is success. Records are
/// not deleted from the field app: a `deleted` id of a record the caller can pull refuses the
/// push with 403; any other id there (never stored, or stored outside the caller's scope) is
/// ignored, alike. An issue pushed without `applicant_name` takes the name and phone of its
/// visit's household while that household is in the caller's villages; once it has moved
/// away, the push is 422 naming `applicant_name`. An issue event is dated by its
/// `occurred_at` (the phone's time, epoch ms or RFC 3339), so that a resolution made offline
/// before the deadline counts as in time: never after the push arrived, at most 7 days back,
/// and after the latest step that changed its status (not an urge or an extension); the event's `data` keeps `received_at` and,
/// when the time was moved into those bounds, the phone's own `device_time`. An `occurred_at`
/// more than a day ahead of the server's clock is 422. An issue's `created` event is dated by
/// its visit's `visited_at`. Columns the server owns (`version`, `status`, `cadre_id`, …) and
/// `_status`/`_changed` are ignored.
#[utoipa::path(
    tag = "sync",
    params(PushQuery, ("X-Device-Id" = String, Header, description = "The device's stable id (required).")),
    request_body = PushRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Applied.", body = PushReport),
        (status = 422, description = "`invalid_record`: a record is refused and pulling would not change that (`details` names the table and id; `details.reason` the refusal's own code, such as `validation_failed`, `id_taken`, `id_card_taken` or `invalid_transition`; `details.errors` the fields), or one id appears twice. Nothing is written.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`sync_conflict`: records changed on the server since `last_pulled_at` (`details.conflicts`), or while the push ran (`details` names the record): pull, then push again. `sync_reset_required`: `last_pulled_at` is ahead of the server and was never given to this device (pull with `last_pulled_at=null` first). Nothing is written.", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "More than 1,000 records or 4 MiB.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/sync/push")]
async fn push_changes(
    user: AuthUser,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<PushQuery>,
    payload: web::Payload,
) -> ApiResult<web::Json<PushReport>> {
    let is_json = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType {
            expected: "application/json",
        });
    }
    let device = device_id(&req)?;
    let bytes = read_body(payload, sync::push::MAX_BYTES).await?;
    let body: sync::push::PushBody = serde_json::from_slice(&bytes).map_err(|error| {
        if error.is_data() {
            ApiError::invalid_field(
                "changes",
                "invalid",
                "The body is not `{changes: {table: {created, updated, deleted}}}`.",
            )
        } else {
            ApiError::BadRequest {
                code: "malformed_json",
                detail: "The request body is not valid JSON.".to_owned(),
            }
        }
    })?;
    if body.record_count() > sync::push::MAX_RECORDS {
        return Err(ApiError::PayloadTooLarge {
            limit: sync::push::MAX_RECORDS,
        });
    }
    let report = sync::push::push(
        &state.db,
        &user,
        state.clock,
        query.last_pulled_at,
        &device,
        body,
    )
    .await?;
    Ok(web::Json(report))
}
