//! SeaORM entities of Minqing: data definitions only — no HTTP types, no business rules.
//! The schema they describe is created by the `migration` crate. Closed sets of values
//! (roles, positions, org kinds) are enums here and derive `ToSchema` so that the wire and
//! the database share one list.

pub mod api_token;
pub mod audit_chain_head;
pub mod audit_checkpoint;
pub mod audit_log;
pub mod calendar_day;
pub mod calendar_year;
pub mod campaign;
pub mod department;
pub mod duty;
pub mod enterprise;
pub mod escalation;
pub mod household;
pub mod idempotency_key;
pub mod issue;
pub mod issue_event;
pub mod ledger_month;
pub mod login_throttle;
pub mod org_unit;
pub mod pairing;
pub mod refresh_token;
pub mod survey;
pub mod sync_device_scope;
pub mod sync_tombstone;
pub mod user;
pub mod village_assignment;
pub mod visit;
