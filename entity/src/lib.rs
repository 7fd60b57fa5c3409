//! SeaORM entities of Minqing: data definitions only — no HTTP types, no business rules.
//! The schema they describe is created by the `migration` crate.

pub mod department;
pub mod org_unit;
