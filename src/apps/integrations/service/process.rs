//! Processing inbound events: the job `integrations.process_event`, one per event, enqueued in the
//! intake transaction (SPEC rule 3), and run in batches ([`run_batch`]). Its outcome is mirrored onto
//! the event row in the processing transaction: PROCESSED or IGNORED (with the reason), FAILED between
//! retries, DEAD after the last attempt (PROCESSING is no longer written: the job's lease guards it). Effects are idempotent: the job may run again after a crash (a stage is completed once, and
//! only once by a given event, backed by unique constraints).

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::apps::integrations::model::{
    DEAD, FAILED, HL7V2, IGNORED, JSON, PROCESSED, config, event_mapping, inbound_event,
};
use crate::apps::journeys::{self, CreateSpec, StageEvent, StageOutcome};
use crate::apps::organizations::{self, Demographics, MergeOutcome};
use crate::platform::audit::{self, Actor, AuditEntry};
use crate::platform::clock::Clock;
use crate::platform::db::stmt;
use crate::platform::error::{AppError, AppResult};
use crate::platform::events;
use crate::platform::jobs::{BatchContext, BatchHandler, JobError};

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

type PhysicianRef = (Uuid, Option<Uuid>);

/// Configuration read while processing, remembered for the rest of a batch's transaction: the events
/// of a batch mostly share their source, codes and departments. Processing never changes these rows.
#[derive(Default)]
pub struct Lookups {
    configs: HashMap<(Uuid, String), Option<config::Model>>,
    mappings: HashMap<(Uuid, String, String), Option<event_mapping::Model>>,
    /// Licence → (physician, their department).
    physicians: HashMap<(Uuid, String), Option<PhysicianRef>>,
    departments: HashMap<(Uuid, String), Option<Uuid>>,
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
    apply_with(txn, clock, ev, &mut Lookups::default()).await
}

/// [`apply`] reusing the look-ups of earlier events of the same batch.
///
/// # Errors
/// As [`apply`].
pub async fn apply_with(
    txn: &DatabaseTransaction,
    clock: &dyn Clock,
    ev: &inbound_event::Model,
    looked: &mut Lookups,
) -> AppResult<Decision> {
    let key = (ev.hospital_id, ev.source_system.clone());
    let cfg = match looked.configs.get(&key) {
        Some(c) => c.clone(),
        None => {
            let c = config::Entity::find()
                .filter(config::Column::HospitalId.eq(ev.hospital_id))
                .filter(config::Column::SourceSystem.eq(ev.source_system.as_str()))
                .filter(config::Column::DeletedAt.is_null())
                .one(txn)
                .await?;
            looked.configs.insert(key, c.clone());
            c
        }
    };
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
    let key = (
        ev.hospital_id,
        ev.source_system.clone(),
        ev.event_code.clone(),
    );
    let mapping = match looked.mappings.get(&key) {
        Some(m) => m.clone(),
        None => {
            let m = event_mapping::Entity::find()
                .filter(event_mapping::Column::HospitalId.eq(ev.hospital_id))
                .filter(event_mapping::Column::SourceSystem.eq(ev.source_system.as_str()))
                .filter(event_mapping::Column::ExternalCode.eq(ev.event_code.as_str()))
                .filter(event_mapping::Column::Active.eq(true))
                .filter(event_mapping::Column::DeletedAt.is_null())
                .one(txn)
                .await?;
            looked.mappings.insert(key, m.clone());
            m
        }
    };
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
        let key = (ev.hospital_id, license.clone());
        let found = match looked.physicians.get(&key) {
            Some(f) => *f,
            None => {
                let f = organizations::physician_by_license(txn, ev.hospital_id, &license).await?;
                looked.physicians.insert(key, f);
                f
            }
        };
        match found {
            Some((id, dept)) => {
                physician = Some(id);
                department = dept;
            }
            None => notes.push(format!("physician licence {license} not found")),
        }
    }
    if let Some(dcode) = text(payload, "department_code") {
        let key = (ev.hospital_id, dcode.clone());
        let found = match looked.departments.get(&key) {
            Some(f) => *f,
            None => {
                let f = organizations::department_by_code(txn, ev.hospital_id, &dcode).await?;
                looked.departments.insert(key, f);
                f
            }
        };
        match found {
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

/// How many events one processing transaction takes at most (the worker claims this many jobs).
pub const BATCH_SIZE: usize = 100;

/// The batch job handler, registered for [`PROCESS_KIND`].
pub struct ProcessBatch;

#[async_trait::async_trait]
impl BatchHandler for ProcessBatch {
    async fn run_batch(&self, ctx: &BatchContext) -> Vec<Result<(), JobError>> {
        run_batch(ctx).await
    }
}

/// What processing one event of a batch came to, before the batch commits.
enum Outcome {
    /// Nothing (more) to do: already final, or superseded by a reprocess (another job id).
    Skip,
    Done,
    Failed(String),
}

/// Processes the claimed events in ONE transaction, in order of hospital, encounter, `occurred_at`,
/// `received_at` (the same order in every batch, so two batches never wait on each other in a cycle).
/// Each event applies inside its own savepoint: a failing event rolls back only its own effects, is
/// marked FAILED (DEAD on its last attempt) with an audit row and retried on its own, while the others
/// complete. Every event gets its outcome audit row; the event rows, audit rows and job completions of
/// the whole batch commit together. No PROCESSING write: the job's lease guards the event while it runs.
pub async fn run_batch(ctx: &BatchContext) -> Vec<Result<(), JobError>> {
    let mut out: Vec<Option<Result<(), JobError>>> = ctx.jobs.iter().map(|_| None).collect();
    let mut want = vec![];
    for (i, j) in ctx.jobs.iter().enumerate() {
        match serde_json::from_value::<ProcessPayload>(j.payload.clone()) {
            Ok(p) => want.push((i, p)),
            Err(e) => {
                out[i] = Some(Err(JobError::Permanent(anyhow::anyhow!(
                    "payload of {PROCESS_KIND} is invalid: {e}"
                ))));
            }
        }
    }
    match process_batch(ctx, &want).await {
        Ok(outcomes) => {
            for (i, o) in outcomes {
                out[i] = Some(match o {
                    Outcome::Skip | Outcome::Done => Ok(()),
                    Outcome::Failed(msg) => Err(JobError::Retry(anyhow::anyhow!("{msg}"))),
                });
            }
        }
        Err(e) => {
            tracing::warn!(target: "integrations", error = %e, jobs = want.len(), "processing batch rolled back; its events will be retried");
            for (i, _) in &want {
                if out[*i].is_none() {
                    out[*i] = Some(Err(JobError::Retry(anyhow::anyhow!("{e}"))));
                }
            }
        }
    }
    out.into_iter()
        .map(|o| o.unwrap_or_else(|| Err(JobError::Retry(anyhow::anyhow!("not processed")))))
        .collect()
}

fn error_text(e: &AppError) -> String {
    match e {
        AppError::Internal(inner) => format!("{inner:#}"),
        AppError::Unprocessable(m) => m.clone(),
        other => format!("{other}: {}", other.body()),
    }
}

async fn process_batch(
    ctx: &BatchContext,
    want: &[(usize, ProcessPayload)],
) -> Result<Vec<(usize, Outcome)>, JobError> {
    let clock = ctx.clock.as_ref();
    let mut outcomes = vec![];
    if want.is_empty() {
        return Ok(outcomes);
    }
    let txn = ctx.begin().await?;
    let ids: Vec<Uuid> = want.iter().map(|(_, p)| p.event).collect();
    let mut by_id: HashMap<Uuid, inbound_event::Model> = HashMap::new();
    for chunk in ids.chunks(500) {
        for ev in inbound_event::Entity::find()
            .filter(inbound_event::Column::Id.is_in(chunk.to_vec()))
            .lock_exclusive()
            .all(&txn)
            .await?
        {
            by_id.insert(ev.id, ev);
        }
    }
    let mut done_jobs = vec![];
    let mut work = vec![];
    for (i, p) in want {
        let job = &ctx.jobs[*i];
        match by_id.remove(&p.event) {
            None => {
                // Not ours to retry: the job names an event that does not exist.
                outcomes.push((*i, Outcome::Skip));
                tracing::error!(target: "integrations", event = %p.event, job = %job.job_id, "inbound event does not exist");
            }
            Some(ev)
                if ev.status == PROCESSED
                    || ev.status == IGNORED
                    || ev.job_id != Some(job.job_id) =>
            {
                tracing::info!(target: "integrations", event = %p.event, job = %job.job_id, "event is not this job's to process");
                done_jobs.push(job.job_id);
                outcomes.push((*i, Outcome::Skip));
            }
            Some(ev) => work.push((*i, p.max_attempts, ev)),
        }
    }
    work.sort_by(|(_, _, a), (_, _, b)| {
        (
            a.hospital_id,
            &a.encounter_id,
            a.occurred_at,
            a.received_at,
            a.id,
        )
            .cmp(&(
                b.hospital_id,
                &b.encounter_id,
                b.occurred_at,
                b.received_at,
                b.id,
            ))
    });
    let mut audits = vec![];
    let mut looked = Lookups::default();
    for (i, max_attempts, ev) in work {
        let job = &ctx.jobs[i];
        let attempt = job.attempt;
        let sp = txn.begin().await?;
        let applied = apply_with(&sp, clock, &ev, &mut looked).await;
        let now = clock.now();
        match applied {
            Ok(d) => {
                sp.commit().await?;
                mark(
                    &txn,
                    ev.id,
                    job.job_id,
                    "status = $1, result = $2, error = NULL, processed_at = $3, attempts = $4, \
                     mapped_event_code = $5, journey_instance_id = $6, stage_instance_id = $7, \
                     updated_at = $3",
                    vec![
                        d.status.into(),
                        d.result.clone().into(),
                        now.into(),
                        attempt.into(),
                        d.mapped_event_code.clone().into(),
                        d.journey_instance.into(),
                        d.stage_instance.into(),
                    ],
                )
                .await?;
                audits.push((
                    actor(&ev),
                    AuditEntry::new(if d.status == PROCESSED {
                        "inbound_event.processed"
                    } else {
                        "inbound_event.ignored"
                    })
                    .object("inbound_event", ev.id)
                    .hospital(Some(ev.hospital_id))
                    .details(json!({
                        "result": d.result, "mapped_event_code": d.mapped_event_code,
                        "stage_instance": d.stage_instance, "attempt": attempt,
                    })),
                ));
                tracing::info!(
                    target: "integrations",
                    event = %ev.id, status = d.status, result = %d.result, attempt,
                    "inbound event processed"
                );
                done_jobs.push(job.job_id);
                outcomes.push((i, Outcome::Done));
            }
            Err(e) => {
                sp.rollback().await?;
                let dead = attempt >= max_attempts;
                let status = if dead { DEAD } else { FAILED };
                let msg = error_text(&e);
                mark(
                    &txn,
                    ev.id,
                    job.job_id,
                    "status = $1, error = $2, attempts = $3, updated_at = $4",
                    vec![
                        status.into(),
                        msg.clone().into(),
                        attempt.into(),
                        now.into(),
                    ],
                )
                .await?;
                audits.push((
                    actor(&ev),
                    AuditEntry::new("inbound_event.failed")
                        .object("inbound_event", ev.id)
                        .hospital(Some(ev.hospital_id))
                        .details(json!({"error": msg, "attempt": attempt, "dead": dead})),
                ));
                tracing::warn!(
                    target: "integrations",
                    event = %ev.id, status, attempt, error = %msg,
                    "inbound event failed"
                );
                outcomes.push((i, Outcome::Failed(msg)));
            }
        }
    }
    audit::record_many(&txn, clock, audits).await?;
    ctx.complete(txn, &done_jobs).await?;
    Ok(outcomes)
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
