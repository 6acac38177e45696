//! The audit log: append-only, sequence-numbered at insert, hash-chained afterwards.
//!
//! Writers call [`record`] inside their own transaction and never wait on the chain. A single background
//! sealer ([`seal`], a scheduled job) walks unsealed rows in sequence order and gives each a chain
//! position, the previous row's hash and its own hash, `sha256(prev_hash || canonical(row))`. The chain
//! head is also kept in `system_kv`, so deleting the newest sealed rows is detected too.
//! [`verify`] recomputes the chain and names the first row that does not match.

pub mod browse;
pub mod model;

use chrono::{DateTime, SecondsFormat, Utc};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ConnectionTrait, DatabaseBackend, DbErr, EntityTrait, FromQueryResult,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::platform::clock::Clock;
use crate::platform::db::{Db, begin_write, stmt};
use crate::platform::ids::new_id;

/// The job kind of the sealer, scheduled every minute.
pub const SEAL_JOB: &str = "audit.seal";
const HEAD_KEY: &str = "audit_chain_head";

/// Who did it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Option<Uuid>,
    /// A readable label that survives the user's deletion: an email, `api-key:<prefix>`, `system`.
    pub label: String,
    pub ip: Option<String>,
}

impl Actor {
    /// The caller of a request; integrations are labelled by their API key's service account.
    pub fn of(p: &crate::platform::rbac::Principal) -> Self {
        Self {
            user_id: Some(p.user_id),
            label: match p.api_key_hospital {
                Some(_) => format!("api-key:{}", p.email),
                None => p.email.clone(),
            },
            ip: p.ip.clone(),
        }
    }

    pub fn system() -> Self {
        Self {
            user_id: None,
            label: "system".into(),
            ip: None,
        }
    }
}

/// One thing that happened.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub action: String,
    pub object_type: Option<String>,
    pub object_id: Option<String>,
    pub hospital: Option<Uuid>,
    pub details: serde_json::Value,
}

impl AuditEntry {
    pub fn new(action: impl Into<String>) -> Self {
        Self {
            action: action.into(),
            object_type: None,
            object_id: None,
            hospital: None,
            details: serde_json::json!({}),
        }
    }

    pub fn object(mut self, object_type: impl Into<String>, id: impl ToString) -> Self {
        self.object_type = Some(object_type.into());
        self.object_id = Some(id.to_string());
        self
    }

    pub fn hospital(mut self, hospital: Option<Uuid>) -> Self {
        self.hospital = hospital;
        self
    }

    pub fn details(mut self, details: impl Serialize) -> Self {
        self.details = serde_json::to_value(details).unwrap_or(serde_json::Value::Null);
        self
    }
}

/// Appends an audit row on `conn` (pass the caller's transaction so the row commits with the change).
///
/// # Errors
/// Database errors.
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    actor: &Actor,
    entry: AuditEntry,
) -> Result<Uuid, DbErr> {
    let id = new_id();
    let row = model::ActiveModel {
        seq: NotSet,
        id: Set(id),
        occurred_at: Set(clock.now()),
        actor_id: Set(actor.user_id),
        actor_label: Set(Some(actor.label.clone())),
        action: Set(entry.action),
        object_type: Set(entry.object_type),
        object_id: Set(entry.object_id),
        hospital_id: Set(entry.hospital),
        ip: Set(actor.ip.clone()),
        details: Set(entry.details.to_string()),
        chain_pos: Set(None),
        prev_hash: Set(None),
        hash: Set(None),
        sealed_at: Set(None),
    };
    model::Entity::insert(row)
        .exec_without_returning(conn)
        .await?;
    Ok(id)
}

/// Appends many audit rows with one multi-row INSERT on `conn` (batch intake and processing). Rows
/// get their sequence numbers in the given order.
///
/// # Errors
/// Database errors.
pub async fn record_many<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    entries: Vec<(Actor, AuditEntry)>,
) -> Result<(), DbErr> {
    let now = clock.now();
    let mut rows = entries
        .into_iter()
        .map(|(actor, entry)| model::ActiveModel {
            seq: NotSet,
            id: Set(new_id()),
            occurred_at: Set(now),
            actor_id: Set(actor.user_id),
            actor_label: Set(Some(actor.label)),
            action: Set(entry.action),
            object_type: Set(entry.object_type),
            object_id: Set(entry.object_id),
            hospital_id: Set(entry.hospital),
            ip: Set(actor.ip),
            details: Set(entry.details.to_string()),
            chain_pos: Set(None),
            prev_hash: Set(None),
            hash: Set(None),
            sealed_at: Set(None),
        })
        .peekable();
    // 14 bound columns a row: 500 rows stay far below either engine's parameter limit.
    while rows.peek().is_some() {
        let chunk: Vec<model::ActiveModel> = rows.by_ref().take(500).collect();
        model::Entity::insert_many(chunk)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

fn fmt_ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The row's hash: `sha256(prev_hash "\n" json([seq, id, occurred_at, actor_id, actor_label, action,
/// object_type, object_id, hospital_id, ip, details]))`. JSON keeps the field boundaries unambiguous.
pub fn row_hash(prev: &str, r: &model::Model) -> String {
    let canonical = serde_json::json!([
        r.seq,
        r.id.to_string(),
        fmt_ts(r.occurred_at),
        r.actor_id.map(|u| u.to_string()),
        r.actor_label,
        r.action,
        r.object_type,
        r.object_id,
        r.hospital_id.map(|u| u.to_string()),
        r.ip,
        r.details,
    ]);
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(canonical.to_string().as_bytes());
    hex::encode(h.finalize())
}

const GENESIS: &str = "px360-audit-genesis";

async fn head<C: ConnectionTrait>(conn: &C) -> Result<Option<(i64, String)>, DbErr> {
    let r = conn
        .query_one_raw(stmt(
            conn.get_database_backend(),
            "SELECT value FROM system_kv WHERE key = $1",
            vec![HEAD_KEY.into()],
        ))
        .await?;
    let Some(r) = r else { return Ok(None) };
    let v: String = r.try_get_by_index(0)?;
    let parsed = v
        .split_once(':')
        .and_then(|(pos, hash)| Some((pos.parse::<i64>().ok()?, hash.to_string())));
    parsed
        .map(Some)
        .ok_or_else(|| DbErr::Custom(format!("{HEAD_KEY} is malformed: {v}")))
}

/// Seals up to `batch` unsealed rows in sequence order, in one transaction. Returns how many it sealed.
/// Run by the scheduled `audit.seal` job; safe to run concurrently (a lock on PostgreSQL, the write lock
/// on SQLite, and a unique chain position behind both).
///
/// # Errors
/// Database errors.
pub async fn seal(db: &Db, clock: &dyn Clock, batch: u64) -> Result<u64, DbErr> {
    let backend = db.get_database_backend();
    let txn = begin_write(db).await?;
    if backend == DatabaseBackend::Postgres {
        txn.execute_unprepared("SELECT pg_advisory_xact_lock(7336003600)")
            .await?;
    }
    let (mut pos, mut prev) = head(&txn).await?.unwrap_or((0, GENESIS.to_string()));
    let rows = txn
        .query_all_raw(stmt(
            backend,
            "SELECT * FROM audit_log WHERE hash IS NULL ORDER BY seq LIMIT $1",
            vec![i64::try_from(batch).unwrap_or(i64::MAX).into()],
        ))
        .await?;
    let now = clock.now();
    let mut sealed = 0;
    for r in rows {
        let row = model::Model::from_query_result(&r, "")?;
        pos += 1;
        let hash = row_hash(&prev, &row);
        txn.execute_raw(stmt(
            backend,
            "UPDATE audit_log SET chain_pos = $1, prev_hash = $2, hash = $3, sealed_at = $4 \
             WHERE seq = $5 AND hash IS NULL",
            vec![
                pos.into(),
                prev.clone().into(),
                hash.clone().into(),
                now.into(),
                row.seq.into(),
            ],
        ))
        .await?;
        prev = hash;
        sealed += 1;
    }
    if sealed > 0 {
        txn.execute_raw(stmt(
            backend,
            "INSERT INTO system_kv (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            vec![HEAD_KEY.into(), format!("{pos}:{prev}").into(), now.into()],
        ))
        .await?;
    }
    txn.commit().await?;
    Ok(sealed)
}

/// Seals everything that is waiting, batch by batch.
///
/// # Errors
/// Database errors.
pub async fn seal_all(db: &Db, clock: &dyn Clock) -> Result<u64, DbErr> {
    let mut total = 0;
    loop {
        let n = seal(db, clock, 1000).await?;
        total += n;
        if n == 0 {
            return Ok(total);
        }
    }
}

/// The first row where the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenRow {
    pub seq: Option<i64>,
    pub id: Option<Uuid>,
    pub chain_pos: i64,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    pub sealed_checked: u64,
    pub unsealed: u64,
    pub first_broken: Option<BrokenRow>,
}

/// Recomputes the whole chain in chain order.
///
/// # Errors
/// Database errors (a broken chain is a report, not an error).
pub async fn verify(db: &Db) -> Result<VerifyReport, DbErr> {
    let backend = db.get_database_backend();
    let mut prev = GENESIS.to_string();
    let mut expected_pos: i64 = 1;
    let mut checked = 0;
    let mut first_broken = None;
    'walk: loop {
        let rows = db
            .query_all_raw(stmt(
                backend,
                "SELECT * FROM audit_log WHERE chain_pos >= $1 ORDER BY chain_pos LIMIT 1000",
                vec![expected_pos.into()],
            ))
            .await?;
        if rows.is_empty() {
            break;
        }
        for r in rows {
            let row = model::Model::from_query_result(&r, "")?;
            let pos = row.chain_pos.unwrap_or(-1);
            let broken = |reason: String| BrokenRow {
                seq: Some(row.seq),
                id: Some(row.id),
                chain_pos: pos,
                reason,
            };
            if pos != expected_pos {
                first_broken = Some(broken(format!(
                    "chain position {expected_pos} is missing (row deleted?); next row found is at {pos}"
                )));
                break 'walk;
            }
            if row.prev_hash.as_deref() != Some(prev.as_str()) {
                first_broken = Some(broken("prev_hash does not match the previous row".into()));
                break 'walk;
            }
            let computed = row_hash(&prev, &row);
            if row.hash.as_deref() != Some(computed.as_str()) {
                first_broken = Some(broken(
                    "row content does not match its hash (edited after sealing)".into(),
                ));
                break 'walk;
            }
            prev = computed;
            expected_pos += 1;
            checked += 1;
        }
    }
    let last_pos = expected_pos - 1;
    if first_broken.is_none() {
        // Rows with a hash but no chain position were sealed and then tampered with.
        let stray = db
            .query_one_raw(stmt(
                backend,
                "SELECT seq, id FROM audit_log WHERE chain_pos IS NULL AND (hash IS NOT NULL OR prev_hash IS NOT NULL) ORDER BY seq LIMIT 1",
                vec![],
            ))
            .await?;
        if let Some(r) = stray {
            first_broken = Some(BrokenRow {
                seq: r.try_get_by_index(0).ok(),
                id: r.try_get_by_index(1).ok(),
                chain_pos: -1,
                reason: "row carries a hash but no chain position".into(),
            });
        }
    }
    if first_broken.is_none() {
        match head(db).await? {
            Some((hpos, hhash)) if hpos != last_pos || hhash != prev => {
                first_broken = Some(BrokenRow {
                    seq: None,
                    id: None,
                    chain_pos: hpos,
                    reason: format!(
                        "the chain ends at position {last_pos} but its recorded head is {hpos} (newest sealed rows deleted?)"
                    ),
                });
            }
            None if last_pos > 0 => {
                first_broken = Some(BrokenRow {
                    seq: None,
                    id: None,
                    chain_pos: last_pos,
                    reason: "the chain head record is missing".into(),
                });
            }
            _ => {}
        }
    }
    let unsealed = db
        .query_one_raw(stmt(
            backend,
            "SELECT COUNT(*) FROM audit_log WHERE hash IS NULL AND chain_pos IS NULL",
            vec![],
        ))
        .await?
        .map(|r| r.try_get_by_index::<i64>(0))
        .transpose()?
        .unwrap_or(0);
    Ok(VerifyReport {
        sealed_checked: checked,
        unsealed: u64::try_from(unsealed).unwrap_or(0),
        first_broken,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> model::Model {
        model::Model {
            seq: 1,
            id: Uuid::nil(),
            occurred_at: DateTime::parse_from_rfc3339("2026-11-26T10:00:00.123456Z")
                .unwrap()
                .with_timezone(&Utc),
            actor_id: None,
            actor_label: Some("system".into()),
            action: "login".into(),
            object_type: None,
            object_id: None,
            hospital_id: None,
            ip: None,
            details: "{}".into(),
            chain_pos: None,
            prev_hash: None,
            hash: None,
            sealed_at: None,
        }
    }

    #[test]
    fn the_hash_covers_content_and_the_previous_hash() {
        let r = row();
        let h = row_hash(GENESIS, &r);
        assert_eq!(h.len(), 64);
        assert_eq!(h, row_hash(GENESIS, &r));
        assert_ne!(h, row_hash("other", &r));
        let mut edited = r.clone();
        edited.action = "logout".into();
        assert_ne!(h, row_hash(GENESIS, &edited));
        let mut shifted = r.clone();
        shifted.actor_label = Some("sys".into());
        shifted.action = "temlogin".into();
        assert_ne!(h, row_hash(GENESIS, &shifted));
    }
}
