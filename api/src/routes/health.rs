//! Liveness (`/healthz`) and readiness (`/readyz`) probes.

use actix_web::{get, web};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::{
    db,
    error::{ApiError, ApiResult},
    startup::AppState,
};

/// Registers the probes.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(check_health).service(check_readiness);
}

/// The process is up.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthResponse {
    /// Always `ok`.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// The server's version.
    #[schema(example = "0.1.0")]
    pub version: &'static str,
}

/// The server can serve requests.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReadinessResponse {
    /// Always `ready`.
    #[schema(example = "ready")]
    pub status: &'static str,
    /// The database engine in use: `sqlite` or `postgres`.
    #[schema(example = "sqlite")]
    pub database: &'static str,
}

/// Liveness: answers 200 while the process runs, without touching the database.
#[utoipa::path(
    tag = "health",
    responses((status = 200, description = "The process is up.", body = HealthResponse)),
)]
#[get("/healthz")]
async fn check_health() -> web::Json<HealthResponse> {
    web::Json(HealthResponse {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// Readiness: 200 when the database answers and every migration is applied, else 503.
#[utoipa::path(
    tag = "health",
    responses((status = 200, description = "Database reachable and migrated.", body = ReadinessResponse)),
)]
#[get("/readyz")]
async fn check_readiness(state: web::Data<AppState>) -> ApiResult<web::Json<ReadinessResponse>> {
    match db::is_ready(&state.db).await {
        Ok(true) => Ok(web::Json(ReadinessResponse {
            status: "ready",
            database: state.engine_name(),
        })),
        Ok(false) => Err(ApiError::Unavailable(
            "The database has migrations that are not applied yet.".to_owned(),
        )),
        Err(error) => {
            tracing::warn!(error = %crate::error::cause_chain(&error), "readiness check failed");
            Err(ApiError::Unavailable(
                "The database is not reachable.".to_owned(),
            ))
        }
    }
}
