//! Names of org units and departments, kept in memory for a minute. The county's deadline
//! dashboard names its 300 villages on every reload: reading the 300 names each time cost
//! more than the rest of the answer (BENCHMARKS.md, session 12).
//!
//! Units and departments are only ever created through the API, never renamed: a new one's
//! name is read the first time its id is asked for. A name changed in the database by hand
//! shows within [`NameCache::KEPT`].

use std::{
    collections::{HashMap, HashSet},
    sync::Mutex,
    time::{Duration, Instant},
};

use sea_orm::{ConnectionTrait, DbErr};
use uuid::Uuid;

/// Names of org units and departments, by id.
#[derive(Debug, Default)]
pub struct NameCache {
    units: Kept,
    departments: Kept,
}

impl NameCache {
    /// How long a name read is used before it is read again.
    pub const KEPT: Duration = Duration::from_secs(60);

    /// The names of these org units (an id naming none is left out).
    pub async fn units(
        &self,
        db: &impl ConnectionTrait,
        ids: impl IntoIterator<Item = Uuid>,
    ) -> Result<HashMap<Uuid, String>, DbErr> {
        self.units
            .names(ids, |missing| super::unit_names(db, missing))
            .await
    }

    /// The names of these departments (an id naming none is left out).
    pub async fn departments(
        &self,
        db: &impl ConnectionTrait,
        ids: impl IntoIterator<Item = Uuid>,
    ) -> Result<HashMap<Uuid, String>, DbErr> {
        self.departments
            .names(ids, |missing| crate::ledger::department_names(db, missing))
            .await
    }
}

/// Names read, each with when it was read. Only ids that name a row are kept, so it holds
/// at most a name per row of its table.
#[derive(Debug, Default)]
struct Kept(Mutex<HashMap<Uuid, (String, Instant)>>);

impl Kept {
    /// The names of `ids`: those kept and fresh, the rest by `read` (then kept).
    async fn names<Read>(
        &self,
        ids: impl IntoIterator<Item = Uuid>,
        read: impl FnOnce(Vec<Uuid>) -> Read,
    ) -> Result<HashMap<Uuid, String>, DbErr>
    where
        Read: Future<Output = Result<HashMap<Uuid, String>, DbErr>>,
    {
        let (mut names, missing) = self.split(ids, Instant::now());
        if !missing.is_empty() {
            let read = read(missing).await?;
            self.keep(&read, Instant::now());
            names.extend(read);
        }
        Ok(names)
    }

    /// The names of `ids` still fresh at `now`, and the ids to read.
    fn split(
        &self,
        ids: impl IntoIterator<Item = Uuid>,
        now: Instant,
    ) -> (HashMap<Uuid, String>, Vec<Uuid>) {
        let ids: HashSet<Uuid> = ids.into_iter().collect();
        let kept = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut names = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        for id in ids {
            match kept.get(&id) {
                Some((name, read_at)) if now.duration_since(*read_at) < NameCache::KEPT => {
                    names.insert(id, name.clone());
                }
                _ => missing.push(id),
            }
        }
        (names, missing)
    }

    fn keep(&self, read: &HashMap<Uuid, String>, now: Instant) {
        let mut kept = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (id, name) in read {
            kept.insert(*id, (name.clone(), now));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VILLAGE: Uuid = Uuid::from_u128(1);
    const OTHER: Uuid = Uuid::from_u128(2);

    /// A reader that names each id after itself, noting what it was asked for.
    fn reader(
        asked: &Mutex<Vec<Vec<Uuid>>>,
    ) -> impl FnOnce(Vec<Uuid>) -> std::future::Ready<Result<HashMap<Uuid, String>, DbErr>> {
        move |mut missing| {
            missing.sort();
            asked.lock().expect("asked").push(missing.clone());
            std::future::ready(Ok(missing
                .into_iter()
                .map(|id| (id, id.to_string()))
                .collect()))
        }
    }

    #[tokio::test]
    async fn only_the_names_not_kept_are_read() {
        let kept = Kept::default();
        let asked = Mutex::new(Vec::new());

        let first = kept.names([VILLAGE], reader(&asked)).await.expect("names");
        let second = kept
            .names([VILLAGE, OTHER], reader(&asked))
            .await
            .expect("names");
        let third = kept
            .names([OTHER, VILLAGE], reader(&asked))
            .await
            .expect("names");

        assert_eq!(first[&VILLAGE], VILLAGE.to_string());
        assert_eq!(second.len(), 2);
        assert_eq!(third, second);
        assert_eq!(
            asked.into_inner().expect("asked"),
            vec![vec![VILLAGE], vec![OTHER]],
            "each id read once; nothing read when all are kept"
        );
    }

    #[test]
    fn a_name_is_used_for_a_minute_then_read_again() {
        let kept = Kept::default();
        let read_at = Instant::now();
        kept.keep(&HashMap::from([(VILLAGE, "东关村".to_owned())]), read_at);

        let (names, missing) = kept.split([VILLAGE, OTHER], read_at + Duration::from_secs(59));
        assert_eq!(names, HashMap::from([(VILLAGE, "东关村".to_owned())]));
        assert_eq!(missing, vec![OTHER]);

        let (names, missing) = kept.split([VILLAGE], read_at + NameCache::KEPT);
        assert!(names.is_empty());
        assert_eq!(missing, vec![VILLAGE]);
    }
}
