//! Intake: every channel (JSON, bulk, HL7 v2 over HTTP or MLLP, FHIR) ends here. An event is answered
//! only after its row, its processing job and its audit row are committed together (SPEC rule 4 for
//! deduplication; ARCHITECTURE "Durability rules").

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder,
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::process::{PROCESS_KIND, ProcessPayload};
use crate::apps::integrations::model::{FAILED, JSON, PENDING, inbound_event};
use crate::apps::integrations::wire::{EventAccepted, EventIn};
use crate::apps::organizations;
use crate::platform::audit::{self, Actor, AuditEntry};
use crate::platform::db::{Db, begin_write, stmt};
use crate::platform::error::{AppError, AppResult, FieldErrors};
use crate::platform::ids::new_id;
use crate::platform::jobs::{self, NewJob};
use crate::platform::rbac::{Operation, Principal, Reach, Resource};
use crate::platform::state::AppState;

/// Events without an external id are duplicates of an identical payload received this recently.
pub const HASH_WINDOW_HOURS: i64 = 24;

/// A validated event, ready to store.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub source_system: String,
    pub event_code: String,
    pub external_id: Option<String>,
    /// JSON, HL7V2 or FHIR
    pub format: &'static str,
    pub encounter_id: String,
    pub patient_identifier: Option<String>,
    pub occurred_at: Option<DateTime<Utc>>,
    pub payload: Value,
    /// The bytes whose SHA-256 is the payload hash (the canonical event, or the raw message).
    pub hash_basis: String,
    /// Stored FAILED with this error and no processing job (a malformed message is kept for the record).
    pub failed: Option<String>,
}

/// SHA-256 hex.
pub fn hash(basis: &str) -> String {
    hex::encode(Sha256::digest(basis.as_bytes()))
}

fn limited(
    e: &mut FieldErrors,
    field: &str,
    v: Option<String>,
    max: usize,
    required: bool,
) -> Option<String> {
    match v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) {
        Some(s) if s.chars().count() > max => {
            e.add(
                field,
                format!("Ensure this field has no more than {max} characters."),
            );
            None
        }
        Some(s) => Some(s),
        None if required => {
            e.add(field, "This field is required.");
            None
        }
        None => None,
    }
}

/// Validates a JSON event body; returns the event and the hospital code it names (top level, or inside
/// `payload_json` for clients of the original contract).
///
/// # Errors
/// 400 with every invalid field.
pub fn from_json(i: EventIn) -> AppResult<(NewEvent, Option<String>)> {
    let mut e = FieldErrors::new();
    let source_system = limited(&mut e, "source_system", i.source_system.clone(), 64, true);
    let event_code = limited(&mut e, "event_code", i.event_code.clone(), 100, true);
    let encounter_id = limited(&mut e, "encounter_id", i.encounter_id.clone(), 100, true);
    let patient_identifier = limited(
        &mut e,
        "patient_identifier",
        i.patient_identifier.clone(),
        100,
        false,
    );
    let external_id = limited(&mut e, "external_id", i.external_id.clone(), 200, false);
    let occurred_at = match i.occurred_at.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => match DateTime::parse_from_rfc3339(s) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(_) => {
                e.add(
                    "occurred_at",
                    "Datetime has wrong format. Use RFC 3339, e.g. 2026-01-05T09:30:00Z.",
                );
                None
            }
        },
        _ => None,
    };
    let payload = match &i.payload_json {
        None | Some(Value::Null) => json!({}),
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => {
            e.add("payload_json", "Must be a JSON object.");
            json!({})
        }
    };
    let hospital_code = i
        .hospital_code
        .clone()
        .or_else(|| {
            payload
                .get("hospital_code")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    e.into_result()?;
    // The canonical event (sorted keys) without the hospital code, which does not change what happened.
    let basis = json!({
        "source_system": source_system, "event_code": event_code, "encounter_id": encounter_id,
        "patient_identifier": patient_identifier, "occurred_at": i.occurred_at, "payload_json": payload,
    })
    .to_string();
    Ok((
        NewEvent {
            source_system: source_system.unwrap_or_default(),
            event_code: event_code.unwrap_or_default(),
            external_id,
            format: JSON,
            encounter_id: encounter_id.unwrap_or_default(),
            patient_identifier,
            occurred_at,
            payload,
            hash_basis: basis,
            failed: None,
        },
        hospital_code,
    ))
}

/// 403 unless the caller may send events at all.
///
/// # Errors
/// [`AppError::Forbidden`].
pub fn require_intake(p: &Principal) -> AppResult<()> {
    p.require(Resource::Integrations, Operation::Create)
}

/// Takes `n` events from the caller's intake allowance (per API key's service account, or per user).
///
/// # Errors
/// 429 with Retry-After.
pub fn check_rate(state: &AppState, p: &Principal, n: usize) -> AppResult<()> {
    let key = match p.api_key_hospital {
        Some(_) => format!("key:{}", p.user_id),
        None => format!("user:{}", p.user_id),
    };
    state
        .limiters
        .intake
        .check(&key, u32::try_from(n).unwrap_or(u32::MAX))
}

/// Which hospital an event belongs to: the API key's hospital; otherwise the hospital code given;
/// otherwise the only hospital there is.
///
/// # Errors
/// 403 for another hospital's code with a hospital-scoped key, or a hospital out of the caller's reach;
/// 400 on `hospital_code` for an unknown code, or when none is given and there is more than one hospital.
pub async fn resolve_hospital(
    state: &AppState,
    p: &Principal,
    hospital_code: Option<&str>,
) -> AppResult<Uuid> {
    let by_code = match hospital_code {
        Some(code) => Some(
            organizations::hospital_by_code(&state.db, code)
                .await?
                .ok_or_else(|| {
                    AppError::field(
                        "hospital_code",
                        format!("Unknown hospital code \"{code}\"."),
                    )
                })?,
        ),
        None => None,
    };
    let hospital = match (p.api_key_hospital, by_code) {
        (Some(key), Some(h)) if key != h => {
            return Err(AppError::Forbidden(
                "This API key belongs to another hospital; it cannot send that hospital's events."
                    .into(),
            ));
        }
        (Some(key), _) => key,
        (None, Some(h)) => h,
        (None, None) => organizations::sole_hospital(&state.db).await?.ok_or_else(|| {
            AppError::field(
                "hospital_code",
                "This field is required when there is more than one hospital (or use a hospital-scoped API key).",
            )
        })?,
    };
    if !p.reaches(
        Resource::Integrations,
        Operation::Create,
        Reach::hospital(hospital),
    ) {
        return Err(AppError::Forbidden(
            "You may not send events for this hospital.".into(),
        ));
    }
    Ok(hospital)
}

fn actor_for(p: Option<&Principal>) -> Actor {
    p.map(Actor::of).unwrap_or_else(|| Actor {
        user_id: None,
        label: "integrations:mllp".into(),
        ip: None,
    })
}

/// A PostgreSQL advisory lock key for one (hospital, source, payload hash), so two identical events
/// without an external id arriving at once cannot both be stored (SQLite serialises writers anyway).
pub(crate) fn lock_key(hospital: Uuid, source: &str, payload_hash: &str) -> i64 {
    let d = Sha256::digest(format!("{hospital}|{source}|{payload_hash}").as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    i64::from_be_bytes(b)
}

pub(crate) async fn existing<C: ConnectionTrait>(
    conn: &C,
    hospital: Uuid,
    ev: &NewEvent,
    payload_hash: &str,
    now: DateTime<Utc>,
) -> AppResult<Option<inbound_event::Model>> {
    let mut q = inbound_event::Entity::find()
        .filter(inbound_event::Column::HospitalId.eq(hospital))
        .filter(inbound_event::Column::SourceSystem.eq(ev.source_system.as_str()));
    q = match &ev.external_id {
        Some(x) => q.filter(inbound_event::Column::ExternalId.eq(x.as_str())),
        None => q
            .filter(inbound_event::Column::ExternalId.is_null())
            .filter(inbound_event::Column::PayloadHash.eq(payload_hash))
            .filter(
                inbound_event::Column::ReceivedAt.gte(now - Duration::hours(HASH_WINDOW_HOURS)),
            ),
    };
    Ok(q.order_by_asc(inbound_event::Column::ReceivedAt)
        .one(conn)
        .await?)
}

/// Stores one event with its processing job and audit row in one transaction; a duplicate stores
/// nothing and answers the first event.
///
/// # Errors
/// Database errors (nothing is stored then).
pub async fn store(
    db: &Db,
    state: &AppState,
    p: Option<&Principal>,
    hospital: Uuid,
    ev: NewEvent,
) -> AppResult<EventAccepted> {
    store_as(db, state, &actor_for(p), hospital, ev).await
}

/// [`store`] on behalf of `actor` (the intake batcher's per-event fallback).
///
/// # Errors
/// Database errors (nothing is stored then).
pub async fn store_as(
    db: &Db,
    state: &AppState,
    actor: &Actor,
    hospital: Uuid,
    ev: NewEvent,
) -> AppResult<EventAccepted> {
    let now = state.clock.now();
    let payload_hash = hash(&ev.hash_basis);
    let id = new_id();
    let txn = begin_write(db).await?;
    if ev.external_id.is_none() {
        if txn.get_database_backend() == DatabaseBackend::Postgres {
            txn.execute_raw(stmt(
                DatabaseBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1)",
                vec![lock_key(hospital, &ev.source_system, &payload_hash).into()],
            ))
            .await?;
        }
        if let Some(first) = existing(&txn, hospital, &ev, &payload_hash, now).await? {
            txn.rollback().await?;
            return Ok(duplicate(first));
        }
    }
    let max_attempts = state.config.integration_max_attempts;
    let job_id = match ev.failed {
        Some(_) => None,
        None => {
            jobs::enqueue(
                &txn,
                state.clock.as_ref(),
                NewJob::new(
                    PROCESS_KIND,
                    ProcessPayload {
                        event: id,
                        max_attempts,
                    },
                )
                .max_attempts(max_attempts),
            )
            .await?
        }
    };
    let status = if ev.failed.is_some() { FAILED } else { PENDING };
    let row = inbound_event::Model {
        id,
        hospital_id: hospital,
        source_system: ev.source_system.clone(),
        event_code: ev.event_code.clone(),
        external_id: ev.external_id.clone(),
        format: ev.format.to_string(),
        payload_json: ev.payload.clone(),
        payload_hash: payload_hash.clone(),
        encounter_id: ev.encounter_id.clone(),
        patient_identifier: ev.patient_identifier.clone(),
        occurred_at: ev.occurred_at.unwrap_or(now),
        received_at: now,
        processed_at: None,
        status: status.into(),
        attempts: 0,
        result: None,
        error: ev.failed.clone(),
        mapped_event_code: None,
        journey_instance_id: None,
        stage_instance_id: None,
        job_id,
        created_at: now,
        updated_at: now,
    };
    let inserted = inbound_event::Entity::insert(row.into_active_model())
        .on_conflict(
            OnConflict::columns([
                inbound_event::Column::HospitalId,
                inbound_event::Column::SourceSystem,
                inbound_event::Column::ExternalId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    if inserted == 0 {
        // The same external id was stored first (possibly a moment ago by a concurrent request).
        txn.rollback().await?;
        let first = existing(db, hospital, &ev, &payload_hash, now)
            .await?
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("duplicate event vanished")))?;
        return Ok(duplicate(first));
    }
    audit::record(
        &txn,
        state.clock.as_ref(),
        actor,
        AuditEntry::new("inbound_event.received")
            .object("inbound_event", id)
            .hospital(Some(hospital))
            .details(json!({
                "source_system": ev.source_system, "event_code": ev.event_code, "format": ev.format,
                "external_id": ev.external_id, "encounter_id": ev.encounter_id, "status": status,
                "error": ev.failed,
            })),
    )
    .await?;
    txn.commit().await?;
    tracing::info!(
        target: "integrations",
        event = %id, hospital = %hospital, source_system = %ev.source_system,
        event_code = %ev.event_code, format = ev.format, status,
        "inbound event stored"
    );
    Ok(EventAccepted {
        id,
        status: status.into(),
        duplicate: false,
    })
}

pub(crate) fn duplicate(first: inbound_event::Model) -> EventAccepted {
    tracing::info!(
        target: "integrations",
        event = %first.id, source_system = %first.source_system, "duplicate inbound event answered with the first"
    );
    EventAccepted {
        id: first.id,
        status: first.status,
        duplicate: true,
    }
}

/// One JSON event end to end: permission, rate, validation, hospital, then the group-committed store
/// (see [`super::batcher`]): answered once committed together with the events of concurrent requests.
///
/// # Errors
/// 400/403/429 as described on the helpers; database errors.
pub async fn accept_json(state: &AppState, p: &Principal, i: EventIn) -> AppResult<EventAccepted> {
    require_intake(p)?;
    check_rate(state, p, 1)?;
    let (ev, code) = from_json(i)?;
    let hospital = resolve_hospital(state, p, code.as_deref()).await?;
    state.intake.submit(state, Actor::of(p), hospital, ev).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body() -> EventIn {
        EventIn {
            source_system: Some("his".into()),
            event_code: Some("OPD_VISIT_COMPLETED".into()),
            encounter_id: Some("ENC1".into()),
            payload_json: Some(json!({"physician_license": "PHY001", "hospital_code": "HH-RUH"})),
            ..Default::default()
        }
    }

    #[test]
    fn missing_fields_are_reported_each_on_its_own_field() {
        let e = from_json(EventIn::default()).unwrap_err();
        let b = e.body();
        for f in ["source_system", "event_code", "encounter_id"] {
            assert_eq!(b[f][0], "This field is required.", "{f}");
        }
    }

    #[test]
    fn the_hospital_code_may_sit_inside_the_payload() {
        let (_, code) = from_json(body()).unwrap();
        assert_eq!(code.as_deref(), Some("HH-RUH"));
        let mut top = body();
        top.hospital_code = Some("HH-JED".into());
        assert_eq!(from_json(top).unwrap().1.as_deref(), Some("HH-JED"));
    }

    #[test]
    fn identical_events_hash_alike_whatever_the_key_order_or_hospital_code() {
        let (a, _) = from_json(body()).unwrap();
        let mut other = body();
        other.hospital_code = Some("HH-RUH".into());
        other.payload_json = Some(
            serde_json::from_str(r#"{"hospital_code": "HH-RUH", "physician_license": "PHY001"}"#)
                .unwrap(),
        );
        let (b, _) = from_json(other).unwrap();
        assert_eq!(hash(&a.hash_basis), hash(&b.hash_basis));
        let mut changed = body();
        changed.encounter_id = Some("ENC2".into());
        assert_ne!(
            hash(&a.hash_basis),
            hash(&from_json(changed).unwrap().0.hash_basis)
        );
    }

    #[test]
    fn bad_times_and_payloads_are_refused() {
        let mut b = body();
        b.occurred_at = Some("yesterday".into());
        b.payload_json = Some(json!([1, 2]));
        let e = from_json(b).unwrap_err().body();
        assert!(e.get("occurred_at").is_some() && e.get("payload_json").is_some());
    }
}
