//! HTTP routes. Each resource module has `configure`; this module mounts them once, and the
//! same registration feeds both the server and the OpenAPI document.

use utoipa_actix_web::{scope, service_config::ServiceConfig};

pub mod api_tokens;
pub mod assessment;
pub mod audit;
pub mod auth;
pub mod board;
pub mod calendar;
pub mod campaigns;
pub mod dashboard;
pub mod duties;
pub mod enterprises;
pub mod fallback;
pub mod health;
pub mod households;
pub mod issues;
pub mod ledger_export;
pub mod ledger_months;
pub mod me;
pub mod org;
pub mod pairings;
pub mod surveys;
pub mod sync;
pub mod users;
pub mod visits;

/// Registers every documented route.
pub fn configure(cfg: &mut ServiceConfig) {
    health::configure(cfg);
    cfg.service(
        scope::scope("/public")
            .configure(board::configure)
            .configure(duties::configure_public)
            .configure(surveys::configure_public),
    );
    cfg.service(
        scope::scope("/api/v1")
            .configure(auth::configure)
            .configure(me::configure)
            .configure(org::configure)
            .configure(users::configure)
            .configure(households::configure)
            .configure(enterprises::configure)
            .configure(pairings::configure)
            .configure(visits::configure)
            .configure(issues::configure)
            .configure(calendar::configure)
            .configure(duties::configure)
            .configure(ledger_export::configure)
            .configure(dashboard::configure)
            .configure(ledger_months::configure)
            .configure(surveys::configure)
            .configure(assessment::configure)
            .configure(campaigns::configure)
            .configure(sync::configure)
            .configure(api_tokens::configure)
            .configure(audit::configure),
    );
}
