//! Minqing's API as a library: configuration, start-up, errors, routes and domain rules.
//! The `minqing` binary only parses the command line and calls [`cli::run`].

pub mod access;
pub mod accounts;
pub mod assessment;
pub mod audit;
pub mod auth;
pub mod body_deadline;
pub mod calendar;
pub mod campaigns;
pub mod cli;
pub mod clock;
pub mod concurrency;
pub mod config;
pub mod dashboard;
pub mod db;
pub mod duties;
pub mod enterprises;
pub mod error;
#[cfg(test)]
mod fuzz;
pub mod households;
pub mod idempotency;
pub mod import;
pub mod ledger;
pub mod middleware;
pub mod openapi;
pub mod org;
pub mod pagination;
pub mod pairings;
pub mod privacy;
pub mod route_table;
pub mod routes;
pub mod seed;
pub mod startup;
pub mod sync;
pub mod telemetry;
pub mod validation;
pub mod visits;

pub use startup::Application;
