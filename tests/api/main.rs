//! The integration tests: one binary, a module per resource. Every test gets its own
//! database and its own server (see `helpers::spawn_app`).

// Helpers fail loudly: a test harness that cannot start should stop the test.
#![expect(
    clippy::expect_used,
    reason = "test helpers panic with a message on setup failure"
)]

mod access;
mod api_tokens;
mod assessment;
mod audit;
mod auth;
mod board;
mod calendar;
mod campaigns;
mod cli;
mod concurrency;
mod crash;
mod dashboard;
mod docs;
mod duties;
mod enterprises;
mod errors;
mod export;
mod faults;
mod fuzz;
mod hardening;
mod health;
mod helpers;
mod households;
mod import;
mod ledger;
mod limits;
mod monthly;
mod openapi;
mod pairings;
mod pg_restart;
mod sync;
mod users;
