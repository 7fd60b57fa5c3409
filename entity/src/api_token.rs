//! An API token for scripts and third-party dashboards, stored as a SHA-256 hash.

use sea_orm::entity::prelude::*;

use crate::user::Role;

/// A row of `api_tokens`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_tokens")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// What the token is for.
    pub name: String,
    /// `admin` or `viewer`.
    pub role: Role,
    /// The org unit the token's scope reaches (none: the whole deployment).
    pub scope_org_unit_id: Option<Uuid>,
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// The admin who created it.
    pub created_by: Uuid,
    /// Created.
    pub created_at: DateTimeUtc,
    /// Optional expiry.
    pub expires_at: Option<DateTimeUtc>,
    /// Set when revoked.
    pub revoked_at: Option<DateTimeUtc>,
    /// Last time it authenticated a request (updated at most once a minute).
    pub last_used_at: Option<DateTimeUtc>,
}

/// Relations of `api_tokens`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
