//! HTTP routes. Each resource module has `configure`; this module mounts them once, and the
//! same registration feeds both the server and the OpenAPI document.

use utoipa_actix_web::service_config::ServiceConfig;

pub mod fallback;
pub mod health;

/// Registers every documented route.
pub fn configure(cfg: &mut ServiceConfig) {
    health::configure(cfg);
}
