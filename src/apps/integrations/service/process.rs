//! Processing one inbound event: the job `integrations.process_event`, one per event, enqueued in the
//! intake transaction (SPEC rule 3). Its status is mirrored onto the event row: PROCESSING while the
//! job runs, then PROCESSED or IGNORED (with the reason), FAILED between retries, DEAD after the last
//! attempt. Effects are idempotent: the job may run again after a crash (a stage is completed once, and
//! only once by a given event, backed by unique constraints).

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait,
    IntoActiveModel, QueryFilter, QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::apps::integrations::model::{
    DEAD, FAILED, HL7V2, IGNORED, JSON, PROCESSED, PROCESSING, config, event_mapping, inbound_event,
};
use crate::apps::journeys::{self, CreateSpec, StageEvent, StageOutcome};
use crate::apps::organizations::{self, Demographics, MergeOutcome};
use crate::platform::audit::{self, Actor, AuditEntry};
use crate::platform::clock::Clock;
use crate::platform::db::stmt;
use crate::platform::error::{AppError, AppResult};
use crate::platform::events;
use crate::platform::jobs::{JobContext, JobError};

pub const PROCESS_KIND: &str = "integrations.process_event";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessPayload {
    pub event: Uuid,
    pub max_attempts: i32,
}

/// What processing decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub status: &'static str,
    pub result: String,
    pub mapped_event_code: Option<String>,
    pub journey_instance: Option<Uuid>,
    pub stage_instance: Option<Uuid>,
}

impl Decision {
    fn ignored(reason: impl Into<String>) -> Self {
        Self {
            status: IGNORED,
            result: reason.into(),
            mapped_event_code: None,
            journey_instance: None,
            stage_instance: None,
        }
    }
}

/// Processing acts as the system on behalf of the sending interface.
fn actor(ev: &inbound_event::Model) -> Actor {
    Actor {
        user_id: None,
        label: format!("integration:{}", ev.source_system),
        ip: None,
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn demographics(payload: &Value) -> Demographics {
    let p = payload.get("patient").cloned().unwrap_or(Value::Null);
    Demographics {
        first_name: text(&p, "given_name"),
        last_name: text(&p, "family_name"),
        date_of_birth: text(&p, "date_of_birth")
            .and_then(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()),
        gender: text(&p, "gender"),
        phone: text(&p, "phone"),
    }
}

/// HL7 messages that act on the patient or the encounter themselves (not through a stage).
async fn hl7_action<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    ev: &inbound_event::Model,
) -> AppResult<Option<String>> {
    let who = actor(ev);
    let mrn = ev.patient_identifier.clone().unwrap_or_default();
    match ev.event_code.as_str() {
        "ADT^A08" => {
            let d = demographics(&ev.payload_json);
            Ok(Some(
                match organizations::update_demographics(
                    conn,
                    clock,
                    &who,
                    ev.hospital_id,
                    &mrn,
                    &d,
                )
                .await?
                {
                    Some((_, changed)) if changed.is_empty() => {
                        "patient demographics already up to date".to_string()
                    }
                    Some((_, changed)) => {
                        format!("patient demographics updated: {}", changed.join(", "))
                    }
                    None => format!("no patient with MRN {mrn} to update"),
                },
            ))
        }
        "ADT^A40" => {
            let prior = text(&ev.payload_json, "prior_mrn").unwrap_or_default();
            Ok(Some(
                match organizations::merge_patients(conn, clock, &who, ev.hospital_id, &mrn, &prior)
                    .await?
                {
                    MergeOutcome::Merged { surviving, merged } => {
                        let moved =
                            journeys::move_patient_journeys(conn, clock, merged, surviving).await?;
                        format!("patient {prior} merged into {mrn}; {moved} journey(s) moved")
                    }
                    MergeOutcome::Renamed { .. } => {
                        format!("patient {prior} now carries MRN {mrn}")
                    }
                    MergeOutcome::NothingToMerge => format!("no patient {prior} to merge"),
                },
            ))
        }
        "ADT^A11" | "ADT^A13" => {
            let instance =
                journeys::instance_of_encounter(conn, ev.hospital_id, &ev.encounter_id).await?;
            events::publish(
                conn,
                clock,
                events::EncounterCancelled {
                    hospital: ev.hospital_id,
                    encounter_id: ev.encounter_id.clone(),
                    journey_instance: instance,
                },
            )
            .await?;
            Ok(Some(format!(
                "encounter {} cancelled ({})",
                ev.encounter_id, ev.event_code
            )))
        }
        _ => Ok(None),
    }
}

/// Decides and applies one event inside `txn` (SPEC rule 3).
///
/// # Errors
/// A processing error (configuration missing, database): the caller rolls back and retries.
pub async fn apply(
    txn: &DatabaseTransaction,
    clock: &dyn Clock,
    ev: &inbound_event::Model,
) -> AppResult<Decision> {
    let cfg = config::Entity::find()
        .filter(config::Column::HospitalId.eq(ev.hospital_id))
        .filter(config::Column::SourceSystem.eq(ev.source_system.as_str()))
        .filter(config::Column::DeletedAt.is_null())
        .one(txn)
        .await?;
    if let Some(c) = &cfg
        && !c.active
    {
        return Ok(Decision::ignored(format!(
            "integration {} is switched off",
            ev.source_system
        )));
    }
    if ev.format == HL7V2 && ev.payload_json.get("message_type").is_none() {
        return Err(AppError::Unprocessable(format!(
            "malformed HL7 message: {}",
            ev.error.clone().unwrap_or_else(|| "cannot be read".into())
        )));
    }
    let action = if ev.format == HL7V2 {
        hl7_action(txn, clock, ev).await?
    } else {
        None
    };
    let mapping = event_mapping::Entity::find()
        .filter(event_mapping::Column::HospitalId.eq(ev.hospital_id))
        .filter(event_mapping::Column::SourceSystem.eq(ev.source_system.as_str()))
        .filter(event_mapping::Column::ExternalCode.eq(ev.event_code.as_str()))
        .filter(event_mapping::Column::Active.eq(true))
        .filter(event_mapping::Column::DeletedAt.is_null())
        .one(txn)
        .await?;
    let done_or_ignored = |reason: String| match &action {
        Some(a) => Decision {
            status: PROCESSED,
            result: format!("{a}; {reason}"),
            mapped_event_code: None,
            journey_instance: None,
            stage_instance: None,
        },
        None => Decision::ignored(reason),
    };
    let passthrough = ev.format == JSON && !cfg.as_ref().is_some_and(|c| c.require_mapping);
    let (code, create) = match &mapping {
        Some(m) => (
            m.event_code.clone(),
            m.create_instance.then(|| m.journey_type.clone()).flatten(),
        ),
        None if passthrough => (ev.event_code.clone(), None),
        None => {
            return Ok(done_or_ignored(format!(
                "no event mapping for {} from {}",
                ev.event_code, ev.source_system
            )));
        }
    };
    if ev.encounter_id.is_empty() {
        return Ok(done_or_ignored("the event names no encounter".into()));
    }
    let payload = &ev.payload_json;
    let mut notes = vec![];
    let (mut physician, mut department) = (None, None);
    if let Some(license) = text(payload, "physician_license") {
        match organizations::physician_by_license(txn, ev.hospital_id, &license).await? {
            Some((id, dept)) => {
                physician = Some(id);
                department = dept;
            }
            None => notes.push(format!("physician licence {license} not found")),
        }
    }
    if let Some(dcode) = text(payload, "department_code") {
        match organizations::department_by_code(txn, ev.hospital_id, &dcode).await? {
            Some(d) => department = Some(d),
            None => notes.push(format!("department code {dcode} not found")),
        }
    }
    let create_if_missing = match (&create, ev.patient_identifier.as_deref()) {
        (Some(jt), Some(mrn)) => {
            let (patient, _) = organizations::ensure_patient(
                txn,
                clock,
                &actor(ev),
                ev.hospital_id,
                mrn,
                &demographics(payload),
            )
            .await?;
            Some(CreateSpec {
                journey_type: jt.clone(),
                patient,
            })
        }
        _ => None,
    };
    let outcome = journeys::complete_stage_for_event(
        txn,
        clock,
        &actor(ev),
        &StageEvent {
            hospital: ev.hospital_id,
            encounter_id: ev.encounter_id.clone(),
            event_code: code.clone(),
            occurred_at: ev.occurred_at,
            physician,
            department,
            inbound_event: Some(ev.id),
            create_if_missing,
        },
    )
    .await?;
    let suffix = if notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", notes.join("; "))
    };
    let mut d = match outcome {
        StageOutcome::Completed {
            journey_instance,
            stage_instance,
            stage_code,
            instance_created,
            journey_completed,
        } => Decision {
            status: PROCESSED,
            result: format!(
                "{}completed stage {stage_code} of encounter {}{}{suffix}",
                if instance_created {
                    "started the journey and "
                } else {
                    ""
                },
                ev.encounter_id,
                if journey_completed {
                    "; the journey is complete"
                } else {
                    ""
                },
            ),
            mapped_event_code: None,
            journey_instance: Some(journey_instance),
            stage_instance: Some(stage_instance),
        },
        StageOutcome::AlreadyApplied {
            journey_instance,
            stage_instance,
        } => Decision {
            status: PROCESSED,
            result: "already applied".into(),
            mapped_event_code: None,
            journey_instance: Some(journey_instance),
            stage_instance: Some(stage_instance),
        },
        StageOutcome::NoInstance => {
            let why = if create.is_some() {
                format!(
                    "no journey for encounter {} and no patient_identifier to start one",
                    ev.encounter_id
                )
            } else {
                format!(
                    "no journey for encounter {} in this hospital",
                    ev.encounter_id
                )
            };
            done_or_ignored(why)
        }
        StageOutcome::NoMatchingStage {
            journey_instance,
            reason,
        } => {
            let mut d = done_or_ignored(reason);
            d.journey_instance = Some(journey_instance);
            d
        }
    };
    if d.status == PROCESSED
        && let Some(a) = &action
        && !d.result.starts_with(a.as_str())
    {
        d.result = format!("{a}; {}", d.result);
    }
    d.mapped_event_code = Some(code);
    Ok(d)
}

async fn mark<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    job: Uuid,
    sql_set: &str,
    values: Vec<sea_orm::Value>,
) -> Result<u64, sea_orm::DbErr> {
    let n = values.len();
    let mut v = values;
    v.push(id.into());
    v.push(job.into());
    let sql = format!(
        "UPDATE inbound_events SET {sql_set} WHERE id = ${} AND job_id = ${}",
        n + 1,
        n + 2
    );
    Ok(conn
        .execute_raw(stmt(conn.get_database_backend(), &sql, v))
        .await?
        .rows_affected())
}

/// The job handler.
///
/// # Errors
/// [`JobError::Retry`] on a processing error (mirrored as FAILED, or DEAD on the last attempt);
/// [`JobError::Permanent`] for a payload that is not ours.
pub async fn run(ctx: &JobContext) -> Result<(), JobError> {
    let p: ProcessPayload = ctx.payload()?;
    let clock = ctx.clock.as_ref();
    let now = clock.now();
    // Visible while the job runs; a job superseded by a reprocess (another job id) does nothing.
    let claimed = mark(
        &ctx.db,
        p.event,
        ctx.job_id,
        "status = $1, attempts = $2, updated_at = $3",
        vec![PROCESSING.into(), ctx.attempt.into(), now.into()],
    )
    .await?;
    if claimed == 0 {
        tracing::info!(target: "integrations", event = %p.event, job = %ctx.job_id, "event is not this job's to process");
        return Ok(());
    }
    let txn = ctx.begin().await?;
    let ev = inbound_event::Entity::find_by_id(p.event)
        .lock_exclusive()
        .one(&txn)
        .await?;
    let Some(ev) = ev else {
        txn.rollback().await?;
        return Err(JobError::Permanent(anyhow::anyhow!(
            "inbound event {} does not exist",
            p.event
        )));
    };
    if ev.status == PROCESSED || ev.status == IGNORED || ev.job_id != Some(ctx.job_id) {
        return ctx.complete(txn).await;
    }
    match apply(&txn, clock, &ev).await {
        Ok(d) => {
            let now = clock.now();
            let mut am = ev.clone().into_active_model();
            am.status = Set(d.status.into());
            am.result = Set(Some(d.result.clone()));
            am.error = Set(None);
            am.processed_at = Set(Some(now));
            am.attempts = Set(ctx.attempt);
            am.mapped_event_code = Set(d.mapped_event_code.clone());
            am.journey_instance_id = Set(d.journey_instance);
            am.stage_instance_id = Set(d.stage_instance);
            am.updated_at = Set(now);
            am.update(&txn).await?;
            audit::record(
                &txn,
                clock,
                &actor(&ev),
                AuditEntry::new(if d.status == PROCESSED {
                    "inbound_event.processed"
                } else {
                    "inbound_event.ignored"
                })
                .object("inbound_event", ev.id)
                .hospital(Some(ev.hospital_id))
                .details(json!({
                    "result": d.result, "mapped_event_code": d.mapped_event_code,
                    "stage_instance": d.stage_instance, "attempt": ctx.attempt,
                })),
            )
            .await?;
            ctx.complete(txn).await?;
            tracing::info!(
                target: "integrations",
                event = %ev.id, status = d.status, result = %d.result, attempt = ctx.attempt,
                "inbound event processed"
            );
            Ok(())
        }
        Err(e) => {
            txn.rollback().await?;
            let dead = ctx.attempt >= p.max_attempts;
            let status = if dead { DEAD } else { FAILED };
            let msg = match &e {
                AppError::Internal(inner) => format!("{inner:#}"),
                AppError::Unprocessable(m) => m.clone(),
                other => format!("{other}: {}", other.body()),
            };
            let now = clock.now();
            let recorded = async {
                let txn = ctx.begin().await?;
                mark(
                    &txn,
                    ev.id,
                    ctx.job_id,
                    "status = $1, error = $2, attempts = $3, updated_at = $4",
                    vec![
                        status.into(),
                        msg.clone().into(),
                        ctx.attempt.into(),
                        now.into(),
                    ],
                )
                .await?;
                audit::record(
                    &txn,
                    clock,
                    &actor(&ev),
                    AuditEntry::new("inbound_event.failed")
                        .object("inbound_event", ev.id)
                        .hospital(Some(ev.hospital_id))
                        .details(json!({"error": msg, "attempt": ctx.attempt, "dead": dead})),
                )
                .await?;
                txn.commit().await
            }
            .await;
            if let Err(db) = recorded {
                tracing::error!(target: "integrations", event = %ev.id, error = %db, "could not record the failure");
            }
            tracing::warn!(
                target: "integrations",
                event = %ev.id, status, attempt = ctx.attempt, error = %msg,
                "inbound event failed"
            );
            Err(JobError::Retry(anyhow::anyhow!("{msg}")))
        }
    }
}
