//! Database access: one SeaORM connection pool over SQLite (embedded default) or PostgreSQL.

use std::time::Duration;

use anyhow::Context;
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, SqliteTransactionMode, Statement, TransactionOptions,
    TransactionTrait, Value,
};

pub type Db = DatabaseConnection;

/// Connects and, for SQLite, turns on WAL, foreign keys and a busy timeout on every pooled connection.
///
/// # Errors
/// When the database cannot be reached; the message names `DATABASE_URL` without its password.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Db> {
    let mut opts = ConnectOptions::new(url.to_string());
    opts.max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if url.starts_with("sqlite:") {
        opts.map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
        });
    }
    let db = Database::connect(opts)
        .await
        .with_context(|| format!("DATABASE_URL: cannot connect to {}", redact(url)))?;
    db.execute_unprepared("SELECT 1")
        .await
        .with_context(|| format!("DATABASE_URL: cannot query {}", redact(url)))?;
    Ok(db)
}

/// The URL with any password replaced, safe for logs and error messages.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("****"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// Begins a transaction meant to write. On SQLite it is `BEGIN IMMEDIATE`, which takes the write lock
/// up front: a deferred transaction that reads and then writes can fail with SQLITE_BUSY when another
/// writer got in between, and the busy timeout does not help in that case.
///
/// # Errors
/// When the database refuses to start a transaction.
pub async fn begin_write<C: TransactionTrait + ConnectionTrait>(
    db: &C,
) -> Result<C::Transaction, DbErr> {
    if db.get_database_backend() == DatabaseBackend::Sqlite {
        db.begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..Default::default()
        })
        .await
    } else {
        db.begin().await
    }
}

/// Builds a raw statement written with PostgreSQL's `$1, $2` placeholders; for SQLite they become `?1, ?2`,
/// which SQLite numbers the same way. Used only where the query builder cannot express the SQL
/// (job claiming with `FOR UPDATE SKIP LOCKED`, the audit chain walk).
pub fn stmt(backend: DatabaseBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DatabaseBackend::Sqlite => sql.replace('$', "?"),
        _ => sql.to_string(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// Run `f` inside a write transaction; commit on `Ok`, roll back on `Err`.
///
/// # Errors
/// The closure's error, or a database error from begin/commit.
pub async fn in_txn<T, E, F>(db: &Db, f: F) -> Result<T, E>
where
    F: AsyncFnOnce(&DatabaseTransaction) -> Result<T, E>,
    E: From<DbErr>,
{
    let txn = begin_write(db).await?;
    match f(&txn).await {
        Ok(v) => {
            txn.commit().await?;
            Ok(v)
        }
        Err(e) => {
            // Dropping rolls back too, but an explicit rollback returns the connection sooner.
            let _ = txn.rollback().await;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_renumbered_for_sqlite_only() {
        let s = stmt(DatabaseBackend::Sqlite, "SELECT $1, $2", vec![]);
        assert_eq!(s.sql, "SELECT ?1, ?2");
        let p = stmt(DatabaseBackend::Postgres, "SELECT $1, $2", vec![]);
        assert_eq!(p.sql, "SELECT $1, $2");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://px:secret@db:5432/px360"),
            "postgres://px:****@db:5432/px360"
        );
        assert_eq!(redact("sqlite://px360.db"), "sqlite://px360.db");
    }

    #[tokio::test]
    async fn sqlite_connections_enforce_foreign_keys() {
        let db = connect("sqlite::memory:", 1).await.unwrap();
        let r = db
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Sqlite,
                "PRAGMA foreign_keys",
            ))
            .await
            .unwrap()
            .unwrap();
        let on: i32 = r.try_get_by_index(0).unwrap();
        assert_eq!(on, 1);
    }
}
