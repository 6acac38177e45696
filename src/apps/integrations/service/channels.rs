//! The other ways in: bulk JSON, HL7 v2 (HTTP and MLLP) and FHIR R4. Each turns its input into
//! [`NewEvent`]s and hands them to [`intake::store`], so deduplication, the job and the audit row are the
//! same whichever way an event arrives.

use serde_json::{Value, json};
use uuid::Uuid;

use super::intake::{self, NewEvent};
use crate::apps::integrations::fhir::{self, Issue};
use crate::apps::integrations::hl7::{self, AckCode, Hl7Problem};
use crate::apps::integrations::model::{FHIR, HL7V2};
use crate::apps::integrations::wire::{BulkItem, BulkResult, EventAccepted, EventIn};
use crate::apps::organizations;
use crate::platform::error::{AppError, AppResult};
use crate::platform::ids::new_id;
use crate::platform::limits::BULK_MAX_ITEMS;
use crate::platform::rbac::Principal;
use crate::platform::state::AppState;

/// `bulk_create`: every item on its own (one bad item does not refuse the others).
///
/// # Errors
/// 403 without intake permission, 413 over 1,000 items, 429 over the rate; per-item problems are in
/// the result.
pub async fn accept_bulk(
    state: &AppState,
    p: &Principal,
    items: Vec<Value>,
) -> AppResult<BulkResult> {
    intake::require_intake(p)?;
    if items.len() > BULK_MAX_ITEMS {
        return Err(AppError::PayloadTooLarge(format!(
            "A bulk request holds at most {BULK_MAX_ITEMS} events; this one has {}.",
            items.len()
        )));
    }
    intake::check_rate(state, p, items.len().max(1))?;
    let mut results = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let one = async {
            let i: EventIn = crate::platform::json::parse(item.to_string().as_bytes())?;
            let (ev, code) = intake::from_json(i)?;
            let hospital = intake::resolve_hospital(state, p, code.as_deref()).await?;
            intake::store(&state.db, state, Some(p), hospital, ev).await
        }
        .await;
        results.push(match one {
            Ok(a) => BulkItem {
                index,
                status: if a.duplicate { 200 } else { 201 },
                id: Some(a.id),
                errors: json!({}),
            },
            Err(AppError::Internal(e)) => return Err(AppError::Internal(e)),
            Err(e) => BulkItem {
                index,
                status: 400,
                id: None,
                errors: e.body(),
            },
        });
    }
    Ok(BulkResult { results })
}

/// Who sent an HL7 message: an API caller, or the MLLP listener (trusted network, no principal).
pub enum Hl7Caller<'a> {
    Api(&'a Principal),
    Mllp,
}

async fn hl7_hospital(
    state: &AppState,
    caller: &Hl7Caller<'_>,
    explicit: Option<&str>,
    receiving_facility: &str,
) -> AppResult<Uuid> {
    // MSH-6 names the hospital when it is one of our hospital codes (and nothing more specific was said).
    let facility = if receiving_facility.is_empty() {
        None
    } else {
        organizations::hospital_by_code(&state.db, receiving_facility)
            .await?
            .map(|_| receiving_facility)
    };
    match caller {
        Hl7Caller::Api(p) => {
            let code = explicit.or(if p.api_key_hospital.is_none() {
                facility
            } else {
                None
            });
            intake::resolve_hospital(state, p, code).await
        }
        Hl7Caller::Mllp => {
            let code = explicit.or(facility);
            match code {
                Some(c) => organizations::hospital_by_code(&state.db, c)
                    .await?
                    .ok_or_else(|| {
                        AppError::field("hospital_code", format!("Unknown hospital code \"{c}\"."))
                    }),
                None => organizations::sole_hospital(&state.db)
                    .await?
                    .ok_or_else(|| {
                        AppError::field("hospital_code", "MSH-6 must name the hospital code.")
                    }),
            }
        }
    }
}

async fn hospital_tz(state: &AppState, hospital: Uuid) -> chrono_tz::Tz {
    match organizations::hospital_settings(&state.db, hospital).await {
        Ok(s) => s.timezone.parse().unwrap_or(chrono_tz::Asia::Riyadh),
        Err(_) => chrono_tz::Asia::Riyadh,
    }
}

/// One HL7 v2 message in, its ACK out. A message that cannot be read, or lacks what PX360 needs, is
/// stored FAILED with its error (when its hospital is known) and answered AR / AE; nothing else changes.
///
/// # Errors
/// 403 / 429 for the API caller (before the message is looked at); database errors.
pub async fn accept_hl7(
    state: &AppState,
    caller: Hl7Caller<'_>,
    raw: &str,
    hospital_code: Option<&str>,
) -> AppResult<String> {
    if let Hl7Caller::Api(p) = &caller {
        intake::require_intake(p)?;
        intake::check_rate(state, p, 1)?;
    }
    let header = hl7::header(raw);
    let now = state.clock.now();
    let ack_id = new_id().simple().to_string();
    let reply = |code: AckCode, text: &str| hl7::ack(&header, code, text, now, &ack_id);
    let hospital =
        match hl7_hospital(state, &caller, hospital_code, &header.receiving_facility).await {
            Ok(h) => h,
            Err(AppError::Internal(e)) => return Err(AppError::Internal(e)),
            Err(AppError::Forbidden(m)) => return Err(AppError::Forbidden(m)),
            Err(e) => {
                let why = match &e {
                    AppError::Validation(f) => {
                        f.0.values()
                            .flatten()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(" ")
                    }
                    other => other.to_string(),
                };
                return Ok(reply(AckCode::Reject, &format!("hospital unknown: {why}")));
            }
        };
    let principal = match &caller {
        Hl7Caller::Api(p) => Some(*p),
        Hl7Caller::Mllp => None,
    };
    match hl7::parse(raw) {
        Ok(e) => {
            let occurred_at = match e.occurred_at {
                Some(t) => t.resolve(hospital_tz(state, hospital).await),
                None => None,
            };
            let ev = NewEvent {
                source_system: e.sending_application.clone(),
                event_code: e.message_type.clone(),
                external_id: Some(e.control_id.chars().take(200).collect()),
                format: HL7V2,
                encounter_id: e
                    .visit_number
                    .clone()
                    .unwrap_or_default()
                    .chars()
                    .take(100)
                    .collect(),
                patient_identifier: e.mrn.clone().map(|m| m.chars().take(100).collect()),
                occurred_at,
                payload: e.payload(raw),
                hash_basis: raw.to_string(),
                failed: None,
            };
            let a = intake::store(&state.db, state, principal, hospital, ev).await?;
            let text = if a.duplicate {
                format!("duplicate of event {}", a.id)
            } else {
                format!("accepted as event {}", a.id)
            };
            Ok(reply(AckCode::Accept, &text))
        }
        Err(problem) => {
            let code = match problem {
                Hl7Problem::Reject(_) => AckCode::Reject,
                Hl7Problem::Error(_) => AckCode::Error,
            };
            let source = if header.sending_application.is_empty() {
                "unknown".to_string()
            } else {
                header.sending_application.chars().take(64).collect()
            };
            let ev = NewEvent {
                source_system: source,
                event_code: if header.message_type.is_empty() {
                    "UNKNOWN".into()
                } else {
                    header.message_type.chars().take(100).collect()
                },
                external_id: (!header.control_id.is_empty())
                    .then(|| header.control_id.chars().take(200).collect()),
                format: HL7V2,
                encounter_id: String::new(),
                patient_identifier: None,
                occurred_at: None,
                payload: json!({"raw": raw, "error": problem.message()}),
                hash_basis: raw.to_string(),
                failed: Some(problem.message().to_string()),
            };
            let a = intake::store(&state.db, state, principal, hospital, ev).await?;
            tracing::warn!(target: "integrations", event = %a.id, error = problem.message(), "HL7 message refused");
            Ok(reply(
                code,
                &format!("{} (stored as event {})", problem.message(), a.id),
            ))
        }
    }
}

/// A FHIR R4 Encounter or Bundle of them; all or nothing on validation.
///
/// # Errors
/// `Err(Ok(issues))` for an invalid resource (answered 400 OperationOutcome); `Err(Err(e))` for the
/// usual API errors (403, 429, hospital resolution, database).
pub async fn accept_fhir(
    state: &AppState,
    p: &Principal,
    body: &Value,
    source_system: Option<&str>,
    hospital_code: Option<&str>,
) -> Result<Vec<EventAccepted>, Result<Vec<Issue>, AppError>> {
    intake::require_intake(p).map_err(Err)?;
    let encounters = fhir::encounters(body).map_err(Ok)?;
    intake::check_rate(state, p, encounters.len()).map_err(Err)?;
    let hospital = intake::resolve_hospital(state, p, hospital_code)
        .await
        .map_err(Err)?;
    let mut out = vec![];
    for e in encounters {
        let source = source_system
            .map(str::to_string)
            .or(e.source_system.clone())
            .unwrap_or_else(|| "fhir".into());
        let ev = NewEvent {
            source_system: source.chars().take(64).collect(),
            event_code: e.event_code.clone(),
            external_id: Some(e.external_id.chars().take(200).collect()),
            format: FHIR,
            encounter_id: e.encounter_id.chars().take(100).collect(),
            patient_identifier: e.mrn.clone(),
            occurred_at: e.occurred_at,
            payload: json!({
                "resource": e.resource,
                "physician_license": e.physician_license,
                "department_code": e.department_code,
            }),
            hash_basis: e.resource.to_string(),
            failed: None,
        };
        out.push(
            intake::store(&state.db, state, Some(p), hospital, ev)
                .await
                .map_err(Err)?,
        );
    }
    Ok(out)
}
