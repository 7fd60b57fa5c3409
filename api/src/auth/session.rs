//! Sessions: sign-in, refresh-token rotation with reuse detection, sign-out.
//!
//! The refresh tokens of one sign-in form a family. Each refresh spends the presented token
//! and issues its child. Presenting a spent token again means it was copied: the whole
//! family is revoked — except within [`RETRY_GRACE_SECONDS`] of the spend while its child
//! is still unused, which is a phone retrying after losing the answer on a poor connection;
//! then the unused child is revoked and a new one issued.

use chrono::{DateTime, Duration, Utc};
use entity::{refresh_token, user};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, sea_query::Expr,
};
use uuid::Uuid;

use super::{RequestMeta, password, scope_claim, throttle, token};
use crate::{
    audit::{self, AuditActor, AuditEntry},
    db::begin_write,
    error::{ApiError, ApiResult},
};

/// How long after a refresh the same token may be presented again by a retrying phone.
pub const RETRY_GRACE_SECONDS: i64 = 60;

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

/// The refresh token with this hash, unless none was issued or it is revoked: read before
/// any write turn is taken.
async fn unrevoked_token(
    db: &DatabaseConnection,
    hash: &str,
) -> ApiResult<Option<refresh_token::Model>> {
    Ok(refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash))
        .one(db)
        .await?
        .filter(|row| row.revoked_at.is_none()))
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
    throttle::refuse_if_spent(db, &username, meta.client_addr.as_deref(), now).await?;
    // The attempt is counted and committed before the (slow) password check, so that
    // parallel guesses all see each other.
    let reservation = begin_write(db).await?;
    throttle::reserve_attempt(&reservation, &username, meta.client_addr.as_deref(), now).await?;
    crate::db::commit(reservation).await?;

    let user = user::Entity::find()
        .filter(user::Column::Username.eq(username.clone()))
        .one(db)
        .await?
        .filter(|user| user.active);
    let stored_hash = user.as_ref().map_or_else(
        || password::DUMMY_HASH.clone(),
        |user| user.password_hash.clone(),
    );
    let matches = password::verify_async(password_given.to_owned(), stored_hash).await?;
    let Some(user) = user.filter(|_| matches) else {
        let txn = begin_write(db).await?;
        throttle::record_failure(&txn, now).await?;
        crate::db::commit(txn).await?;
        tracing::info!(client_addr = meta.client_addr.as_deref(), "sign-in failed");
        return Err(rejected());
    };
    let txn = begin_write(db).await?;
    // The password was checked against the account as read before; a reset or deactivation
    // committed since ends this sign-in here (and one still running waits for it, then
    // revokes what it makes).
    let current = lock_account(&txn, user.id).await?;
    if !current.is_some_and(|current| current.active && current.password_hash == user.password_hash)
    {
        return Err(rejected());
    }
    throttle::record_success(&txn, &username, meta.client_addr.as_deref()).await?;
    let refresh = insert_refresh_token(&txn, user.id, Uuid::now_v7(), None, now).await?;
    audit::record(
        &txn,
        &AuditActor::user(user.id, user.role, meta),
        AuditEntry::new("session.create", "user", user.id),
    )
    .await?;
    crate::db::commit(txn).await?;
    session(keys, user, refresh, now)
}

/// Exchanges a refresh token for a new pair (see the module documentation for reuse).
pub async fn refresh(
    db: &DatabaseConnection,
    keys: &token::TokenKeys,
    presented: &str,
    meta: &RequestMeta,
) -> ApiResult<Session> {
    let now = Utc::now();
    let hash = token::secret_hash(presented);
    // A token never issued, revoked or expired is refused reading only: a flood of them must
    // not queue for SQLite's one writer ahead of the field's pushes. (One spent by a rotation
    // goes on: presenting it again may be a theft to answer by revoking its sign-in.)
    if unrevoked_token(db, &hash)
        .await?
        .is_none_or(|row| row.expires_at <= now)
    {
        return Err(refresh_rejected());
    }
    let txn = begin_write(db).await?;
    let found = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(hash))
        .one(&txn)
        .await?
        .ok_or_else(refresh_rejected)?;
    // The account first, then the sign-in, in the order a password reset takes them: a reset
    // is wholly before this refresh (its revocation is seen below) or wholly after it (and
    // revokes the token made here).
    let user = lock_account(&txn, found.user_id).await?;
    lock_family(&txn, found.family_id).await?;
    // Read again under the lock: a concurrent refresh or sign-out may have changed it.
    let row = refresh_token::Entity::find_by_id(found.id)
        .one(&txn)
        .await?
        .ok_or_else(refresh_rejected)?;
    if row.revoked_at.is_some() || row.expires_at <= now {
        return Err(refresh_rejected());
    }
    let Some(user) = user.filter(|user| user.active) else {
        revoke_family(&txn, row.family_id, now).await?;
        crate::db::commit(txn).await?;
        return Err(refresh_rejected());
    };
    if let Some(spent_at) = row.rotated_at {
        let child = refresh_token::Entity::find()
            .filter(refresh_token::Column::ParentId.eq(row.id))
            .order_by_desc(refresh_token::Column::IssuedAt)
            .one(&txn)
            .await?;
        let retry = now - spent_at <= Duration::seconds(RETRY_GRACE_SECONDS)
            && child
                .as_ref()
                .is_some_and(|child| child.rotated_at.is_none() && child.revoked_at.is_none());
        match child.filter(|_| retry) {
            Some(unused_child) => {
                revoke_token(&txn, unused_child.id, now).await?;
            }
            None => {
                revoke_family(&txn, row.family_id, now).await?;
                tracing::warn!(family = %row.family_id, "refresh token reused: sign-in revoked");
                audit::record(
                    &txn,
                    &AuditActor::user(user.id, user.role, meta),
                    AuditEntry::new("session.reuse_detected", "user", user.id),
                )
                .await?;
                crate::db::commit(txn).await?;
                return Err(refresh_rejected());
            }
        }
    } else {
        refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::RotatedAt, Expr::value(now))
            .filter(refresh_token::Column::Id.eq(row.id))
            .exec(&txn)
            .await?;
    }
    let refresh = insert_refresh_token(&txn, user.id, row.family_id, Some(row.id), now).await?;
    audit::record(
        &txn,
        &AuditActor::user(user.id, user.role, meta),
        AuditEntry::new("session.refresh", "user", user.id),
    )
    .await?;
    crate::db::commit(txn).await?;
    session(keys, user, refresh, now)
}

/// Revokes the sign-in the refresh token belongs to. Unknown tokens are ignored (RFC 7009):
/// the answer does not tell whether a token existed.
pub async fn logout(db: &DatabaseConnection, presented: &str, meta: &RequestMeta) -> ApiResult<()> {
    let now = Utc::now();
    if unrevoked_token(db, &token::secret_hash(presented))
        .await?
        .is_none()
    {
        return Ok(());
    }
    let txn = begin_write(db).await?;
    let row = refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(token::secret_hash(presented)))
        .one(&txn)
        .await?;
    if let Some(row) = row.filter(|row| row.revoked_at.is_none()) {
        lock_family(&txn, row.family_id).await?;
        revoke_family(&txn, row.family_id, now).await?;
        let role = user::Entity::find_by_id(row.user_id)
            .one(&txn)
            .await?
            .map(|user| user.role);
        audit::record(
            &txn,
            &AuditActor::user(row.user_id, role, meta),
            AuditEntry::new("session.revoke", "user", row.user_id),
        )
        .await?;
    }
    crate::db::commit(txn).await?;
    Ok(())
}

/// Revokes every live refresh token of a user (password changed, account deactivated).
/// Returns how many sign-ins' tokens were revoked.
pub async fn revoke_all_for_user(db: &impl ConnectionTrait, user_id: Uuid) -> Result<u64, DbErr> {
    Ok(refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(Utc::now()))
        .filter(refresh_token::Column::UserId.eq(user_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?
        .rows_affected)
}

/// Reads an account, locked against a change until the transaction ends (PostgreSQL
/// `FOR SHARE`; SQLite's write transactions are serial already). A password reset or
/// deactivation locks it `FOR UPDATE` (`accounts::lock_user`) before revoking the account's
/// tokens, so a sign-in or refresh is wholly before it or wholly after it.
async fn lock_account(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find_by_id(id).lock_shared().one(db).await
}

/// Serialises the changes to one sign-in's tokens. On PostgreSQL it locks the family's
/// first token (`FOR UPDATE`); on SQLite the `IMMEDIATE` transaction already serialises.
async fn lock_family(db: &impl ConnectionTrait, family_id: Uuid) -> Result<(), DbErr> {
    refresh_token::Entity::find()
        .filter(refresh_token::Column::FamilyId.eq(family_id))
        .order_by_asc(refresh_token::Column::Id)
        .limit(1)
        .lock_exclusive()
        .one(db)
        .await?;
    Ok(())
}

async fn revoke_token(
    db: &impl ConnectionTrait,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
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
    parent_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> ApiResult<String> {
    let secret = token::new_secret(token::REFRESH_PREFIX)
        .map_err(|error| ApiError::Internal(Box::new(error)))?;
    refresh_token::Entity::insert(refresh_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        family_id: Set(family_id),
        parent_id: Set(parent_id),
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
