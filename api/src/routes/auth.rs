//! `/api/v1/auth`: sign in, refresh, sign out.

use actix_web::{HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;
use validator::Validate;

use crate::{
    auth::{RequestMeta, session, token},
    error::{ApiResult, Problem},
    routes::me::{MeResponse, load_me},
    startup::AppState,
};

/// Registers the session routes.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(login).service(refresh_session).service(logout);
}

/// Credentials.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Login name.
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    #[schema(example = "cadre1")]
    pub username: String,
    /// Password.
    #[validate(length(min = 1, max = 128))]
    #[schema(min_length = 1, max_length = 128)]
    #[schema(example = "demo-password")]
    pub password: String,
}

/// A refresh token, to rotate or revoke.
#[derive(Debug, Deserialize, ToSchema, Validate)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the last login or refresh.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub refresh_token: String,
}

/// A session: a short-lived access token and a refresh token to renew it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the access token expires (900).
    #[schema(example = 900)]
    pub expires_in: i64,
    /// Exchange at `/api/v1/auth/refresh` for a new pair; each is good for one use.
    pub refresh_token: String,
    /// Seconds until the refresh token expires.
    pub refresh_expires_in: i64,
    /// The signed-in user.
    pub user: MeResponse,
}

async fn token_response(state: &AppState, session: session::Session) -> ApiResult<TokenResponse> {
    Ok(TokenResponse {
        access_token: session.access_token,
        token_type: "Bearer",
        expires_in: token::ACCESS_TOKEN_SECONDS,
        refresh_token: session.refresh_token,
        refresh_expires_in: token::REFRESH_TOKEN_DAYS * 24 * 3600,
        user: load_me(&state.db, session.user).await?,
    })
}

/// Signs in. Unknown usernames and wrong passwords get the same 401. After 5 failures for an
/// account (or 50 from one address) in 15 minutes, attempts get 429 with `Retry-After`.
#[utoipa::path(
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in.", body = TokenResponse),
        (status = 401, description = "Unknown username or wrong password.", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failures; wait `Retry-After` seconds.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/auth/login")]
async fn login(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: web::Json<LoginRequest>,
) -> ApiResult<web::Json<TokenResponse>> {
    body.validate()?;
    let session = session::login(
        &state.db,
        &state.token_keys,
        &body.username,
        &body.password,
        &meta,
    )
    .await?;
    Ok(web::Json(token_response(&state, session).await?))
}

/// Rotates a refresh token: the old one is spent, a new pair comes back. Presenting a spent
/// token again revokes every token of that sign-in (a sign that it was stolen).
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new pair.", body = TokenResponse),
        (status = 401, description = "The refresh token is invalid, spent, expired or revoked.", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/auth/refresh")]
async fn refresh_session(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: web::Json<RefreshRequest>,
) -> ApiResult<web::Json<TokenResponse>> {
    body.validate()?;
    let session =
        session::refresh(&state.db, &state.token_keys, &body.refresh_token, &meta).await?;
    Ok(web::Json(token_response(&state, session).await?))
}

/// Signs out: revokes the refresh token and every token of its sign-in. Always 204, whether
/// or not the token existed (RFC 7009). Access tokens already issued lapse within 15 minutes.
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses((status = 204, description = "Signed out.")),
)]
#[post("/auth/logout")]
async fn logout(
    state: web::Data<AppState>,
    meta: RequestMeta,
    body: web::Json<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    body.validate()?;
    session::logout(&state.db, &body.refresh_token, &meta).await?;
    Ok(HttpResponse::NoContent().finish())
}
