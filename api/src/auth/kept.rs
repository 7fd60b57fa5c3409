//! Callers' principals, kept for a second: a burst of requests with one token (a phone's
//! sync, a dashboard's panels, a script's pages) reads the caller's role and scope once,
//! not once per request. Reading them was a third of a single visit POST's time
//! (BENCHMARKS.md, session 12).
//!
//! A principal is read from users, their village assignments and API tokens. This server
//! changes those only through its account, assignment and token endpoints, which call
//! [`KeptPrincipals::forget_all`] after their commit: here a change takes effect at once, as
//! before. A change made by another process — the command line, a second server on the same
//! PostgreSQL, a hand edit — takes effect within [`KeptPrincipals::KEPT`]. A principal read
//! on one local day is not used on the next (a cadre's villages are assigned by day), nor an
//! API token's past its expiry.

use std::{
    collections::HashMap,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::Principal;

/// Whose principal: a person's (by user id) or an API token's (by its secret's hash).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Caller {
    /// A signed-in person.
    User(Uuid),
    /// A script's API token, by [`super::token::secret_hash`].
    ApiToken(String),
}

/// The principals read in the last [`KeptPrincipals::KEPT`], by caller.
#[derive(Debug)]
pub struct KeptPrincipals {
    kept_for: Duration,
    /// Moves on at every [`KeptPrincipals::forget_all`]: a principal read before it is not used.
    generation: AtomicU64,
    kept: Mutex<HashMap<Caller, Kept>>,
}

#[derive(Debug)]
struct Kept {
    principal: Principal,
    generation: u64,
    read_at: Instant,
    day: NaiveDate,
    expires_at: Option<DateTime<Utc>>,
}

/// A read about to happen: [`KeptPrincipals::keep`] keeps what it read only if nothing was
/// forgotten since it began.
#[derive(Debug, Clone, Copy)]
struct Reading {
    generation: u64,
    day: NaiveDate,
}

impl Default for KeptPrincipals {
    fn default() -> Self {
        Self::keeping_for(Self::KEPT)
    }
}

impl KeptPrincipals {
    /// How long a principal read is used before it is read again.
    pub const KEPT: Duration = Duration::from_secs(1);
    /// The most callers kept: a new caller past it starts the table afresh.
    const MOST: usize = 4096;

    /// Principals kept for `kept_for` (tests shorten it).
    pub fn keeping_for(kept_for: Duration) -> Self {
        Self {
            kept_for,
            generation: AtomicU64::new(0),
            kept: Mutex::new(HashMap::new()),
        }
    }

    /// The caller's principal read on `today` less than [`Self::KEPT`] ago, with nothing
    /// forgotten since, if it is still valid at `now`.
    fn get(&self, caller: &Caller, today: NaiveDate, now: DateTime<Utc>) -> Option<Principal> {
        let generation = self.generation.load(Ordering::Acquire);
        let kept = self.lock();
        let entry = kept.get(caller)?;
        (entry.generation == generation
            && entry.day == today
            && entry.read_at.elapsed() < self.kept_for
            && entry.expires_at.is_none_or(|expires| expires > now))
        .then(|| entry.principal.clone())
    }

    /// The caller's principal, kept ([`Self::get`]) or read by `read` (with an API token's
    /// expiry) and kept.
    pub async fn get_or_read<Read, E>(
        &self,
        caller: Caller,
        today: NaiveDate,
        now: DateTime<Utc>,
        read: impl FnOnce() -> Read,
    ) -> Result<Principal, E>
    where
        Read: Future<Output = Result<(Principal, Option<DateTime<Utc>>), E>>,
    {
        if let Some(principal) = self.get(&caller, today, now) {
            return Ok(principal);
        }
        let reading = self.reading(today);
        let (principal, expires_at) = read().await?;
        self.keep(caller, reading, principal.clone(), expires_at);
        Ok(principal)
    }

    /// Marks the start of a read from the database on `today`; pass it to [`Self::keep`].
    fn reading(&self, today: NaiveDate) -> Reading {
        Reading {
            generation: self.generation.load(Ordering::Acquire),
            day: today,
        }
    }

    /// Keeps a principal read since `reading` began (an API token's with its expiry).
    fn keep(
        &self,
        caller: Caller,
        reading: Reading,
        principal: Principal,
        expires_at: Option<DateTime<Utc>>,
    ) {
        let mut kept = self.lock();
        if kept.len() >= Self::MOST && !kept.contains_key(&caller) {
            // Once per MOST new callers: cheaper than sorting out the stale on every miss.
            kept.clear();
        }
        kept.insert(
            caller,
            Kept {
                principal,
                generation: reading.generation,
                read_at: Instant::now(),
                day: reading.day,
                expires_at,
            },
        );
    }

    /// Forgets every principal kept, and any being read now: call it after committing a
    /// change to users, village assignments or API tokens.
    pub fn forget_all(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Caller, Kept>> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{access::Scope, auth::Actor};
    use entity::user::Role;

    fn cadre(villages: Vec<Uuid>) -> Principal {
        Principal {
            actor: Actor::User { id: Uuid::nil() },
            role: Role::Cadre,
            scope: Scope::Villages(villages),
        }
    }

    fn day(text: &str) -> NaiveDate {
        text.parse().expect("a date")
    }

    fn villages_of(principal: Option<Principal>) -> Option<Vec<Uuid>> {
        principal.map(|principal| match principal.scope {
            Scope::Villages(villages) => villages,
            other => panic!("not a cadre's scope: {other:?}"),
        })
    }

    #[test]
    fn a_principal_kept_is_given_back_on_the_same_day_only() {
        let kept = KeptPrincipals::default();
        let caller = Caller::User(Uuid::nil());
        let village = Uuid::now_v7();
        let today = day("2026-11-29");

        kept.keep(
            caller.clone(),
            kept.reading(today),
            cadre(vec![village]),
            None,
        );

        assert_eq!(
            villages_of(kept.get(&caller, today, Utc::now())),
            Some(vec![village])
        );
        assert!(kept.get(&caller, day("2026-11-30"), Utc::now()).is_none());
        assert!(
            kept.get(&Caller::User(Uuid::now_v7()), today, Utc::now())
                .is_none()
        );
    }

    #[test]
    fn a_principal_is_not_given_back_once_its_time_is_up() {
        let kept = KeptPrincipals::keeping_for(Duration::ZERO);
        let caller = Caller::User(Uuid::nil());
        let today = day("2026-11-29");

        kept.keep(caller.clone(), kept.reading(today), cadre(vec![]), None);

        assert!(kept.get(&caller, today, Utc::now()).is_none());
    }

    #[test]
    fn forgetting_drops_what_was_kept_and_what_was_being_read() {
        let kept = KeptPrincipals::default();
        let (kept_before, read_across) =
            (Caller::User(Uuid::now_v7()), Caller::User(Uuid::now_v7()));
        let today = day("2026-11-29");
        kept.keep(
            kept_before.clone(),
            kept.reading(today),
            cadre(vec![]),
            None,
        );
        let reading = kept.reading(today);

        kept.forget_all();
        kept.keep(read_across.clone(), reading, cadre(vec![]), None);

        assert!(kept.get(&kept_before, today, Utc::now()).is_none());
        assert!(
            kept.get(&read_across, today, Utc::now()).is_none(),
            "a principal read while an account changed may be the old one"
        );
    }

    #[test]
    fn an_api_tokens_principal_is_not_given_back_past_its_expiry() {
        let kept = KeptPrincipals::default();
        let caller = Caller::ApiToken("hash".to_owned());
        let today = day("2026-11-29");
        let expires = Utc::now();

        kept.keep(
            caller.clone(),
            kept.reading(today),
            cadre(vec![]),
            Some(expires),
        );

        assert!(
            kept.get(&caller, today, expires - chrono::Duration::seconds(1))
                .is_some()
        );
        assert!(kept.get(&caller, today, expires).is_none());
    }
}
