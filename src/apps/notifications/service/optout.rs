//! Patient opt-out: a link in every patient message (`/o/<token>`, the token stored only as its
//! SHA-256), a STOP reply through a gateway's inbound webhook, or staff ticking "opted out" on the
//! patient record. Every later [`super::send`] to that patient is logged `SKIPPED` / `OPTED_OUT`, and a
//! message already queued is skipped at delivery.

use base64::Engine;
use rand::Rng;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set,
};
use serde_json::json;
use uuid::Uuid;

use crate::apps::notifications::model::optout_token;
use crate::apps::organizations;
use crate::platform::audit::{self, Actor, AuditEntry};
use crate::platform::auth::sha256_hex;
use crate::platform::clock::Clock;
use crate::platform::error::AppResult;
use crate::platform::ids::new_id;

/// 12 random bytes → 16 URL-safe characters (96 bits): short enough for a two-segment Arabic SMS.
fn token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::rng().random::<[u8; 12]>())
}

/// Creates an opt-out token for one message and returns its public link.
///
/// # Errors
/// Database errors.
pub async fn issue<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn crate::platform::clock::Clock,
    patient: Uuid,
    hospital: Option<Uuid>,
    log: Uuid,
) -> AppResult<String> {
    let t = token();
    optout_token::ActiveModel {
        id: Set(new_id()),
        token_hash: Set(sha256_hex(&t)),
        patient_id: Set(patient),
        hospital_id: Set(hospital),
        log_id: Set(Some(log)),
        used_at: Set(None),
        created_at: Set(clock.now()),
    }
    .insert(conn)
    .await?;
    Ok(format!("{}/o/{t}", super::public_url()))
}

/// The token row of a link, if the token is real. Used by the public page before confirming.
///
/// # Errors
/// Database errors.
pub async fn lookup<C: ConnectionTrait>(
    conn: &C,
    token: &str,
) -> AppResult<Option<optout_token::Model>> {
    if token.is_empty() || token.len() > 64 {
        return Ok(None);
    }
    Ok(optout_token::Entity::find()
        .filter(optout_token::Column::TokenHash.eq(sha256_hex(token)))
        .one(conn)
        .await?)
}

/// Opts the link's patient out; `false` when the token matches nothing. Repeating it is harmless.
///
/// # Errors
/// Database errors.
pub async fn opt_out_by_token<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    token: &str,
    ip: Option<String>,
) -> AppResult<bool> {
    let Some(row) = lookup(conn, token).await? else {
        return Ok(false);
    };
    let changed = organizations::set_patient_opt_out(conn, clock, row.patient_id, true).await?;
    if row.used_at.is_none() {
        let mut a = row.clone().into_active_model();
        a.used_at = Set(Some(clock.now()));
        a.update(conn).await?;
    }
    if changed {
        record(
            conn,
            clock,
            row.patient_id,
            row.hospital_id,
            "LINK",
            Actor {
                user_id: None,
                label: "patient (opt-out link)".into(),
                ip,
            },
        )
        .await?;
    }
    Ok(true)
}

/// Words that opt a sender out when they are the whole reply (case and surrounding space ignored).
pub const STOP_WORDS: &[&str] = &[
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "إيقاف",
    "ايقاف",
    "الغاء",
    "إلغاء",
    "توقف",
];

pub fn is_stop(text: &str) -> bool {
    let t = text.trim().trim_matches(|c: char| c.is_ascii_punctuation());
    STOP_WORDS.iter().any(|w| w.eq_ignore_ascii_case(t))
}

/// Opts out every patient with this phone number; returns how many changed.
///
/// # Errors
/// Database errors.
pub async fn opt_out_by_phone<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    phone: &str,
    gateway: &str,
) -> AppResult<usize> {
    let mut n = 0;
    for p in organizations::patients_by_phone(conn, phone).await? {
        if organizations::set_patient_opt_out(conn, clock, p, true).await? {
            let hospital = organizations::patient_contact(conn, p)
                .await?
                .map(|c| c.hospital);
            record(
                conn,
                clock,
                p,
                hospital,
                "STOP_REPLY",
                Actor {
                    user_id: None,
                    label: format!("gateway:{gateway}"),
                    ip: None,
                },
            )
            .await?;
            n += 1;
        }
    }
    Ok(n)
}

async fn record<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    patient: Uuid,
    hospital: Option<Uuid>,
    via: &str,
    actor: Actor,
) -> AppResult<()> {
    audit::record(
        conn,
        clock,
        &actor,
        AuditEntry::new("patient.opted_out")
            .object("patient", patient)
            .hospital(hospital)
            .details(json!({ "via": via })),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_short_and_url_safe() {
        let t = token();
        assert_eq!(t.len(), 16);
        assert!(
            t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(t, token());
    }

    #[test]
    fn stop_words_in_english_and_arabic() {
        for w in ["STOP", " stop ", "Stop.", "إيقاف", "الغاء"] {
            assert!(is_stop(w), "{w}");
        }
        for w in ["please stop calling me later", "yes", ""] {
            assert!(!is_stop(w), "{w}");
        }
    }
}
