//! Driving load: N concurrent clients working through a fixed number of jobs, each timed
//! into an HDR histogram (µs).

use std::{
    future::Future,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::BenchResult;

/// Latencies (µs) and the wall time of a run.
pub struct Timed {
    /// One entry per job, in microseconds.
    pub histogram: Histogram<u64>,
    /// From the first job's start to the last one's end.
    pub wall: Duration,
    /// Jobs run.
    pub jobs: usize,
}

impl Timed {
    fn empty() -> BenchResult<Self> {
        Ok(Self {
            histogram: histogram()?,
            wall: Duration::ZERO,
            jobs: 0,
        })
    }

    fn absorb(&mut self, other: Self) -> BenchResult<()> {
        self.histogram
            .add(other.histogram)
            .map_err(|error| error.to_string())?;
        self.wall += other.wall;
        self.jobs += other.jobs;
        Ok(())
    }

    /// The latency at `quantile` (0.5, 0.99, 1.0 = max), in milliseconds.
    pub fn ms(&self, quantile: f64) -> f64 {
        self.histogram.value_at_quantile(quantile) as f64 / 1000.0
    }

    /// Jobs per second of wall time.
    pub fn rate(&self) -> f64 {
        self.jobs as f64 / self.wall.as_secs_f64().max(1e-9)
    }
}

fn histogram() -> BenchResult<Histogram<u64>> {
    Ok(Histogram::<u64>::new(3).map_err(|error| error.to_string())?)
}

/// Runs jobs `first..first + count` over `clients` workers, timing each; with a `budget`,
/// no job starts after it has passed (so a slow scenario ends in bounded time).
pub async fn drive<F, Fut>(
    clients: usize,
    first: usize,
    count: usize,
    budget: Option<Duration>,
    job: Arc<F>,
) -> BenchResult<Timed>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = BenchResult<()>> + Send,
{
    let next = Arc::new(AtomicUsize::new(first));
    let done = Arc::new(AtomicUsize::new(0));
    let end = first + count;
    let started = Instant::now();
    let deadline = budget.map(|budget| started + budget);
    let mut workers = Vec::new();
    for _ in 0..clients.max(1) {
        let (job, next, done) = (job.clone(), next.clone(), done.clone());
        workers.push(tokio::spawn(async move {
            let mut histogram = histogram()?;
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= end || deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                    return Ok::<_, Box<dyn std::error::Error + Send + Sync>>(histogram);
                }
                done.fetch_add(1, Ordering::Relaxed);
                let begun = Instant::now();
                job(index).await?;
                histogram
                    .record(begun.elapsed().as_micros() as u64)
                    .map_err(|error| error.to_string())?;
            }
        }));
    }
    let mut merged = histogram()?;
    for worker in workers {
        merged
            .add(worker.await??)
            .map_err(|error| error.to_string())?;
    }
    Ok(Timed {
        histogram: merged,
        wall: started.elapsed(),
        jobs: done.load(Ordering::Relaxed),
    })
}

/// Runs `total` API jobs and `total` raw jobs with the same number of clients, alternating in
/// `rounds` slices (API, raw, API, raw, …) so that a change in the machine's load during the
/// run falls on both sides; each side stops early when it has used its `budget`. With
/// `settle` (write scenarios), each slice starts from an empty SQLite write-ahead log
/// ([`settle`]).
pub async fn alternate<A, AF, R, RF>(
    clients: usize,
    total: usize,
    rounds: usize,
    budget: Option<Duration>,
    settle: Option<&DatabaseConnection>,
    api: A,
    raw: R,
) -> BenchResult<(Timed, Timed)>
where
    A: Fn(usize) -> AF + Send + Sync + 'static,
    AF: Future<Output = BenchResult<()>> + Send,
    R: Fn(usize) -> RF + Send + Sync + 'static,
    RF: Future<Output = BenchResult<()>> + Send,
{
    let (api, raw) = (Arc::new(api), Arc::new(raw));
    let (mut api_timed, mut raw_timed) = (Timed::empty()?, Timed::empty()?);
    let rounds = rounds.clamp(1, total.max(1));
    let slice = budget.map(|budget| budget / rounds as u32);
    for round in 0..rounds {
        let first = total * round / rounds;
        let count = total * (round + 1) / rounds - first;
        if let Some(db) = settle {
            self::settle(db).await?;
        }
        api_timed.absorb(drive(clients, first, count, slice, api.clone()).await?)?;
        if let Some(db) = settle {
            self::settle(db).await?;
        }
        raw_timed.absorb(drive(clients, first, count, slice, raw.clone()).await?)?;
    }
    Ok((api_timed, raw_timed))
}

/// SQLite: copies the write-ahead log into the database file and empties it, untimed, so
/// that each side of a write scenario starts from an empty log and copies only its own
/// writes (the server in the background, raw in the commit that fills the log), not what the
/// other side left. It first waits out the server's last background copy (one every 200 ms
/// after its commits), and tries again while the log is busy; it fails rather than go on
/// with a log it could not empty.
pub async fn settle(db: &DatabaseConnection) -> BenchResult<()> {
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..50 {
        let row = db
            .query_one_raw(Statement::from_string(
                DbBackend::Sqlite,
                "PRAGMA wal_checkpoint(TRUNCATE)",
            ))
            .await;
        // (busy, pages in the log, pages copied): 0, 0, 0 once emptied.
        if let Ok(Some(row)) = row
            && row.try_get_by_index::<i64>(0)? == 0
            && row.try_get_by_index::<i64>(1)? <= 0
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err("the SQLite log could not be emptied between the sides of a write scenario".into())
}
