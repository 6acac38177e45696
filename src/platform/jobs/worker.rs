//! The job worker: claim due jobs with a lease, run them, retry with backoff, `DEAD` after the last attempt.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration as StdDuration;

use chrono::Duration;
use futures::FutureExt;
use rand::Rng;
use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, FromQueryResult};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{JobContext, JobError, Registry, mark_done, model};
use crate::platform::clock::SharedClock;
use crate::platform::db::{Db, stmt};
use crate::platform::heartbeat;

/// Exponential backoff: `base * 2^(attempt-1)`, capped, plus up to 20 % jitter so a burst of failures
/// does not retry in lockstep.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::seconds(10),
            max: Duration::hours(1),
        }
    }
}

impl Backoff {
    /// Delay before the retry that follows failed attempt number `attempt` (1-based).
    pub fn delay(&self, attempt: i32) -> Duration {
        let exp = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(0)
            .min(30);
        let raw = self
            .base
            .checked_mul(2_i32.saturating_pow(exp))
            .unwrap_or(self.max);
        let capped = raw.min(self.max);
        let jitter_ms = capped.num_milliseconds() / 5;
        let jitter = if jitter_ms > 0 {
            rand::rng().random_range(0..=jitter_ms)
        } else {
            0
        };
        capped + Duration::milliseconds(jitter)
    }
}

#[derive(Debug, Clone)]
pub struct WorkerOptions {
    pub concurrency: usize,
    pub lease: StdDuration,
    pub poll: StdDuration,
    pub backoff: Backoff,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            concurrency: 4,
            lease: StdDuration::from_secs(300),
            poll: StdDuration::from_millis(500),
            backoff: Backoff::default(),
        }
    }
}

#[derive(Clone)]
pub struct Worker {
    db: Db,
    clock: SharedClock,
    registry: Arc<Registry>,
    id: String,
    opts: WorkerOptions,
}

const COLUMNS: &str = "id, kind, payload, status, attempts, max_attempts, run_at, locked_by, \
                       locked_until, last_error, dedupe_key, created_at, updated_at, finished_at";

impl Worker {
    pub fn new(db: Db, clock: SharedClock, registry: Arc<Registry>, opts: WorkerOptions) -> Self {
        Self {
            db,
            clock,
            registry,
            id: heartbeat::process_id("worker"),
            opts,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn lease(&self) -> Duration {
        Duration::from_std(self.opts.lease).unwrap_or(Duration::minutes(5))
    }

    /// Claims up to `limit` due jobs: `PENDING` with `run_at` reached, or `RUNNING` whose lease expired
    /// (its worker died). On PostgreSQL `FOR UPDATE SKIP LOCKED` lets many workers claim without ever
    /// taking the same row; on SQLite the single UPDATE statement is atomic under the write lock.
    ///
    /// # Errors
    /// Database errors.
    pub async fn claim(&self, limit: usize) -> Result<Vec<model::Model>, DbErr> {
        self.claim_where(limit, None).await
    }

    /// [`Worker::claim`], restricted to one kind when `kind` is given (to fill a batch).
    async fn claim_where(
        &self,
        limit: usize,
        kind: Option<&str>,
    ) -> Result<Vec<model::Model>, DbErr> {
        let now = self.clock.now();
        let backend = self.db.get_database_backend();
        let lock = if backend == DatabaseBackend::Postgres {
            "FOR UPDATE SKIP LOCKED"
        } else {
            ""
        };
        // Two subqueries, each an ordered index range scan that stops at LIMIT: one `OR` over both
        // conditions made both engines collect and sort every due job on every claim, which turned a
        // backlog of thousands into quadratic work.
        let of_kind = if kind.is_some() { "AND kind = $5" } else { "" };
        let sql = format!(
            "UPDATE jobs SET status = 'RUNNING', attempts = attempts + 1, locked_by = $1, \
             locked_until = $2, updated_at = $3 \
             WHERE id IN (SELECT id FROM jobs WHERE status = 'PENDING' AND run_at <= $3 {of_kind} \
               ORDER BY run_at LIMIT $4 {lock}) \
             OR id IN (SELECT id FROM jobs WHERE status = 'RUNNING' AND locked_until < $3 {of_kind} \
               ORDER BY locked_until LIMIT $4 {lock}) \
             RETURNING {COLUMNS}"
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut values: Vec<sea_orm::Value> = vec![
            self.id.clone().into(),
            (now + self.lease()).into(),
            now.into(),
            limit.into(),
        ];
        if let Some(k) = kind {
            values.push(k.into());
        }
        let rows = self.db.query_all_raw(stmt(backend, &sql, values)).await?;
        rows.iter()
            .map(|r| model::Model::from_query_result(r, ""))
            .collect()
    }

    /// Claims what is due now and runs it to completion; returns how many jobs ran.
    /// Tests call this to drive jobs deterministically; `run` calls it in a loop.
    ///
    /// # Errors
    /// Database errors while claiming (a failing job is not an error here).
    pub async fn run_once(&self) -> Result<usize, DbErr> {
        let jobs = self.claim(self.opts.concurrency).await?;
        // Jobs of a batch kind run together: the claimed ones, topped up to the batch size.
        let mut singles = vec![];
        let mut batches: Vec<(String, Vec<model::Model>)> = vec![];
        for j in jobs {
            if j.attempts <= j.max_attempts && self.registry.get_batch(&j.kind).is_some() {
                match batches.iter_mut().find(|(k, _)| *k == j.kind) {
                    Some((_, b)) => b.push(j),
                    None => batches.push((j.kind.clone(), vec![j])),
                }
            } else {
                singles.push(j);
            }
        }
        for (kind, batch) in &mut batches {
            let max = self.registry.get_batch(kind).map_or(1, |(_, m)| m);
            if batch.len() < max {
                batch.extend(self.claim_where(max - batch.len(), Some(kind)).await?);
            }
        }
        let n = singles.len() + batches.iter().map(|(_, b)| b.len()).sum::<usize>();
        let singles = futures::future::join_all(singles.into_iter().map(|j| {
            let span = tracing::info_span!("job", id = %j.id, kind = %j.kind, attempt = j.attempts);
            self.execute(j).instrument(span)
        }));
        let batches = futures::future::join_all(batches.into_iter().map(|(kind, b)| {
            let span = tracing::info_span!("job_batch", kind = %kind, jobs = b.len());
            self.execute_batch(kind, b).instrument(span)
        }));
        futures::future::join(singles, batches).await;
        Ok(n)
    }

    async fn execute_batch(&self, kind: String, jobs: Vec<model::Model>) {
        let Some((handler, _)) = self.registry.get_batch(&kind) else {
            return;
        };
        // Claimed again after its lease expired on the last allowed attempt: its worker died.
        let (jobs, expired): (Vec<_>, Vec<_>) =
            jobs.into_iter().partition(|j| j.attempts <= j.max_attempts);
        for j in &expired {
            self.finish_failed(
                j,
                "lease expired on the final attempt (worker stopped mid-job)",
                true,
            )
            .await;
        }
        if jobs.is_empty() {
            return;
        }
        let ctx = super::BatchContext {
            db: self.db.clone(),
            clock: self.clock.clone(),
            kind,
            jobs: jobs
                .iter()
                .map(|j| super::BatchJob {
                    job_id: j.id,
                    payload: j.payload.clone(),
                    attempt: j.attempts,
                })
                .collect(),
            worker_id: self.id.clone(),
            completed: std::sync::Mutex::default(),
        };
        let renewer = self.spawn_lease_renewal(jobs.iter().map(|j| j.id).collect());
        let outcome = std::panic::AssertUnwindSafe(handler.run_batch(&ctx))
            .catch_unwind()
            .await;
        renewer.abort();
        let mut outcomes = match outcome {
            Ok(o) => o.into_iter().map(Some).collect::<Vec<_>>(),
            Err(_) => vec![],
        };
        outcomes.resize_with(jobs.len(), || None);
        for (job, outcome) in jobs.iter().zip(outcomes) {
            match outcome {
                Some(Ok(())) => {
                    if !ctx.was_completed(job.id) {
                        match mark_done(&self.db, self.clock.now(), job.id, &self.id).await {
                            Ok(true) => {}
                            Ok(false) => {
                                tracing::warn!(job = %job.id, "job finished after its lease was taken over");
                            }
                            Err(e) => tracing::error!(error = %e, "could not mark job done"),
                        }
                    }
                }
                Some(Err(JobError::Retry(e))) => {
                    self.finish_failed(job, &format!("{e:#}"), false).await;
                }
                Some(Err(JobError::Permanent(e))) => {
                    self.finish_failed(job, &format!("{e:#}"), true).await;
                }
                None => {
                    self.finish_failed(job, "batch handler panicked or gave no outcome", false)
                        .await;
                }
            }
        }
    }

    /// Runs `run_once` until nothing is due; returns the total number of jobs run.
    ///
    /// # Errors
    /// Database errors while claiming.
    pub async fn drain(&self) -> Result<usize, DbErr> {
        let mut total = 0;
        loop {
            let n = self.run_once().await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    /// The worker loop: heartbeat, claim, run, sleep; stops when `shutdown` is cancelled
    /// (jobs in flight finish first).
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!(worker = %self.id, "job worker started");
        // Beats on its own task, so a long batch never makes the worker look dead to /health/.
        let beating = heartbeat::spawn(
            self.db.clone(),
            self.clock.clone(),
            self.id.clone(),
            heartbeat::WORKER,
            shutdown.clone(),
        )
        .await;
        while !shutdown.is_cancelled() {
            let ran = match self.run_once().await {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(error = %e, "claiming jobs failed");
                    0
                }
            };
            if ran == 0 {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(self.opts.poll) => {}
                }
            }
        }
        let _ = beating.await;
        tracing::info!(worker = %self.id, "job worker stopped");
    }

    async fn execute(&self, job: model::Model) {
        if job.attempts > job.max_attempts {
            // Claimed again after its lease expired on the last allowed attempt: the worker running it died.
            self.finish_failed(
                &job,
                "lease expired on the final attempt (worker stopped mid-job)",
                true,
            )
            .await;
            return;
        }
        let Some(handler) = self.registry.get(&job.kind) else {
            self.finish_failed(
                &job,
                &format!("no handler registered for job kind '{}'", job.kind),
                true,
            )
            .await;
            return;
        };
        let ctx = JobContext {
            db: self.db.clone(),
            clock: self.clock.clone(),
            job_id: job.id,
            kind: job.kind.clone(),
            payload: job.payload.clone(),
            attempt: job.attempts,
            worker_id: self.id.clone(),
            completed: AtomicBool::new(false),
        };
        let renewer = self.spawn_lease_renewal(vec![job.id]);
        let outcome = std::panic::AssertUnwindSafe(handler.run(&ctx))
            .catch_unwind()
            .await;
        renewer.abort();
        match outcome {
            Ok(Ok(())) => {
                if !ctx.was_completed() {
                    match mark_done(&self.db, self.clock.now(), job.id, &self.id).await {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!("job finished after its lease was taken over"),
                        Err(e) => tracing::error!(error = %e, "could not mark job done"),
                    }
                }
                tracing::debug!("job done");
            }
            Ok(Err(JobError::Retry(e))) => self.finish_failed(&job, &format!("{e:#}"), false).await,
            Ok(Err(JobError::Permanent(e))) => {
                self.finish_failed(&job, &format!("{e:#}"), true).await;
            }
            Err(_) => {
                self.finish_failed(&job, "job handler panicked", false)
                    .await
            }
        }
    }

    /// Keeps the lease alive while a long job runs, so only a dead worker's job is taken over.
    fn spawn_lease_renewal(&self, ids: Vec<uuid::Uuid>) -> tokio::task::JoinHandle<()> {
        let db = self.db.clone();
        let clock = self.clock.clone();
        let me = self.id.clone();
        let lease = self.lease();
        let every = self.opts.lease / 3;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let until = clock.now() + lease;
                for id in &ids {
                    let r = db
                        .execute_raw(stmt(
                            db.get_database_backend(),
                            "UPDATE jobs SET locked_until = $1 WHERE id = $2 AND locked_by = $3 AND status = 'RUNNING'",
                            vec![until.into(), (*id).into(), me.clone().into()],
                        ))
                        .await;
                    if let Err(e) = r {
                        tracing::warn!(error = %e, job = %id, "lease renewal failed");
                    }
                }
            }
        })
    }

    async fn finish_failed(&self, job: &model::Model, error: &str, permanent: bool) {
        let now = self.clock.now();
        let dead = permanent || job.attempts >= job.max_attempts;
        let (status, run_at, finished) = if dead {
            ("DEAD", job.run_at, Some(now))
        } else {
            ("PENDING", now + self.opts.backoff.delay(job.attempts), None)
        };
        if dead {
            tracing::error!(error, attempts = job.attempts, "job is DEAD");
        } else {
            tracing::warn!(error, attempts = job.attempts, retry_at = %run_at, "job failed; will retry");
        }
        let truncated: String = error.chars().take(4000).collect();
        let r = self
            .db
            .execute_raw(stmt(
                self.db.get_database_backend(),
                "UPDATE jobs SET status = $1, run_at = $2, last_error = $3, locked_by = NULL, \
                 locked_until = NULL, updated_at = $4, finished_at = $5 WHERE id = $6 AND locked_by = $7",
                vec![
                    status.into(),
                    run_at.into(),
                    truncated.into(),
                    now.into(),
                    finished.into(),
                    job.id.into(),
                    self.id.clone().into(),
                ],
            ))
            .await;
        if let Err(e) = r {
            // The lease will expire and the job will be claimed again: nothing is lost.
            tracing::error!(error = %e, "could not record job failure");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let b = Backoff {
            base: Duration::seconds(10),
            max: Duration::seconds(100),
        };
        for _ in 0..50 {
            let d1 = b.delay(1);
            assert!(d1 >= Duration::seconds(10) && d1 <= Duration::seconds(12));
            let d3 = b.delay(3);
            assert!(d3 >= Duration::seconds(40) && d3 <= Duration::seconds(48));
            let d9 = b.delay(9);
            assert!(d9 >= Duration::seconds(100) && d9 <= Duration::seconds(120));
            let huge = b.delay(i32::MAX);
            assert!(huge <= Duration::seconds(120));
        }
    }
}
