//! A refresh token, stored as a SHA-256 hash. Tokens of one login form a family; a rotated
//! token used again revokes the whole family.

use sea_orm::entity::prelude::*;

/// A row of `refresh_tokens`.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    /// Primary key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The login this token descends from.
    pub family_id: Uuid,
    /// The token this one replaced (none for the first of a sign-in).
    pub parent_id: Option<Uuid>,
    /// Whose token.
    pub user_id: Uuid,
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// Issued.
    pub issued_at: DateTimeUtc,
    /// Expires.
    pub expires_at: DateTimeUtc,
    /// Set when the token was exchanged for a new one.
    pub rotated_at: Option<DateTimeUtc>,
    /// Set when the token (family) was revoked.
    pub revoked_at: Option<DateTimeUtc>,
}

/// Relations of `refresh_tokens`.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
