//! `/api/v1/audit`: reading the audit trail (admins). There is no endpoint that changes it.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use entity::audit_log;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;

use crate::{
    access::Scope,
    audit::{self, AuditFilter},
    auth::AuthUser,
    error::{ApiError, ApiResult},
    pagination::{self, Page},
    startup::AppState,
};

/// Registers the audit route.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_audit_entries);
}

/// One audited change.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryResponse {
    /// Id (time-ordered).
    pub id: Uuid,
    /// When.
    pub occurred_at: DateTime<Utc>,
    /// `user`, `api_token` or `system`.
    pub actor_type: String,
    /// The user or token.
    pub actor_id: Option<Uuid>,
    /// The actor's role at the time.
    pub actor_role: Option<String>,
    /// What was done, e.g. `user.create`.
    #[schema(example = "user.create")]
    pub action: String,
    /// The kind of record.
    pub entity_type: String,
    /// The record.
    pub entity_id: Option<Uuid>,
    /// What changed: the new values, or `{field: {from, to}}`.
    pub changes: Option<serde_json::Value>,
    /// The request that did it.
    pub request_id: Option<String>,
    /// The client's address.
    pub client_addr: Option<String>,
}

impl From<audit_log::Model> for AuditEntryResponse {
    fn from(row: audit_log::Model) -> Self {
        Self {
            id: row.id,
            occurred_at: row.occurred_at,
            actor_type: row.actor_type,
            actor_id: row.actor_id,
            actor_role: row.actor_role,
            action: row.action,
            entity_type: row.entity_type,
            entity_id: row.entity_id,
            changes: row.changes,
            request_id: row.request_id,
            client_addr: row.client_addr,
        }
    }
}

/// Filters of the audit trail.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only this kind of record (`user`, `org_unit`, `api_token`, …).
    pub entity_type: Option<String>,
    /// Only this record.
    pub entity_id: Option<Uuid>,
    /// Only this actor (user or token id).
    pub actor_id: Option<Uuid>,
    /// From this time (inclusive).
    pub since: Option<DateTime<Utc>>,
    /// Until this time (exclusive).
    pub until: Option<DateTime<Utc>>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The audit trail, newest first (admins of the whole deployment).
#[utoipa::path(
    tag = "audit",
    params(AuditQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of audit entries.", body = Page<AuditEntryResponse>)),
)]
#[get("/audit")]
async fn list_audit_entries(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<AuditQuery>,
) -> ApiResult<web::Json<Page<AuditEntryResponse>>> {
    if *user.scope() != Scope::All {
        return Err(ApiError::Forbidden(
            "The audit trail spans the whole deployment; only admins of the whole deployment read it.".to_owned(),
        ));
    }
    let limit = pagination::limit(query.limit)?;
    let before = pagination::uuid_cursor(query.cursor.as_deref())?;
    let query = query.into_inner();
    let filter = AuditFilter {
        entity_type: query.entity_type,
        entity_id: query.entity_id,
        actor_id: query.actor_id,
        since: query.since,
        until: query.until,
    };
    let rows = audit::list(&state.db, &filter, before, limit + 1).await?;
    Ok(web::Json(Page::from_rows(
        rows,
        limit,
        |row| row.id.to_string(),
        AuditEntryResponse::from,
    )))
}
