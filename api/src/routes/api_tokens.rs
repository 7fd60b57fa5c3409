//! `/api/v1/api-tokens`: tokens for admin scripts and third-party dashboards.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use entity::{api_token, user::Role};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;
use uuid::Uuid;
use validator::Validate;

use crate::{
    access::Scope,
    audit::{self, AuditEntry},
    auth::{AuthUser, token},
    db::begin_write,
    error::{ApiError, ApiResult, Problem},
    pagination::{self, Page},
    startup::AppState,
};

/// Registers the API token routes.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_api_tokens)
        .service(create_api_token)
        .service(revoke_api_token);
}

/// An API token (never the secret itself).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiTokenResponse {
    /// Id.
    pub id: Uuid,
    /// What it is for.
    #[schema(example = "县大屏只读")]
    pub name: String,
    /// `admin` or `viewer`.
    pub role: Role,
    /// The org unit it reaches (none: the whole deployment).
    pub scope_org_unit_id: Option<Uuid>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Expiry, if any.
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it last authenticated a request (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<api_token::Model> for ApiTokenResponse {
    fn from(row: api_token::Model) -> Self {
        Self {
            id: row.id,
            name: row.name,
            role: row.role,
            scope_org_unit_id: row.scope_org_unit_id,
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
            last_used_at: row.last_used_at,
        }
    }
}

/// A new API token.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateApiTokenRequest {
    /// What it is for.
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// `admin` (scripts) or `viewer` (read-only dashboards).
    pub role: Role,
    /// The org unit it reaches; omit for the whole deployment.
    pub scope_org_unit_id: Option<Uuid>,
    /// Optional expiry (RFC 3339); must be in the future.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A created token: the secret is shown here once and never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiTokenResponse {
    /// Send as `Authorization: Bearer <token>`. Store it now: only its hash is kept.
    pub token: String,
    /// The token's record.
    pub api_token: ApiTokenResponse,
}

/// Paging of the token list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ApiTokenQuery {
    /// Page size, 1–500 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Lists API tokens whose scope is inside the caller's (admins), oldest first.
#[utoipa::path(
    tag = "api tokens",
    params(ApiTokenQuery),
    security(("bearer" = [])),
    responses((status = 200, description = "A page of tokens.", body = Page<ApiTokenResponse>)),
)]
#[get("/api-tokens")]
async fn list_api_tokens(
    user: AuthUser,
    state: web::Data<AppState>,
    query: web::Query<ApiTokenQuery>,
) -> ApiResult<web::Json<Page<ApiTokenResponse>>> {
    let limit = pagination::limit(query.limit)?;
    let mut select = api_token::Entity::find().filter(
        user.scope()
            .org_unit_condition(api_token::Column::ScopeOrgUnitId),
    );
    if let Some(after) = pagination::uuid_cursor(query.cursor.as_deref())? {
        select = select.filter(api_token::Column::Id.gt(after));
    }
    let rows = select
        .order_by_asc(api_token::Column::Id)
        .limit(limit + 1)
        .all(&state.db)
        .await?;
    Ok(web::Json(Page::from_rows(
        rows,
        limit,
        |row| row.id.to_string(),
        ApiTokenResponse::from,
    )))
}

/// Creates an API token (admins signed in as a person). The secret is in this response only.
#[utoipa::path(
    tag = "api tokens",
    request_body = CreateApiTokenRequest,
    security(("bearer" = [])),
    responses((status = 201, description = "Created; store `token` now.", body = CreatedApiTokenResponse)),
)]
#[post("/api-tokens")]
async fn create_api_token(
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<CreateApiTokenRequest>,
) -> ApiResult<HttpResponse> {
    let creator = user.user_id()?;
    body.validate()?;
    let body = body.into_inner();
    if !matches!(body.role, Role::Admin | Role::Viewer) {
        return Err(ApiError::invalid_field(
            "role",
            "not_allowed",
            "API tokens are `admin` or `viewer`.",
        ));
    }
    if body.expires_at.is_some_and(|expires| expires <= Utc::now()) {
        return Err(ApiError::invalid_field(
            "expires_at",
            "in_the_past",
            "The expiry must be in the future.",
        ));
    }
    let txn = begin_write(&state.db).await?;
    match body.scope_org_unit_id {
        Some(unit) if !user.scope().reaches_org_unit(&txn, unit).await? => {
            return Err(ApiError::invalid_field(
                "scope_org_unit_id",
                "not_found",
                "No such org unit in your scope.",
            ));
        }
        None if *user.scope() != Scope::All => {
            return Err(ApiError::invalid_field(
                "scope_org_unit_id",
                "required",
                "Your own scope is limited: give the token an org unit inside it.",
            ));
        }
        _ => {}
    }
    let secret = token::new_secret(token::API_TOKEN_PREFIX)
        .map_err(|error| ApiError::Internal(Box::new(error)))?;
    let row = api_token::Model {
        id: Uuid::now_v7(),
        name: body.name,
        role: body.role,
        scope_org_unit_id: body.scope_org_unit_id,
        token_hash: token::secret_hash(&secret),
        created_by: creator,
        created_at: Utc::now(),
        expires_at: body.expires_at,
        revoked_at: None,
        last_used_at: None,
    };
    api_token::Entity::insert(api_token::ActiveModel::from(row.clone()))
        .exec_without_returning(&txn)
        .await?;
    let response = ApiTokenResponse::from(row);
    audit::record(
        &txn,
        &user.audit_actor(),
        AuditEntry::new("api_token.create", "api_token", response.id)
            .with_changes(serde_json::to_value(&response).unwrap_or_default()),
    )
    .await?;
    crate::db::commit(txn).await?;
    let mut answer = HttpResponse::Created().json(CreatedApiTokenResponse {
        token: secret,
        api_token: response,
    });
    answer
        .extensions_mut()
        .insert(crate::idempotency::OneTimeSecret);
    Ok(answer)
}

/// Revokes an API token (admins); it stops working at once. Revoking twice is harmless.
#[utoipa::path(
    tag = "api tokens",
    params(("id" = Uuid, Path, description = "API token id.")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Revoked."),
        (status = 404, description = "No such token in your scope.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[delete("/api-tokens/{id}")]
async fn revoke_api_token(
    user: AuthUser,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    let txn = begin_write(&state.db).await?;
    let row = api_token::Entity::find_by_id(*id)
        .filter(
            user.scope()
                .org_unit_condition(api_token::Column::ScopeOrgUnitId),
        )
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::NotFound("No such API token.".to_owned()))?;
    // Only a token still live is revoked and audited, decided by the UPDATE itself: of two
    // concurrent revocations one finds it revoked already.
    let revoked = api_token::Entity::update_many()
        .col_expr(
            api_token::Column::RevokedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(api_token::Column::Id.eq(row.id))
        .filter(api_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if revoked.rows_affected == 1 {
        let id = row.id;
        audit::record(
            &txn,
            &user.audit_actor(),
            AuditEntry::new("api_token.revoke", "api_token", id),
        )
        .await?;
    }
    state.commit_access_change(txn).await?;
    Ok(HttpResponse::NoContent().finish())
}
