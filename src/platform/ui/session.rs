//! Console sessions: tower-sessions records kept in our own `ui_sessions` table, so every web process
//! of a deployment shares them and a restart logs nobody out. The row key is the SHA-256 of the cookie's
//! session id: a copy of the table does not hold live session ids.
//!
//! Cookie: `px360_session`, HttpOnly, SameSite=Lax, Secure in production; expires after
//! [`IDLE_TIMEOUT`] without activity. The absolute lifetime ([`ABSOLUTE_TIMEOUT`]) is enforced by the
//! console's extractor from the sign-in time stored in the session. The id is rotated on sign-in.

use async_trait::async_trait;
use sea_orm::ConnectionTrait;
use time::OffsetDateTime;
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::platform::auth::sha256_hex;
use crate::platform::db::{Db, stmt};

pub const COOKIE: &str = "px360_session";
/// Signed-in users are logged out after this long without a request.
pub const IDLE_TIMEOUT: time::Duration = time::Duration::minutes(30);
/// … and after this long in any case.
pub const ABSOLUTE_TIMEOUT_SECS: i64 = 12 * 3600;

#[derive(Clone)]
pub struct DbStore {
    db: Db,
}

impl std::fmt::Debug for DbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbStore")
    }
}

impl DbStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

fn backend_err(e: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(e.to_string())
}

fn key(id: &Id) -> String {
    sha256_hex(&id.to_string())
}

fn to_chrono(t: OffsetDateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(t.unix_timestamp(), 0).unwrap_or_default()
}

#[async_trait]
impl SessionStore for DbStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A fresh id must not collide with a live one; with 128 random bits this loop runs once.
        loop {
            let exists = self
                .db
                .query_one_raw(stmt(
                    self.db.get_database_backend(),
                    "SELECT 1 FROM ui_sessions WHERE id = $1",
                    vec![key(&record.id).into()],
                ))
                .await
                .map_err(backend_err)?;
            if exists.is_none() {
                break;
            }
            record.id = Id::default();
        }
        self.save(record).await
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = serde_json::to_string(&record.data)
            .map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let sql = "INSERT INTO ui_sessions (id, data, expires_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (id) DO UPDATE SET data = excluded.data, expires_at = excluded.expires_at";
        self.db
            .execute_raw(stmt(
                self.db.get_database_backend(),
                sql,
                vec![
                    key(&record.id).into(),
                    data.into(),
                    to_chrono(record.expiry_date).into(),
                ],
            ))
            .await
            .map_err(backend_err)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row = self
            .db
            .query_one_raw(stmt(
                self.db.get_database_backend(),
                "SELECT data, expires_at FROM ui_sessions WHERE id = $1",
                vec![key(id).into()],
            ))
            .await
            .map_err(backend_err)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let data: String = row.try_get_by_index(0).map_err(backend_err)?;
        let expires: chrono::DateTime<chrono::Utc> =
            row.try_get_by_index(1).map_err(backend_err)?;
        let expiry_date =
            OffsetDateTime::from_unix_timestamp(expires.timestamp()).map_err(backend_err)?;
        if expiry_date <= OffsetDateTime::now_utc() {
            return Ok(None);
        }
        let data =
            serde_json::from_str(&data).map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        self.db
            .execute_raw(stmt(
                self.db.get_database_backend(),
                "DELETE FROM ui_sessions WHERE id = $1",
                vec![key(id).into()],
            ))
            .await
            .map_err(backend_err)?;
        Ok(())
    }
}

/// Removes expired sessions (a scheduled sweep).
///
/// # Errors
/// Database errors.
pub async fn prune(db: &Db, now: chrono::DateTime<chrono::Utc>) -> Result<u64, sea_orm::DbErr> {
    let r = db
        .execute_raw(stmt(
            db.get_database_backend(),
            "DELETE FROM ui_sessions WHERE expires_at < $1",
            vec![now.into()],
        ))
        .await?;
    Ok(r.rows_affected())
}

pub fn layer(db: Db, secure: bool) -> SessionManagerLayer<DbStore> {
    SessionManagerLayer::new(DbStore::new(db))
        .with_name(COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(IDLE_TIMEOUT))
}
