//! The scheduler: cron expressions stored in the `schedules` table (so operators can change them without a
//! release), evaluated by whichever scheduler holds the `scheduler` lease. A tick only enqueues jobs, each
//! with a dedupe key made of the schedule and its fire time, so a tick repeated by a second scheduler (or
//! after a crash) enqueues nothing twice. Missed fire times while nothing ran coalesce into one run.

use std::str::FromStr;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use tokio_util::sync::CancellationToken;

use super::{NewJob, enqueue};
use crate::platform::clock::SharedClock;
use crate::platform::db::{Db, begin_write, stmt};
use crate::platform::{heartbeat, lease};

pub const LEASE_NAME: &str = "scheduler";

/// A schedule the code knows about; written to the table on start-up if missing, never overwritten
/// (the table is the configuration once it exists).
#[derive(Debug, Clone)]
pub struct ScheduleDef {
    pub name: &'static str,
    /// Six-field cron (seconds first), evaluated in UTC.
    pub cron: &'static str,
    pub job_kind: &'static str,
    pub payload: serde_json::Value,
}

pub struct Scheduler {
    db: Db,
    clock: SharedClock,
    id: String,
    tick: StdDuration,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct TickOutcome {
    pub holds_lease: bool,
    pub fired: Vec<String>,
}

/// Parses a cron expression.
///
/// # Errors
/// A message saying why the expression is invalid.
pub fn parse_cron(expr: &str) -> Result<cron::Schedule, String> {
    cron::Schedule::from_str(expr).map_err(|e| format!("invalid cron expression '{expr}': {e}"))
}

fn next_after(expr: &str, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    parse_cron(expr).ok()?.after(&t).next()
}

/// Inserts the schedules that do not exist yet.
///
/// # Errors
/// An invalid cron expression in `defs`, or database errors.
pub async fn install(db: &Db, now: DateTime<Utc>, defs: &[ScheduleDef]) -> anyhow::Result<()> {
    for d in defs {
        let next = parse_cron(d.cron)
            .map_err(anyhow::Error::msg)?
            .after(&now)
            .next();
        db.execute_raw(stmt(
            db.get_database_backend(),
            "INSERT INTO schedules (name, cron, job_kind, payload, enabled, last_fired_at, next_fire_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, NULL, $6, $7) ON CONFLICT (name) DO NOTHING",
            vec![
                d.name.into(),
                d.cron.into(),
                d.job_kind.into(),
                d.payload.clone().into(),
                true.into(),
                next.into(),
                now.into(),
            ],
        ))
        .await?;
    }
    Ok(())
}

impl Scheduler {
    pub fn new(db: Db, clock: SharedClock, tick: StdDuration) -> Self {
        Self {
            db,
            clock,
            id: heartbeat::process_id("scheduler"),
            tick,
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn lease_ttl(&self) -> Duration {
        // Long enough to survive a slow tick, short enough that a standby takes over quickly.
        Duration::from_std(self.tick * 10)
            .unwrap_or(Duration::seconds(30))
            .max(Duration::seconds(10))
    }

    /// One scheduler tick: take or renew the lease, then enqueue every due schedule.
    ///
    /// # Errors
    /// Database errors.
    pub async fn tick(&self) -> Result<TickOutcome, DbErr> {
        let now = self.clock.now();
        if !lease::acquire(&self.db, LEASE_NAME, &self.id, now, self.lease_ttl()).await? {
            return Ok(TickOutcome::default());
        }
        let mut out = TickOutcome {
            holds_lease: true,
            fired: vec![],
        };
        let rows = self
            .db
            .query_all_raw(stmt(
                self.db.get_database_backend(),
                "SELECT name, cron, job_kind, payload, next_fire_at FROM schedules \
                 WHERE enabled = $1 AND (next_fire_at IS NULL OR next_fire_at <= $2) ORDER BY name",
                vec![true.into(), now.into()],
            ))
            .await?;
        for r in rows {
            let name: String = r.try_get_by_index(0)?;
            let expr: String = r.try_get_by_index(1)?;
            let kind: String = r.try_get_by_index(2)?;
            let payload: serde_json::Value = r.try_get_by_index(3)?;
            let due: Option<DateTime<Utc>> = r.try_get_by_index(4)?;
            let Some(next) = next_after(&expr, now) else {
                tracing::error!(schedule = %name, cron = %expr, "schedule has an invalid cron expression; skipped");
                continue;
            };
            let txn = begin_write(&self.db).await?;
            if let Some(fire_at) = due {
                let job = NewJob::new(kind, payload)
                    .dedupe(format!("schedule:{name}:{}", fire_at.timestamp()));
                enqueue(&txn, self.clock.as_ref(), job).await?;
                out.fired.push(name.clone());
            }
            txn.execute_raw(stmt(
                txn.get_database_backend(),
                "UPDATE schedules SET last_fired_at = COALESCE($1, last_fired_at), next_fire_at = $2 WHERE name = $3",
                vec![due.into(), next.into(), name.into()],
            ))
            .await?;
            txn.commit().await?;
        }
        Ok(out)
    }

    /// The scheduler loop; releases the lease on shutdown so a standby can take over at once.
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!(scheduler = %self.id, "scheduler started");
        let beating = heartbeat::spawn(
            self.db.clone(),
            self.clock.clone(),
            self.id.clone(),
            heartbeat::SCHEDULER,
            shutdown.clone(),
        )
        .await;
        while !shutdown.is_cancelled() {
            match self.tick().await {
                Ok(o) if !o.fired.is_empty() => {
                    tracing::debug!(fired = ?o.fired, "schedules fired")
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "scheduler tick failed"),
            }
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(self.tick) => {}
            }
        }
        let _ = lease::release(&self.db, LEASE_NAME, &self.id).await;
        let _ = beating.await;
        tracing::info!(scheduler = %self.id, "scheduler stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cron_expressions_are_validated() {
        assert!(parse_cron("0 * * * * *").is_ok());
        assert!(parse_cron("every minute").is_err());
    }

    #[test]
    fn next_fire_time_follows_the_expression() {
        let t = DateTime::parse_from_rfc3339("2026-11-26T10:00:30Z")
            .unwrap()
            .with_timezone(&Utc);
        let n = next_after("0 * * * * *", t).unwrap();
        assert_eq!(n.to_rfc3339(), "2026-11-26T10:01:00+00:00");
    }
}
