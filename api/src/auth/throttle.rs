//! Sign-in throttling, per account and per client address, kept in the database so that
//! several API processes agree.
//!
//! - The account key counts *attempts*, reserved atomically before the password is checked,
//!   so parallel guesses cannot slip past the limit; a successful sign-in clears it.
//! - The address key counts *failures*: it stops one address trying many accounts, while a
//!   township behind one proxy (many users, one address) is not locked out by its own
//!   successful sign-ins. Each attempt is counted against it when reserved, like the
//!   account's, so parallel guesses from one address see each other; a successful sign-in
//!   takes its count back.

use chrono::{DateTime, Duration, Utc};
use entity::login_throttle;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, OnConflict},
};

use crate::error::ApiError;

/// Attempts allowed per account in a window; the next is refused until the window ends.
pub const ACCOUNT_LIMIT: i32 = 5;
/// Failures allowed per client address in a window.
pub const ADDRESS_LIMIT: i32 = 100;
/// The window.
pub const WINDOW_MINUTES: i64 = 15;

fn account_key(username: &str) -> String {
    format!("account:{}", username.to_lowercase())
}

fn address_key(address: &str) -> String {
    format!("address:{address}")
}

fn retry_after(window_started_at: DateTime<Utc>, now: DateTime<Utc>) -> ApiError {
    let seconds = (window_started_at + Duration::minutes(WINDOW_MINUTES) - now).num_seconds();
    ApiError::TooManyRequests {
        retry_after: Ord::max(u64::try_from(seconds).unwrap_or(1), 1),
    }
}

/// Adds one to a key's count (starting a new window when the old one is over) and returns
/// the row as it now stands. Run inside the sign-in's write transaction.
async fn bump(
    db: &impl ConnectionTrait,
    key: String,
    now: DateTime<Utc>,
) -> Result<login_throttle::Model, DbErr> {
    let stale = Expr::col((
        login_throttle::Entity,
        login_throttle::Column::WindowStartedAt,
    ))
    .lt(now - Duration::minutes(WINDOW_MINUTES));
    login_throttle::Entity::insert(login_throttle::ActiveModel {
        key: Set(key.clone()),
        attempts: Set(1),
        window_started_at: Set(now),
    })
    .on_conflict(
        OnConflict::column(login_throttle::Column::Key)
            .value(
                login_throttle::Column::Attempts,
                Expr::case(stale.clone(), 1).finally(
                    Expr::col((login_throttle::Entity, login_throttle::Column::Attempts)).add(1),
                ),
            )
            .value(
                login_throttle::Column::WindowStartedAt,
                Expr::case(stale, now).finally(Expr::col((
                    login_throttle::Entity,
                    login_throttle::Column::WindowStartedAt,
                ))),
            )
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    login_throttle::Entity::find_by_id(key)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("login throttle row".to_owned()))
}

/// Refuses with 429, reading only, a sign-in whose account has used its attempts or whose
/// address its failures in the current window: what [`reserve_attempt`] would refuse, without
/// a write — so that a flood of spent attempts never queues for SQLite's one writer ahead of
/// the field's pushes.
pub async fn refuse_if_spent(
    db: &impl ConnectionTrait,
    username: &str,
    client_addr: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let mut keys = vec![(account_key(username), ACCOUNT_LIMIT)];
    if let Some(address) = client_addr {
        keys.push((address_key(address), ADDRESS_LIMIT));
    }
    for (key, limit) in keys {
        if let Some(row) = login_throttle::Entity::find_by_id(key).one(db).await?
            && row.window_started_at >= now - Duration::minutes(WINDOW_MINUTES)
            && row.attempts >= limit
        {
            return Err(retry_after(row.window_started_at, now));
        }
    }
    Ok(())
}

/// Reserves one sign-in attempt for the account, or refuses with 429 when the account has
/// used its attempts or the address its failures. Commit the transaction before checking
/// the password, so that concurrent attempts see each other.
pub async fn reserve_attempt(
    db: &impl ConnectionTrait,
    username: &str,
    client_addr: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    if let Some(address) = client_addr {
        let row = bump(db, address_key(address), now).await?;
        if row.attempts > ADDRESS_LIMIT {
            return Err(retry_after(row.window_started_at, now));
        }
    }
    let account = bump(db, account_key(username), now).await?;
    if account.attempts > ACCOUNT_LIMIT {
        return Err(retry_after(account.window_started_at, now));
    }
    Ok(())
}

/// After a failed sign-in (its attempt stays counted against the address): forgets windows
/// that are over, so the table does not grow with every mistyped name.
pub async fn record_failure(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<(), DbErr> {
    login_throttle::Entity::delete_many()
        .filter(login_throttle::Column::WindowStartedAt.lt(now - Duration::minutes(WINDOW_MINUTES)))
        .exec(db)
        .await?;
    Ok(())
}

/// After a successful sign-in: forgets the account's attempts, and takes back the one this
/// sign-in reserved against the address.
pub async fn record_success(
    db: &impl ConnectionTrait,
    username: &str,
    client_addr: Option<&str>,
) -> Result<(), DbErr> {
    login_throttle::Entity::delete_many()
        .filter(login_throttle::Column::Key.eq(account_key(username)))
        .exec(db)
        .await?;
    if let Some(address) = client_addr {
        login_throttle::Entity::update_many()
            .col_expr(
                login_throttle::Column::Attempts,
                Expr::col(login_throttle::Column::Attempts).sub(1),
            )
            .filter(login_throttle::Column::Key.eq(address_key(address)))
            .filter(login_throttle::Column::Attempts.gt(0))
            .exec(db)
            .await?;
    }
    Ok(())
}
