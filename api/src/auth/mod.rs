//! Who is calling: the [`AuthUser`] extractor turns a bearer token (an access JWT or an API
//! token) into a [`Principal`] with a role and a [`Scope`]. The role and scope are read from
//! the database, not trusted from the token, and kept for a second ([`kept`]): a deactivated
//! user or an ended village assignment takes effect at once, not when the access token
//! expires.

pub mod kept;
pub mod password;
pub mod session;
pub mod throttle;
pub mod token;

use actix_web::{
    FromRequest, HttpMessage, HttpRequest,
    body::{EitherBody, MessageBody},
    dev::{Payload, ServiceRequest, ServiceResponse},
    http::header,
    middleware::Next,
    web,
};
use std::net::IpAddr;

use chrono::{Duration, NaiveDate, Utc};
use entity::{
    api_token, org_unit,
    user::{self, Role},
    village_assignment,
};
use sea_orm::{ColumnTrait, EntityTrait, JoinType, QueryFilter, QuerySelect, Select, SelectTwo};
use uuid::Uuid;

use self::kept::Caller;
use crate::{
    access::{Action, Requirement, Scope, requirement, role_may},
    audit::AuditActor,
    error::{ApiError, ApiResult},
    middleware::RequestId,
    route_table::RouteTable,
    startup::AppState,
};

/// Who made the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A person, logged in.
    User {
        /// The user's id.
        id: Uuid,
    },
    /// A script or dashboard with an API token.
    ApiToken {
        /// The token's id.
        id: Uuid,
    },
}

/// An authenticated caller: who, with what role, reaching where.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Who.
    pub actor: Actor,
    /// The role in force now.
    pub role: Role,
    /// Where the caller's data reaches.
    pub scope: Scope,
}

/// Where a request came from (for the audit trail and throttling).
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// The request id (also in the `X-Request-Id` response header).
    pub request_id: Option<String>,
    /// The peer's IP address.
    pub client_addr: Option<String>,
}

impl RequestMeta {
    /// Reads the request id and the client's address: the peer, or — when the peer is a
    /// trusted reverse proxy — the last address in `X-Forwarded-For` that is not a trusted
    /// proxy (addresses further left could be forged by the client).
    pub fn of(req: &HttpRequest) -> Self {
        let trusted: &[IpAddr] = req
            .app_data::<web::Data<AppState>>()
            .map(|state| state.trusted_proxies.as_slice())
            .unwrap_or_default();
        Self {
            request_id: req.extensions().get::<RequestId>().map(|id| id.0.clone()),
            client_addr: client_address(req, trusted).map(|addr| addr.to_string()),
        }
    }
}

fn client_address(req: &HttpRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|part| part.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|addr| !trusted.contains(addr))
            .unwrap_or(peer),
    )
}

impl FromRequest for RequestMeta {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(Self::of(req)))
    }
}

/// The extractor every protected handler takes: a verified caller and the request's origin.
#[derive(Debug, Clone)]
pub struct AuthUser {
    /// The caller.
    pub principal: Principal,
    /// Where the request came from.
    pub meta: RequestMeta,
}

impl AuthUser {
    /// The caller's scope.
    pub fn scope(&self) -> &Scope {
        &self.principal.scope
    }

    /// The user id, or 403 for an API token (some actions need a person).
    pub fn user_id(&self) -> ApiResult<Uuid> {
        match self.principal.actor {
            Actor::User { id } => Ok(id),
            Actor::ApiToken { .. } => Err(ApiError::Forbidden(
                "This action needs a signed-in person, not an API token.".to_owned(),
            )),
        }
    }

    /// The caller as the audit trail records it.
    pub fn audit_actor(&self) -> AuditActor {
        let (actor_type, actor_id) = match self.principal.actor {
            Actor::User { id } => ("user", id),
            Actor::ApiToken { id } => ("api_token", id),
        };
        AuditActor {
            actor_type,
            actor_id: Some(actor_id),
            role: Some(self.principal.role),
            request_id: self.meta.request_id.clone(),
            client_addr: self.meta.client_addr.clone(),
        }
    }
}

/// The wire name of a role.
pub fn role_name(role: Role) -> String {
    serde_json::to_value(role)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_default()
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    /// The principal was put in the request by [`authorize`]; a handler that takes
    /// `AuthUser` on a route the policy lists as public gets 401.
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let principal = req.extensions().get::<Principal>().cloned();
        std::future::ready(
            principal
                .map(|principal| AuthUser {
                    principal,
                    meta: RequestMeta::of(req),
                })
                .ok_or_else(|| {
                    ApiError::Unauthorized("Send `Authorization: Bearer <token>`.".to_owned())
                }),
        )
    }
}

/// The access policy, applied before any handler or body parsing: finds the operation the
/// request is for, and unless it is public, authenticates the bearer token (401), checks
/// that the role may take the operation's action (403), and leaves the [`Principal`] in the
/// request for [`AuthUser`]. Requests for no documented operation pass on to the fallback.
pub async fn authorize(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody + 'static>>, actix_web::Error> {
    match admit(&req).await {
        Ok(Some(principal)) => {
            req.extensions_mut().insert(principal);
        }
        Ok(None) => {}
        Err(error) => return Ok(req.error_response(error).map_into_right_body()),
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// The policy decision for one request: `Ok(None)` for public operations and paths that
/// are not operations, `Ok(Some(principal))` when admitted, an error when refused.
async fn admit(req: &ServiceRequest) -> ApiResult<Option<Principal>> {
    let table = req.app_data::<web::Data<RouteTable>>();
    // A method the path's own resource lacks is 405 here: the router would otherwise hand
    // `PATCH /campaigns/current` to `PATCH /campaigns/{id}`.
    if let Some(allow) = table.and_then(|table| table.shadowed(req.method().as_str(), req.path())) {
        return Err(ApiError::MethodNotAllowed { allow });
    }
    let needed = table
        .and_then(|table| table.operation(req.method().as_str(), req.path()))
        .map(|operation| {
            requirement(operation).unwrap_or(Requirement::Action(Action::ManageUsers))
        });
    let Some(needed) = needed.filter(|needed| *needed != Requirement::Public) else {
        return Ok(None);
    };
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::Internal("application state missing".into()))?;
    let token = bearer_token(req.headers()).ok_or_else(|| {
        ApiError::Unauthorized("Send `Authorization: Bearer <token>`.".to_owned())
    })?;
    let principal = authenticate(state, &token).await?;
    if let Requirement::Action(action) = needed
        && !role_may(principal.role, action)
    {
        return Err(ApiError::Forbidden(format!(
            "The role `{}` may not do this.",
            role_name(principal.role)
        )));
    }
    Ok(Some(principal))
}

fn bearer_token(headers: &header::HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty())
        .then(|| token.trim().to_owned())
}

fn invalid_token() -> ApiError {
    ApiError::Unauthorized("The token is invalid, expired or revoked.".to_owned())
}

/// Verifies a bearer token and gives the caller's current role and scope: kept from a read
/// less than a second ago, or read now.
async fn authenticate(state: &AppState, token: &str) -> ApiResult<Principal> {
    let now = Utc::now();
    let today = state.clock.today();
    if token.starts_with(token::API_TOKEN_PREFIX) {
        let hash = token::secret_hash(token);
        return state
            .principals
            .get_or_read(Caller::ApiToken(hash.clone()), today, now, || {
                read_api_token(&state.db, &hash, now)
            })
            .await;
    }
    let claims = state.token_keys.verify(token).map_err(|error| {
        tracing::debug!(kind = ?error.kind(), "access token rejected");
        invalid_token()
    })?;
    let user_id = Uuid::parse_str(&claims.sub).map_err(|_| invalid_token())?;
    let principal = state
        .principals
        .get_or_read(Caller::User(user_id), today, now, || async {
            Ok::<_, ApiError>((read_user(&state.db, user_id, today).await?, None))
        })
        .await?;
    // A token minted for another role (the account's role changed since) is refused.
    if principal.role != claims.role {
        return Err(invalid_token());
    }
    Ok(principal)
}

/// Reads an active user's principal as it stands on `today`.
async fn read_user(
    db: &sea_orm::DatabaseConnection,
    user_id: Uuid,
    today: NaiveDate,
) -> ApiResult<Principal> {
    // The user, their scope's unit and their village assignments (past ones too: a cadre has
    // a few), in one statement: one row per assignment.
    let mut rows = user::Entity::find_by_id(user_id)
        .with_scope_unit(user::Column::ScopeOrgUnitId)
        .find_also(user::Entity, village_assignment::Entity)
        .all(db)
        .await?
        .into_iter();
    let (user, unit, first) = rows
        .next()
        .filter(|(user, _, _)| user.active)
        .ok_or_else(invalid_token)?;
    let assignments = first
        .into_iter()
        .chain(rows.filter_map(|(_, _, assignment)| assignment));
    Ok(Principal {
        actor: Actor::User { id: user.id },
        role: user.role,
        scope: user_scope(&user, unit, assignments, today),
    })
}

/// Reads a live API token's principal, and its expiry; records its use at most once a minute.
async fn read_api_token(
    db: &sea_orm::DatabaseConnection,
    hash: &str,
    now: chrono::DateTime<Utc>,
) -> ApiResult<(Principal, Option<chrono::DateTime<Utc>>)> {
    let (row, unit) = api_token::Entity::find()
        .filter(api_token::Column::TokenHash.eq(hash))
        .with_scope_unit(api_token::Column::ScopeOrgUnitId)
        .one(db)
        .await?
        .filter(|(row, _)| {
            row.revoked_at.is_none() && row.expires_at.is_none_or(|expires| expires > now)
        })
        .ok_or_else(invalid_token)?;
    // Recording every use would turn each read into a write; once a minute is enough.
    if row
        .last_used_at
        .is_none_or(|used| now - used > Duration::minutes(1))
    {
        api_token::Entity::update_many()
            .col_expr(
                api_token::Column::LastUsedAt,
                sea_orm::sea_query::Expr::value(now),
            )
            .filter(api_token::Column::Id.eq(row.id))
            .exec(db)
            .await?;
    }
    let principal = Principal {
        actor: Actor::ApiToken { id: row.id },
        role: row.role,
        scope: subtree_scope(row.scope_org_unit_id, unit),
    };
    Ok((principal, row.expires_at))
}

/// The scope of a user as it stands on `today` (the local date); `unit` is the org unit
/// their `scope_org_unit_id` names, read with the user (`None` if it names none that exists),
/// and `assignments` their village assignments, read with the user too.
fn user_scope(
    user: &user::Model,
    unit: Option<org_unit::Model>,
    assignments: impl Iterator<Item = village_assignment::Model>,
    today: NaiveDate,
) -> Scope {
    match user.role {
        Role::Admin | Role::Leader | Role::Viewer => subtree_scope(user.scope_org_unit_id, unit),
        Role::VillageOfficial => Scope::Villages(user.scope_org_unit_id.into_iter().collect()),
        // The villages a cadre is assigned to on `today`.
        Role::Cadre => Scope::Villages(
            assignments
                .filter(|assignment| {
                    assignment.starts_on <= today
                        && assignment.ends_on.is_none_or(|ends_on| ends_on >= today)
                })
                .map(|assignment| assignment.village_id)
                .collect(),
        ),
        Role::Department => match user.department_id {
            Some(department) => Scope::Department(department),
            None => Scope::Villages(Vec::new()),
        },
    }
}

/// A query of users or API tokens that also reads the org unit their scope column names
/// (`None` when it names none that exists), in the same statement.
trait WithScopeUnit<E: EntityTrait> {
    fn with_scope_unit(self, scope: E::Column) -> SelectTwo<E, org_unit::Entity>;
}

impl<E: EntityTrait> WithScopeUnit<E> for Select<E> {
    fn with_scope_unit(self, scope: E::Column) -> SelectTwo<E, org_unit::Entity> {
        self.join(
            JoinType::LeftJoin,
            E::belongs_to(org_unit::Entity)
                .from(scope)
                .to(org_unit::Column::Id)
                .into(),
        )
        .select_also(org_unit::Entity)
    }
}

/// `All` when no unit is named (`unit_id`); else the subtree of the unit read for it. A unit
/// that vanished reaches nothing.
fn subtree_scope(unit_id: Option<Uuid>, unit: Option<org_unit::Model>) -> Scope {
    match (unit_id, unit) {
        (None, _) => Scope::All,
        (Some(_), Some(unit)) => Scope::Subtree {
            kind: unit.kind,
            id: unit.id,
        },
        (Some(_), None) => Scope::Villages(Vec::new()),
    }
}

/// The `scope` claim of a user's access token.
pub fn scope_claim(user: &user::Model) -> String {
    match (user.role, user.scope_org_unit_id, user.department_id) {
        (Role::Department, _, Some(department)) => format!("department:{department}"),
        (_, Some(unit), _) => unit.to_string(),
        _ => "*".to_owned(),
    }
}
