//! Process heartbeats: each worker and scheduler writes one row every few seconds, so `/health/` on any
//! web process can tell whether the background side of the system is alive.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DbErr};
use tokio_util::sync::CancellationToken;

use crate::platform::clock::SharedClock;
use crate::platform::db::{Db, stmt};

/// How often a running process beats.
pub const INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Beats once now (so health sees the process as soon as it starts), then every [`INTERVAL`] on a task
/// of its own until `shutdown`; the row is removed on the way out.
pub async fn spawn(
    db: Db,
    clock: SharedClock,
    id: String,
    kind: &'static str,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let started = clock.now();
    if let Err(e) = beat(&db, &id, kind, started, started).await {
        tracing::warn!(error = %e, kind, "heartbeat failed");
    }
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(INTERVAL) => {}
            }
            if let Err(e) = beat(&db, &id, kind, started, clock.now()).await {
                tracing::warn!(error = %e, kind, "heartbeat failed");
            }
        }
        let _ = remove(&db, &id).await;
    })
}

pub const WORKER: &str = "worker";
pub const SCHEDULER: &str = "scheduler";

/// A heartbeat older than this means the process is gone.
pub fn stale_after() -> Duration {
    Duration::seconds(30)
}

/// `kind:host:pid:random`, unique per process instance.
pub fn process_id(kind: &str) -> String {
    let host = host();
    let short = &uuid::Uuid::new_v4().simple().to_string()[..8];
    format!("{kind}:{host}:{}:{short}", std::process::id())
}

fn host() -> String {
    hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "unknown".into())
}

/// # Errors
/// Database errors.
pub async fn beat<C: ConnectionTrait>(
    conn: &C,
    id: &str,
    kind: &str,
    started_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    conn.execute_raw(stmt(
        conn.get_database_backend(),
        "INSERT INTO process_heartbeats (id, kind, host, started_at, last_seen) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO UPDATE SET last_seen = excluded.last_seen",
        vec![
            id.into(),
            kind.into(),
            host().into(),
            started_at.into(),
            now.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// # Errors
/// Database errors.
pub async fn remove<C: ConnectionTrait>(conn: &C, id: &str) -> Result<(), DbErr> {
    conn.execute_raw(stmt(
        conn.get_database_backend(),
        "DELETE FROM process_heartbeats WHERE id = $1",
        vec![id.into()],
    ))
    .await?;
    Ok(())
}

/// Whether a process of `kind` has beaten recently.
///
/// # Errors
/// Database errors.
pub async fn alive<C: ConnectionTrait>(
    conn: &C,
    kind: &str,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    let row = conn
        .query_one_raw(stmt(
            conn.get_database_backend(),
            "SELECT COUNT(*) FROM process_heartbeats WHERE kind = $1 AND last_seen >= $2",
            vec![kind.into(), (now - stale_after()).into()],
        ))
        .await?;
    let n: i64 = match row {
        Some(r) => r.try_get_by_index(0)?,
        None => 0,
    };
    Ok(n > 0)
}
