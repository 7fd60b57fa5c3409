//! Sessions: login, refresh-token rotation with reuse detection, logout.

use chrono::{DateTime, Duration, Utc};
use entity::{refresh_token, user};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, sea_query::Expr,
};
use uuid::Uuid;

use super::{RequestMeta, password, scope_claim, throttle, token};
use crate::{
    audit::{self, AuditActor, AuditEntry},
    db::begin_write,
    error::{ApiError, ApiResult},
};

/// A signed-in session, as handed to the client.
#[derive(Debug)]
pub struct Session {
    /// The access JWT.
    pub access_token: String,
    /// The opaque refresh token (shown only now).
    pub refresh_token: String,
    /// The user.
    pub user: user::Model,
}

fn rejected() -> ApiError {
    ApiError::Unauthorized("Unknown username or wrong password.".to_owned())
}

fn refresh_rejected() -> ApiError {
    ApiError::Unauthorized(
        "The refresh token is invalid, expired or revoked; sign in again.".to_owned(),
    )
}

/// Checks the password and opens a session. Unknown users and wrong passwords get the same
/// answer after the same work (a dummy hash is verified for unknown users).
pub async fn login(
    db: &DatabaseConnection,
    keys: &token::TokenKeys,
    username: &str,
    password_given: &str,
    meta: &RequestMeta,
) -> ApiResult<Session> {
    let now = Utc::now();
    let username = username.trim().to_lowercase();
    let throttle_keys = throttle::keys(&username, meta.client_addr.as_deref());
    throttle::check(db, &throttle_keys, now).await?;
    let user = user::Entity::find()
        .filter(user::Column::Username.eq(username.clone()))
        .one(db)
        .await?
        .filter(|user| user.active);
    let stored_hash = user.as_ref().map_or_else(
        || password::DUMMY_HASH.clone(),
        |user| user.password_hash.clone(),
    );
    let password_given = password_given.to_owned();
    let matches = actix_web::web::block(move || password::verify(&password_given, &stored_hash))
        .await
        .map_err(|error| ApiError::Internal(Box::new(error)))?;
    let Some(user) = user.filter(|_| matches) else {
        throttle::record_failure(db, &throttle_keys, now).await?;
        tracing::info!(client_addr = meta.client_addr.as_deref(), "login failed");
        return Err(rejected());
    };
    let txn = begin_write(db).await?;
    throttle::reset_account(&txn, &username).await?;
    let refresh = insert_refresh_token(&txn, user.id, Uuid::now_v7(), now).await?;
    audit::record(
        &txn,
        &AuditActor::user(user.id, user.role, meta),
        AuditEntry::new("session.create", "user", user.id),
    )
    .await?;
    txn.commit().await?;
    session(keys, user, refresh, now)
}

/// Exchanges a refresh token for a new pair. A token that was already exchanged is a sign
/// of theft: the whole family (every token descended from that login) is revoked.
pub async fn refresh(
    db: &DatabaseConnection,
    keys: &token::TokenKeys,
    presented: &str,
    meta: &RequestMeta,
) -> ApiResult<Session> {
    let now = Utc::now();
    let txn = begin_write(db).await?;
    let row = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(token::secret_hash(presented)))
        .one(&txn)
        .await?
        .ok_or_else(refresh_rejected)?;
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Err(refresh_rejected());
    }
    // Claim the token atomically: of two concurrent uses, only one sees `rotated_at` empty.
    let claimed = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RotatedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(row.id))
        .filter(refresh_token::Column::RotatedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected
        == 1;
    let user = user::Entity::find_by_id(row.user_id)
        .one(&txn)
        .await?
        .filter(|user| user.active);
    let Some(user) = user.filter(|_| claimed) else {
        revoke_family(&txn, row.family_id, now).await?;
        if !claimed {
            tracing::warn!(family = %row.family_id, "refresh token reused: family revoked");
            audit::record(
                &txn,
                &AuditActor::user(row.user_id, user_role(&txn, row.user_id).await?, meta),
                AuditEntry::new("session.reuse_detected", "user", row.user_id),
            )
            .await?;
        }
        txn.commit().await?;
        return Err(refresh_rejected());
    };
    let refresh = insert_refresh_token(&txn, user.id, row.family_id, now).await?;
    audit::record(
        &txn,
        &AuditActor::user(user.id, user.role, meta),
        AuditEntry::new("session.refresh", "user", user.id),
    )
    .await?;
    txn.commit().await?;
    session(keys, user, refresh, now)
}

/// Revokes the session the refresh token belongs to. Unknown tokens are ignored (RFC 7009):
/// the answer does not tell whether a token existed.
pub async fn logout(db: &DatabaseConnection, presented: &str, meta: &RequestMeta) -> ApiResult<()> {
    let now = Utc::now();
    let txn = begin_write(db).await?;
    let row = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(token::secret_hash(presented)))
        .one(&txn)
        .await?;
    if let Some(row) = row.filter(|row| row.revoked_at.is_none()) {
        revoke_family(&txn, row.family_id, now).await?;
        let actor = AuditActor::user(row.user_id, user_role(&txn, row.user_id).await?, meta);
        audit::record(
            &txn,
            &actor,
            AuditEntry::new("session.revoke", "user", row.user_id),
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

async fn user_role(db: &impl ConnectionTrait, user_id: Uuid) -> Result<Option<user::Role>, DbErr> {
    Ok(user::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .map(|user| user.role))
}

async fn revoke_family(
    db: &impl ConnectionTrait,
    family_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::FamilyId.eq(family_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

async fn insert_refresh_token(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    family_id: Uuid,
    now: DateTime<Utc>,
) -> ApiResult<String> {
    let secret = token::new_secret(token::REFRESH_PREFIX)
        .map_err(|error| ApiError::Internal(Box::new(error)))?;
    refresh_token::Entity::insert(refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        family_id: Set(family_id),
        user_id: Set(user_id),
        token_hash: Set(token::secret_hash(&secret)),
        issued_at: Set(now),
        expires_at: Set(now + Duration::days(token::REFRESH_TOKEN_DAYS)),
        rotated_at: Set(None),
        revoked_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(secret)
}

fn session(
    keys: &token::TokenKeys,
    user: user::Model,
    refresh_token: String,
    now: DateTime<Utc>,
) -> ApiResult<Session> {
    let access_token = keys
        .issue(user.id, user.role, scope_claim(&user), now)
        .map_err(|error| ApiError::Internal(Box::new(error)))?;
    Ok(Session {
        access_token,
        refresh_token,
        user,
    })
}
