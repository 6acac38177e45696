//! The signing secret and the field-encryption key.
//!
//! In production both come from the environment (config refuses to start without them). In dev a random
//! secret is generated once and kept in the database, so tokens and sessions survive restarts without any
//! setup, and the encryption key is derived from it.

use rand::Rng;
use sea_orm::{ConnectionTrait, DbErr};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::platform::clock::Clock;
use crate::platform::db::{Db, stmt};
use crate::platform::secret::Secret;

const DEV_SECRET_KEY: &str = "dev_secret_key";

pub struct Keys {
    pub secret: Secret<String>,
    pub encryption: Secret<[u8; 32]>,
}

/// # Errors
/// Database errors while reading or storing the dev secret.
pub async fn resolve(config: &Config, db: &Db, clock: &dyn Clock) -> Result<Keys, DbErr> {
    let secret = match &config.secret_key {
        Some(s) => s.clone(),
        None => Secret::new(dev_secret(db, clock).await?),
    };
    let encryption = match &config.encryption_key {
        Some(k) => k.clone(),
        None => Secret::new(derive(secret.expose(), "px360-field-encryption")),
    };
    Ok(Keys { secret, encryption })
}

/// A 32-byte key derived from the secret for one purpose, so purposes never share a key.
pub fn derive(secret: &str, purpose: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(purpose.as_bytes());
    h.update(b"\0");
    h.update(secret.as_bytes());
    h.finalize().into()
}

async fn dev_secret(db: &Db, clock: &dyn Clock) -> Result<String, DbErr> {
    let backend = db.get_database_backend();
    let fresh: String = hex::encode(rand::rng().random::<[u8; 32]>());
    // Insert-if-absent, then read: two processes starting together agree on one value.
    db.execute_raw(stmt(
        backend,
        "INSERT INTO system_kv (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING",
        vec![DEV_SECRET_KEY.into(), fresh.into(), clock.now().into()],
    ))
    .await?;
    let row = db
        .query_one_raw(stmt(
            backend,
            "SELECT value FROM system_kv WHERE key = $1",
            vec![DEV_SECRET_KEY.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(DEV_SECRET_KEY.into()))?;
    row.try_get_by_index(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn derived_keys_differ_by_purpose() {
        assert_ne!(super::derive("s", "a"), super::derive("s", "b"));
        assert_eq!(super::derive("s", "a"), super::derive("s", "a"));
    }
}
