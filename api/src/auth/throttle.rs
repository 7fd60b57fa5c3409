//! Failed-login throttling, per account and per client address. The account key stops
//! guessing one password from many addresses; the address key stops one address trying many
//! accounts. Keys live in the database, so several API processes share them. An address
//! limit alone would lock out a whole township behind one proxy, hence both.

use chrono::{DateTime, Duration, Utc};
use entity::login_throttle;
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, OnConflict},
};

use crate::error::ApiError;

/// Failures allowed per account in a window; the next attempt is refused.
pub const ACCOUNT_LIMIT: i32 = 5;
/// Failures allowed per client address in a window.
pub const ADDRESS_LIMIT: i32 = 50;
/// The window.
pub const WINDOW_MINUTES: i64 = 15;

/// The throttle keys of a login attempt.
pub fn keys(username: &str, client_addr: Option<&str>) -> Vec<(String, i32)> {
    let mut keys = vec![(
        format!("account:{}", username.to_lowercase()),
        ACCOUNT_LIMIT,
    )];
    if let Some(addr) = client_addr {
        keys.push((format!("address:{addr}"), ADDRESS_LIMIT));
    }
    keys
}

/// 429 with the seconds to wait when any key has used up its failures.
pub async fn check(
    db: &impl ConnectionTrait,
    keys: &[(String, i32)],
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let rows = login_throttle::Entity::find()
        .filter(login_throttle::Column::Key.is_in(keys.iter().map(|(key, _)| key.clone())))
        .all(db)
        .await?;
    let window = Duration::minutes(WINDOW_MINUTES);
    let wait = rows
        .iter()
        .filter(|row| {
            let limit = keys
                .iter()
                .find(|(key, _)| *key == row.key)
                .map_or(ACCOUNT_LIMIT, |(_, limit)| *limit);
            row.failures >= limit && row.window_started_at + window > now
        })
        .map(|row| Ord::max((row.window_started_at + window - now).num_seconds(), 1))
        .max();
    match wait {
        Some(seconds) => Err(ApiError::TooManyRequests {
            retry_after: u64::try_from(seconds).unwrap_or(1),
        }),
        None => Ok(()),
    }
}

/// Counts a failure against every key (one upsert each; a stale window starts over).
pub async fn record_failure(
    db: &impl ConnectionTrait,
    keys: &[(String, i32)],
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let stale = Expr::col((
        login_throttle::Entity,
        login_throttle::Column::WindowStartedAt,
    ))
    .lt(now - Duration::minutes(WINDOW_MINUTES));
    for (key, _) in keys {
        login_throttle::Entity::insert(login_throttle::ActiveModel {
            key: Set(key.clone()),
            failures: Set(1),
            window_started_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(login_throttle::Column::Key)
                .value(
                    login_throttle::Column::Failures,
                    Expr::case(stale.clone(), 1).finally(
                        Expr::col((login_throttle::Entity, login_throttle::Column::Failures))
                            .add(1),
                    ),
                )
                .value(
                    login_throttle::Column::WindowStartedAt,
                    Expr::case(stale.clone(), now).finally(Expr::col((
                        login_throttle::Entity,
                        login_throttle::Column::WindowStartedAt,
                    ))),
                )
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    }
    Ok(())
}

/// Forgets the account's failures after a successful login (the address keeps its count).
pub async fn reset_account(db: &impl ConnectionTrait, username: &str) -> Result<(), DbErr> {
    login_throttle::Entity::delete_many()
        .filter(login_throttle::Column::Key.eq(format!("account:{}", username.to_lowercase())))
        .exec(db)
        .await?;
    Ok(())
}
