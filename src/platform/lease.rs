//! Named leases: a row that one process holds until it expires. The scheduler holds one so that exactly
//! one scheduler acts even when several run (the portable form of a PostgreSQL advisory lock).

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ConnectionTrait, DbErr};

use crate::platform::db::stmt;

/// Takes or renews `name` for `holder` until `now + ttl`. Returns whether `holder` now holds it.
///
/// # Errors
/// Database errors.
pub async fn acquire<C: ConnectionTrait>(
    conn: &C,
    name: &str,
    holder: &str,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Result<bool, DbErr> {
    let backend = conn.get_database_backend();
    // Make sure the row exists; a concurrent insert by another process is fine.
    conn.execute_raw(stmt(
        backend,
        "INSERT INTO leases (name, holder, expires_at) VALUES ($1, NULL, NULL) ON CONFLICT (name) DO NOTHING",
        vec![name.into()],
    ))
    .await?;
    let r = conn
        .execute_raw(stmt(
            backend,
            "UPDATE leases SET holder = $1, expires_at = $2 WHERE name = $3 \
             AND (holder = $1 OR holder IS NULL OR expires_at IS NULL OR expires_at < $4)",
            vec![holder.into(), (now + ttl).into(), name.into(), now.into()],
        ))
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Gives the lease up early (clean shutdown), so a standby takes over without waiting for expiry.
///
/// # Errors
/// Database errors.
pub async fn release<C: ConnectionTrait>(conn: &C, name: &str, holder: &str) -> Result<(), DbErr> {
    conn.execute_raw(stmt(
        conn.get_database_backend(),
        "UPDATE leases SET holder = NULL, expires_at = NULL WHERE name = $1 AND holder = $2",
        vec![name.into(), holder.into()],
    ))
    .await?;
    Ok(())
}
