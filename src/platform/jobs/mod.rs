//! Background jobs on a transactional table (the outbox): the design of Oban, river and solid_queue.
//!
//! A job is written with [`enqueue`] on the caller's connection or transaction, so it exists exactly when
//! the state change that caused it commits. The [`Worker`] claims due rows with a lease, runs the
//! registered [`JobHandler`], retries failures with exponential backoff and marks a job `DEAD` after its
//! last attempt. A worker that dies mid-job leaves the row `RUNNING` with a lease that expires; another
//! worker then claims it again, so handlers must be idempotent (unique constraints back that up).

pub mod model;
pub mod scheduler;
mod worker;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Duration, Utc};
use futures::future::BoxFuture;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::platform::clock::{Clock, SharedClock};
use crate::platform::db::{Db, begin_write, stmt};
use crate::platform::ids::new_id;

pub use worker::{Backoff, Worker, WorkerOptions};

pub const PENDING: &str = "PENDING";
pub const RUNNING: &str = "RUNNING";
pub const DONE: &str = "DONE";
pub const DEAD: &str = "DEAD";

pub const DEFAULT_MAX_ATTEMPTS: i32 = 8;

/// A job to write. Build with [`NewJob::new`] and the chained setters.
#[derive(Debug, Clone)]
pub struct NewJob {
    kind: String,
    payload: serde_json::Value,
    run_at: Option<DateTime<Utc>>,
    delay: Option<Duration>,
    max_attempts: i32,
    dedupe_key: Option<String>,
}

impl NewJob {
    pub fn new(kind: impl Into<String>, payload: impl Serialize) -> Self {
        Self {
            kind: kind.into(),
            // Serialising our own payload types cannot fail; Null keeps the row well-formed if one ever did.
            payload: serde_json::to_value(payload).unwrap_or(serde_json::Value::Null),
            run_at: None,
            delay: None,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            dedupe_key: None,
        }
    }

    /// Run no earlier than `at`.
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = Some(at);
        self
    }

    /// Run no earlier than `delay` from now (by the injected clock).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    pub fn max_attempts(mut self, n: i32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// At most one job with this key ever exists; enqueueing it again is a no-op.
    pub fn dedupe(mut self, key: impl Into<String>) -> Self {
        self.dedupe_key = Some(key.into());
        self
    }
}

/// Writes `job` on `conn` (pass the caller's transaction so the job commits or rolls back with it).
/// Returns the new job's id, or `None` when a job with the same dedupe key already exists.
///
/// # Errors
/// Database errors.
pub async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    job: NewJob,
) -> Result<Option<Uuid>, DbErr> {
    let now = clock.now();
    let id = new_id();
    let run_at = job
        .run_at
        .or_else(|| job.delay.map(|d| now + d))
        .unwrap_or(now);
    let row = model::ActiveModel {
        id: Set(id),
        kind: Set(job.kind),
        payload: Set(job.payload),
        status: Set(PENDING.to_string()),
        attempts: Set(0),
        max_attempts: Set(job.max_attempts),
        run_at: Set(run_at),
        locked_by: Set(None),
        locked_until: Set(None),
        last_error: Set(None),
        dedupe_key: Set(job.dedupe_key),
        created_at: Set(now),
        updated_at: Set(now),
        finished_at: Set(None),
    };
    let inserted = model::Entity::insert(row)
        .on_conflict(
            OnConflict::column(model::Column::DedupeKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok((inserted > 0).then_some(id))
}

/// Writes many jobs with caller-chosen ids in one multi-row INSERT on `conn` (batch intake). Jobs with a
/// dedupe key already taken are skipped, as with [`enqueue`].
///
/// # Errors
/// Database errors.
pub async fn enqueue_many<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    jobs: Vec<(Uuid, NewJob)>,
) -> Result<(), DbErr> {
    let now = clock.now();
    let mut rows = jobs
        .into_iter()
        .map(|(id, job)| model::ActiveModel {
            id: Set(id),
            run_at: Set(job
                .run_at
                .or_else(|| job.delay.map(|d| now + d))
                .unwrap_or(now)),
            kind: Set(job.kind),
            payload: Set(job.payload),
            status: Set(PENDING.to_string()),
            attempts: Set(0),
            max_attempts: Set(job.max_attempts),
            locked_by: Set(None),
            locked_until: Set(None),
            last_error: Set(None),
            dedupe_key: Set(job.dedupe_key),
            created_at: Set(now),
            updated_at: Set(now),
            finished_at: Set(None),
        })
        .peekable();
    // 14 columns a row: 500 rows stay below either engine's parameter limit.
    while rows.peek().is_some() {
        let chunk: Vec<model::ActiveModel> = rows.by_ref().take(500).collect();
        model::Entity::insert_many(chunk)
            .on_conflict(
                OnConflict::column(model::Column::DedupeKey)
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Why a job failed. `Retry` backs off and tries again; `Permanent` goes straight to `DEAD`
/// (a payload that can never parse will not parse on attempt eight either).
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("{0:#}")]
    Retry(anyhow::Error),
    #[error("{0:#}")]
    Permanent(anyhow::Error),
}

impl From<anyhow::Error> for JobError {
    fn from(e: anyhow::Error) -> Self {
        Self::Retry(e)
    }
}

impl From<DbErr> for JobError {
    fn from(e: DbErr) -> Self {
        Self::Retry(e.into())
    }
}

/// What a handler sees: the claimed job and the means to finish it in its own transaction.
pub struct JobContext {
    pub db: Db,
    pub clock: SharedClock,
    pub job_id: Uuid,
    pub kind: String,
    pub payload: serde_json::Value,
    /// 1 on the first run.
    pub attempt: i32,
    worker_id: String,
    completed: AtomicBool,
}

impl JobContext {
    /// The payload as `T`; a payload of the wrong shape is a permanent failure.
    ///
    /// # Errors
    /// [`JobError::Permanent`] when the payload does not match `T`.
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, JobError> {
        serde_json::from_value(self.payload.clone()).map_err(|e| {
            JobError::Permanent(anyhow::anyhow!("payload of {} is invalid: {e}", self.kind))
        })
    }

    /// A write transaction for the job's effects; finish it with [`JobContext::complete`].
    ///
    /// # Errors
    /// Database errors.
    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        begin_write(&self.db).await
    }

    /// Marks the job `DONE` inside `txn` and commits, so the effects and the completion are one unit.
    /// If this worker's lease was lost (another worker took the job over), nothing is committed.
    ///
    /// # Errors
    /// [`JobError::Retry`] when the lease was lost or the commit failed.
    pub async fn complete(&self, txn: DatabaseTransaction) -> Result<(), JobError> {
        let done = mark_done(&txn, self.clock.now(), self.job_id, &self.worker_id).await?;
        if !done {
            txn.rollback().await?;
            return Err(JobError::Retry(anyhow::anyhow!(
                "lease on job {} was lost; effects rolled back",
                self.job_id
            )));
        }
        txn.commit().await?;
        self.completed.store(true, Ordering::SeqCst);
        Ok(())
    }

    fn was_completed(&self) -> bool {
        self.completed.load(Ordering::SeqCst)
    }
}

async fn mark_done<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    id: Uuid,
    worker_id: &str,
) -> Result<bool, DbErr> {
    let r = conn
        .execute_raw(stmt(
            conn.get_database_backend(),
            "UPDATE jobs SET status = 'DONE', finished_at = $1, updated_at = $1, locked_by = NULL, \
             locked_until = NULL, last_error = NULL WHERE id = $2 AND locked_by = $3 AND status = 'RUNNING'",
            vec![now.into(), id.into(), worker_id.into()],
        ))
        .await?;
    Ok(r.rows_affected() == 1)
}

/// One claimed job of a batch.
#[derive(Debug, Clone)]
pub struct BatchJob {
    pub job_id: Uuid,
    pub payload: serde_json::Value,
    /// 1 on the first run.
    pub attempt: i32,
}

/// What a [`BatchHandler`] sees: many claimed jobs of one kind, each still under this worker's lease.
pub struct BatchContext {
    pub db: Db,
    pub clock: SharedClock,
    pub kind: String,
    pub jobs: Vec<BatchJob>,
    worker_id: String,
    completed: std::sync::Mutex<std::collections::HashSet<Uuid>>,
}

impl BatchContext {
    /// A write transaction for the batch's effects; finish it with [`BatchContext::complete`].
    ///
    /// # Errors
    /// Database errors.
    pub async fn begin(&self) -> Result<DatabaseTransaction, DbErr> {
        begin_write(&self.db).await
    }

    /// Marks the jobs `done` `DONE` inside `txn` and commits, so their effects and their completion are
    /// one unit. If this worker lost the lease on any of them, nothing is committed.
    ///
    /// # Errors
    /// [`JobError::Retry`] when a lease was lost or the commit failed.
    pub async fn complete(&self, txn: DatabaseTransaction, done: &[Uuid]) -> Result<(), JobError> {
        let now = self.clock.now();
        let mut marked = 0u64;
        for chunk in done.chunks(500) {
            let mut values: Vec<sea_orm::Value> = vec![now.into(), self.worker_id.clone().into()];
            let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
            values.extend(chunk.iter().map(|id| sea_orm::Value::from(*id)));
            let sql = format!(
                "UPDATE jobs SET status = 'DONE', finished_at = $1, updated_at = $1, locked_by = NULL, \
                 locked_until = NULL, last_error = NULL WHERE locked_by = $2 AND status = 'RUNNING' \
                 AND id IN ({})",
                marks.join(", ")
            );
            marked += txn
                .execute_raw(stmt(txn.get_database_backend(), &sql, values))
                .await?
                .rows_affected();
        }
        if marked != done.len() as u64 {
            txn.rollback().await?;
            return Err(JobError::Retry(anyhow::anyhow!(
                "lease on {} of {} jobs was lost; the batch's effects were rolled back",
                done.len() as u64 - marked,
                done.len()
            )));
        }
        txn.commit().await?;
        let mut guard = self.completed.lock().unwrap_or_else(|p| p.into_inner());
        guard.extend(done.iter().copied());
        Ok(())
    }

    fn was_completed(&self, id: Uuid) -> bool {
        let guard = self.completed.lock().unwrap_or_else(|p| p.into_inner());
        guard.contains(&id)
    }
}

/// Runs many jobs of one kind together (in one transaction, typically): the worker claims up to the
/// registered batch size of them at once. Same idempotence rule as [`JobHandler`].
#[async_trait::async_trait]
pub trait BatchHandler: Send + Sync + 'static {
    /// One outcome per `ctx.jobs`, in the same order. A job whose outcome is `Ok` and that was not
    /// finished with [`BatchContext::complete`] is marked done by the worker; an `Err` is retried with
    /// backoff (or goes `DEAD`) on its own.
    async fn run_batch(&self, ctx: &BatchContext) -> Vec<Result<(), JobError>>;
}

/// Runs one kind of job. Handlers must be idempotent: a job can run again after a crash.
#[async_trait::async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// Do the work. Either finish with [`JobContext::complete`] (effects and completion in one
    /// transaction) or just return `Ok(())` and the worker marks the job done.
    async fn run(&self, ctx: &JobContext) -> Result<(), JobError>;
}

type HandlerFn =
    dyn for<'a> Fn(&'a JobContext) -> BoxFuture<'a, Result<(), JobError>> + Send + Sync + 'static;

struct FnHandler(Box<HandlerFn>);

#[async_trait::async_trait]
impl JobHandler for FnHandler {
    async fn run(&self, ctx: &JobContext) -> Result<(), JobError> {
        (self.0)(ctx).await
    }
}

/// A handler from a closure: `handler_fn(|ctx| Box::pin(async move { ... }))`.
pub fn handler_fn<F>(f: F) -> Arc<dyn JobHandler>
where
    F: for<'a> Fn(&'a JobContext) -> BoxFuture<'a, Result<(), JobError>> + Send + Sync + 'static,
{
    Arc::new(FnHandler(Box::new(f)))
}

/// Job kind → handler, filled in `startup.rs`.
#[derive(Default, Clone)]
pub struct Registry {
    handlers: HashMap<String, Arc<dyn JobHandler>>,
    batch_handlers: HashMap<String, (Arc<dyn BatchHandler>, usize)>,
    duplicates: Vec<String>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&mut self, kind: impl Into<String>, handler: Arc<dyn JobHandler>) -> &mut Self {
        let kind = kind.into();
        if self.batch_handlers.contains_key(&kind) {
            self.duplicates.push(kind);
            return self;
        }
        match self.handlers.entry(kind) {
            std::collections::hash_map::Entry::Occupied(e) => self.duplicates.push(e.key().clone()),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(handler);
            }
        }
        self
    }

    /// Registers a handler that runs up to `max` claimed jobs of `kind` together.
    pub fn register_batch(
        &mut self,
        kind: impl Into<String>,
        handler: Arc<dyn BatchHandler>,
        max: usize,
    ) -> &mut Self {
        let kind = kind.into();
        if self.handlers.contains_key(&kind) || self.batch_handlers.contains_key(&kind) {
            self.duplicates.push(kind);
        } else {
            self.batch_handlers.insert(kind, (handler, max.max(1)));
        }
        self
    }

    pub fn get_batch(&self, kind: &str) -> Option<(Arc<dyn BatchHandler>, usize)> {
        self.batch_handlers.get(kind).cloned()
    }

    pub fn get(&self, kind: &str) -> Option<Arc<dyn JobHandler>> {
        self.handlers.get(kind).cloned()
    }

    pub fn kinds(&self) -> impl Iterator<Item = &str> {
        self.handlers
            .keys()
            .chain(self.batch_handlers.keys())
            .map(String::as_str)
    }

    /// Two handlers for one kind is a wiring mistake; start-up refuses it.
    ///
    /// # Errors
    /// Lists the kinds registered twice.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.duplicates.is_empty() {
            Ok(())
        } else {
            anyhow::bail!("job kinds registered twice: {}", self.duplicates.join(", "))
        }
    }
}

/// Counts of jobs by status, for health and the console.
///
/// # Errors
/// Database errors.
pub async fn count_by_status<C: ConnectionTrait>(conn: &C) -> Result<HashMap<String, i64>, DbErr> {
    let rows = conn
        .query_all_raw(stmt(
            conn.get_database_backend(),
            "SELECT status, COUNT(*) FROM jobs GROUP BY status",
            vec![],
        ))
        .await?;
    let mut out = HashMap::new();
    for r in rows {
        let status: String = r.try_get_by_index(0)?;
        let n: i64 = r.try_get_by_index(1)?;
        out.insert(status, n);
    }
    Ok(out)
}

/// Puts a `DEAD` job back in the queue with a fresh set of attempts (operator action, audited by the caller).
///
/// # Errors
/// Database errors.
pub async fn retry_dead<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    id: Uuid,
) -> Result<bool, DbErr> {
    let now = clock.now();
    let r = conn
        .execute_raw(stmt(
            conn.get_database_backend(),
            "UPDATE jobs SET status = 'PENDING', attempts = 0, run_at = $1, updated_at = $1, \
             finished_at = NULL WHERE id = $2 AND status = 'DEAD'",
            vec![now.into(), id.into()],
        ))
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Deletes finished (`DONE`) jobs older than `keep_days`; `DEAD` jobs stay until an operator acts.
///
/// # Errors
/// Database errors.
pub async fn prune<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    keep_days: i64,
) -> Result<u64, DbErr> {
    let r = conn
        .execute_raw(stmt(
            conn.get_database_backend(),
            "DELETE FROM jobs WHERE status = 'DONE' AND finished_at < $1",
            vec![(now - Duration::days(keep_days.max(1))).into()],
        ))
        .await?;
    Ok(r.rows_affected())
}
