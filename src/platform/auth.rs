//! Authentication for `/api/`: a JWT access token (`Authorization: Bearer …`) or an integration API key
//! (`X-API-Key: …`). Never the UI session cookie, so the API needs no CSRF protection.
//!
//! The [`Auth`] extractor turns either into a [`Principal`] with its role assignments resolved to their
//! reach, loaded fresh on every request so that a removed role or a deactivated user takes effect at once.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use sea_orm::{ConnectionTrait, DbErr};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::platform::db::stmt;
use crate::platform::error::{AppError, AppResult};
use crate::platform::keys;
use crate::platform::rbac::{Grant, Principal, Role};
use crate::platform::state::AppState;

pub const ACCESS_TTL_MINUTES: i64 = 15;
pub const REFRESH_TTL_DAYS: i64 = 7;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub sub: Uuid,
    pub jti: Uuid,
    /// `access` or `refresh`
    pub typ: String,
    /// Refresh-token family (rotation chain); absent on access tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fam: Option<Uuid>,
    pub iat: i64,
    pub exp: i64,
}

fn jwt_key(state: &AppState) -> [u8; 32] {
    keys::derive(state.keys.secret.expose(), "px360-jwt")
}

/// Signs `claims` with the deployment's JWT key (HS256).
///
/// # Errors
/// Signing failures (not expected with a valid key).
pub fn encode(state: &AppState, claims: &Claims) -> AppResult<String> {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(&jwt_key(state)),
    )
    .map_err(|e| AppError::Internal(anyhow::anyhow!("signing a token: {e}")))
}

/// Verifies signature, type and expiry against the injected clock.
///
/// # Errors
/// 401 for any invalid, expired or wrong-type token.
pub fn decode(state: &AppState, token: &str, typ: &str) -> AppResult<Claims> {
    let mut v = Validation::new(Algorithm::HS256);
    // Expiry is checked below against the injected clock, not the system clock.
    v.validate_exp = false;
    v.required_spec_claims = ["exp", "sub"].iter().map(|s| s.to_string()).collect();
    let data =
        jsonwebtoken::decode::<Claims>(token, &DecodingKey::from_secret(&jwt_key(state)), &v)
            .map_err(|_| invalid_token())?;
    let c = data.claims;
    if c.typ != typ || c.exp <= state.clock.now().timestamp() {
        return Err(invalid_token());
    }
    Ok(c)
}

pub fn invalid_token() -> AppError {
    AppError::Unauthorized("Given token not valid for any token type".into())
}

pub fn access_claims(user: Uuid, now: DateTime<Utc>) -> Claims {
    Claims {
        sub: user,
        jti: Uuid::now_v7(),
        typ: "access".into(),
        fam: None,
        iat: now.timestamp(),
        exp: (now + Duration::minutes(ACCESS_TTL_MINUTES)).timestamp(),
    }
}

/// SHA-256 hex of a high-entropy secret (API keys, one-time tokens). Such secrets need no slow hash.
pub fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// The authenticated caller of an API request.
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let ip = client_ip(parts);
        if let Some(h) = parts.headers.get(axum::http::header::AUTHORIZATION) {
            let v = h.to_str().map_err(|_| invalid_token())?;
            let token = v.strip_prefix("Bearer ").ok_or_else(|| {
                AppError::Unauthorized("Use 'Authorization: Bearer <access token>'.".into())
            })?;
            let claims = decode(state, token.trim(), "access")?;
            return Ok(Auth(load_principal(&state.db, claims.sub, None, ip).await?));
        }
        if let Some(h) = parts.headers.get("x-api-key") {
            let key = h
                .to_str()
                .map_err(|_| invalid_api_key())?
                .trim()
                .to_string();
            return Ok(Auth(principal_for_api_key(state, &key, ip).await?));
        }
        Err(AppError::Unauthorized(
            "Authentication credentials were not provided.".into(),
        ))
    }
}

/// The client address: the socket peer (a proxy in front must be trusted to set X-Forwarded-For,
/// which we only read when the peer is loopback).
pub fn client_ip(parts: &Parts) -> Option<String> {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if peer.is_some_and(|p| p.is_loopback())
        && let Some(xff) = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
        && let Some(first) = xff.split(',').next()
    {
        return Some(first.trim().to_string());
    }
    peer.map(|p| p.to_string())
}

fn invalid_api_key() -> AppError {
    AppError::Unauthorized("Invalid API key.".into())
}

/// API keys look like `px_<prefix>_<secret>`; the prefix finds the row, the hash of the whole key is compared.
pub const API_KEY_PREFIX_LEN: usize = 12;

/// How long an authenticated API key's principal is reused without asking the database again. A key
/// revoked (or a service account deactivated, or its roles changed) on another server process stops
/// working within this time; revoking through this process evicts it at once.
pub const API_KEY_CACHE_TTL_MS: i64 = 1_000;
/// Entries beyond this are dropped wholesale (a flood of distinct keys cannot grow memory unbounded).
const API_KEY_CACHE_MAX: usize = 10_000;

/// API key hash → the principal it authenticated and until when that answer may be reused. Busy
/// integrations send hundreds of requests a second with one key; without this each ran four look-ups.
#[derive(Default)]
pub struct ApiKeyCache {
    entries: std::sync::Mutex<std::collections::HashMap<String, (DateTime<Utc>, Principal)>>,
}

impl ApiKeyCache {
    fn get(&self, hash: &str, now: DateTime<Utc>) -> Option<Principal> {
        let guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        guard
            .get(hash)
            .filter(|(until, _)| now < *until)
            .map(|(_, p)| p.clone())
    }

    fn put(&self, hash: String, until: DateTime<Utc>, p: Principal) {
        let mut guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if guard.len() >= API_KEY_CACHE_MAX {
            guard.clear();
        }
        guard.insert(hash, (until, p));
    }

    /// Forgets the key with this stored hash (called when it is revoked).
    pub fn evict(&self, key_hash: &str) {
        let mut guard = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        guard.remove(key_hash);
    }
}

async fn principal_for_api_key(
    state: &AppState,
    key: &str,
    ip: Option<String>,
) -> AppResult<Principal> {
    let prefix = key
        .strip_prefix("px_")
        .and_then(|rest| rest.get(..API_KEY_PREFIX_LEN))
        .ok_or_else(invalid_api_key)?;
    let presented = sha256_hex(key);
    let now = state.clock.now();
    if let Some(mut p) = state.api_keys.get(&presented, now) {
        p.ip = ip;
        return Ok(p);
    }
    let db = &state.db;
    let row = db
        .query_one_raw(stmt(
            db.get_database_backend(),
            "SELECT id, user_id, hospital_id, key_hash, last_used_at FROM api_keys \
             WHERE prefix = $1 AND revoked_at IS NULL",
            vec![prefix.into()],
        ))
        .await?
        .ok_or_else(invalid_api_key)?;
    let id: Uuid = row.try_get_by_index(0)?;
    let user: Uuid = row.try_get_by_index(1)?;
    let hospital: Uuid = row.try_get_by_index(2)?;
    let hash: String = row.try_get_by_index(3)?;
    let last_used: Option<DateTime<Utc>> = row.try_get_by_index(4)?;
    if !constant_time_eq(hash.as_bytes(), presented.as_bytes()) {
        return Err(invalid_api_key());
    }
    // Record use at most once a minute: a busy integration should not turn every read into a write.
    if last_used.is_none_or(|t| now - t > Duration::minutes(1)) {
        db.execute_raw(stmt(
            db.get_database_backend(),
            "UPDATE api_keys SET last_used_at = $1 WHERE id = $2",
            vec![now.into(), id.into()],
        ))
        .await?;
    }
    let p = load_principal(db, user, Some(hospital), None).await?;
    state.api_keys.put(
        presented,
        now + Duration::milliseconds(API_KEY_CACHE_TTL_MS),
        p.clone(),
    );
    Ok(Principal { ip, ..p })
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Loads an active user's assignments and resolves each to its reach.
///
/// # Errors
/// 401 when the user does not exist, is inactive or deleted; database errors.
pub async fn load_principal<C: ConnectionTrait>(
    db: &C,
    user_id: Uuid,
    api_key_hospital: Option<Uuid>,
    ip: Option<String>,
) -> AppResult<Principal> {
    let backend = db.get_database_backend();
    let user = db
        .query_one_raw(stmt(
            backend,
            "SELECT email FROM users WHERE id = $1 AND is_active = $2 AND deleted_at IS NULL",
            vec![user_id.into(), true.into()],
        ))
        .await?
        .ok_or_else(|| AppError::Unauthorized("User not found or inactive.".into()))?;
    let email: String = user.try_get_by_index(0)?;
    let rows = db
        .query_all_raw(stmt(
            backend,
            "SELECT ra.role, ra.hospital_id, ra.department_id, d.path FROM role_assignments ra \
             LEFT JOIN departments d ON d.id = ra.department_id WHERE ra.user_id = $1",
            vec![user_id.into()],
        ))
        .await?;
    let mut grants = vec![];
    for r in rows {
        let code: String = r.try_get_by_index(0)?;
        let Ok(role) = Role::parse(&code) else {
            continue;
        };
        let hospital: Option<Uuid> = r.try_get_by_index(1)?;
        let department: Option<Uuid> = r.try_get_by_index(2)?;
        let path: Option<String> = r.try_get_by_index(3)?;
        let departments = match &path {
            Some(p) => subtree(db, p).await?,
            None => BTreeSet::new(),
        };
        grants.push(Grant {
            role,
            hospital,
            department,
            departments,
        });
    }
    let phys = db
        .query_all_raw(stmt(
            backend,
            "SELECT id FROM physicians WHERE user_id = $1 AND deleted_at IS NULL",
            vec![user_id.into()],
        ))
        .await?;
    let physician_ids = phys
        .iter()
        .map(|r| r.try_get_by_index::<Uuid>(0))
        .collect::<Result<BTreeSet<_>, DbErr>>()?;
    Ok(Principal {
        user_id,
        email,
        grants,
        physician_ids,
        api_key_hospital,
        ip,
    })
}

/// Ids of the department at `path` and all its descendants (soft-deleted ones included, so records of
/// a retired sub-department stay visible to the parent's manager).
async fn subtree<C: ConnectionTrait>(db: &C, path: &str) -> Result<BTreeSet<Uuid>, DbErr> {
    let rows = db
        .query_all_raw(stmt(
            db.get_database_backend(),
            "SELECT id FROM departments WHERE path LIKE $1",
            vec![format!("{path}%").into()],
        ))
        .await?;
    rows.iter().map(|r| r.try_get_by_index::<Uuid>(0)).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn constant_time_comparison_is_correct() {
        assert!(super::constant_time_eq(b"abc", b"abc"));
        assert!(!super::constant_time_eq(b"abc", b"abd"));
        assert!(!super::constant_time_eq(b"abc", b"ab"));
    }
}
