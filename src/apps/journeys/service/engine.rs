//! The journey engine (SPEC.md rule 3): an inbound event completes the FIRST stage, in stage order,
//! whose trigger equals the event's (mapped) code and that is not yet COMPLETED. The rule itself is the
//! pure [`pick_stage`]; [`complete_stage_for_event`] applies it inside the caller's transaction.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::audit;
use crate::apps::journeys::model::{
    ACTIVE, CANCELLED, COMPLETED, PENDING, SKIPPED, instance, stage_instance, stage_template,
    template,
};
use crate::platform::audit::Actor;
use crate::platform::clock::Clock;
use crate::platform::error::{AppError, AppResult};
use crate::platform::events::{self, StageCompleted};
use crate::platform::ids::new_id;

/// One stage as the rule sees it: its order, trigger and current status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageView<'a> {
    pub order: i32,
    pub trigger: &'a str,
    pub status: &'a str,
}

/// Why no stage matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoMatch {
    /// No stage of the journey is triggered by this code.
    NoTrigger,
    /// Every stage triggered by this code is already completed.
    AllCompleted,
}

impl NoMatch {
    pub fn reason(&self, code: &str) -> String {
        match self {
            NoMatch::NoTrigger => format!("no stage of the journey is triggered by {code}"),
            NoMatch::AllCompleted => {
                format!("every stage triggered by {code} is already completed")
            }
        }
    }
}

/// SPEC rule 3: the index (into `stages`) of the first stage in order whose trigger equals `code` and
/// that is not COMPLETED. Ties in order keep the given sequence.
///
/// # Errors
/// Why nothing matched.
pub fn pick_stage(stages: &[StageView<'_>], code: &str) -> Result<usize, NoMatch> {
    let mut idx: Vec<usize> = (0..stages.len()).collect();
    idx.sort_by_key(|i| stages[*i].order);
    let mut any = false;
    for i in idx {
        let s = &stages[i];
        if s.trigger != code {
            continue;
        }
        any = true;
        if s.status != COMPLETED {
            return Ok(i);
        }
    }
    Err(if any {
        NoMatch::AllCompleted
    } else {
        NoMatch::NoTrigger
    })
}

/// Whether every required stage is done (completed or skipped), so the journey itself is complete.
pub fn journey_done(stages: &[(bool, &str)]) -> bool {
    !stages.is_empty()
        && stages
            .iter()
            .all(|(optional, status)| *optional || *status == COMPLETED || *status == SKIPPED)
}

/// Create the instance when the encounter has none (a mapping's create-on-first-event flag).
#[derive(Debug, Clone)]
pub struct CreateSpec {
    pub journey_type: String,
    pub patient: Uuid,
}

/// An inbound event as the engine needs it.
#[derive(Debug, Clone)]
pub struct StageEvent {
    pub hospital: Uuid,
    pub encounter_id: String,
    /// The mapped (internal) event code.
    pub event_code: String,
    pub occurred_at: DateTime<Utc>,
    pub physician: Option<Uuid>,
    pub department: Option<Uuid>,
    /// The inbound event; a stage completed by it is never completed again by it.
    pub inbound_event: Option<Uuid>,
    pub create_if_missing: Option<CreateSpec>,
}

/// What an event did to the journey.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StageOutcome {
    Completed {
        journey_instance: Uuid,
        stage_instance: Uuid,
        stage_code: String,
        instance_created: bool,
        journey_completed: bool,
    },
    /// This very event completed a stage before (a re-run after a crash): nothing more to do.
    AlreadyApplied {
        journey_instance: Uuid,
        stage_instance: Uuid,
    },
    /// The hospital has no journey for the encounter (and no mapping asked to create one).
    NoInstance,
    NoMatchingStage {
        journey_instance: Uuid,
        reason: String,
    },
}

/// The stage templates of a template, in order (live ones only).
pub(crate) async fn template_stages<C: ConnectionTrait>(
    conn: &C,
    template: Uuid,
) -> AppResult<Vec<stage_template::Model>> {
    Ok(stage_template::Entity::find()
        .filter(stage_template::Column::JourneyTemplateId.eq(template))
        .filter(stage_template::Column::DeletedAt.is_null())
        .order_by_asc(stage_template::Column::StageOrder)
        .order_by_asc(stage_template::Column::Id)
        .all(conn)
        .await?)
}

/// The stage instances of an instance with their templates, in stage order.
pub(crate) async fn instance_stages<C: ConnectionTrait>(
    conn: &C,
    instance: Uuid,
) -> AppResult<Vec<(stage_instance::Model, stage_template::Model)>> {
    let rows = stage_instance::Entity::find()
        .filter(stage_instance::Column::JourneyInstanceId.eq(instance))
        .order_by_asc(stage_instance::Column::StageOrder)
        .order_by_asc(stage_instance::Column::Id)
        .all(conn)
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.stage_template_id).collect();
    let templates = stage_template::Entity::find()
        .filter(stage_template::Column::Id.is_in(ids))
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|s| {
            let t = templates
                .iter()
                .find(|t| t.id == s.stage_template_id)?
                .clone();
            Some((s, t))
        })
        .collect())
}

/// Creates an instance and one PENDING stage instance per live stage template (SPEC rule 2), audited.
pub(crate) async fn create_instance<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    actor: &Actor,
    template: &template::Model,
    patient: Uuid,
    encounter_id: &str,
) -> AppResult<instance::Model> {
    let now = clock.now();
    let inst = instance::Model {
        id: new_id(),
        hospital_id: template.hospital_id,
        journey_template_id: template.id,
        patient_id: patient,
        encounter_id: encounter_id.to_string(),
        status: ACTIVE.into(),
        started_at: now,
        completed_at: None,
        created_at: now,
        updated_at: now,
    };
    let saved = inst.into_active_model().reset_all().insert(conn).await?;
    let stages = template_stages(conn, template.id).await?;
    let rows: Vec<stage_instance::ActiveModel> = stages
        .iter()
        .map(|st| {
            stage_instance::Model {
                id: new_id(),
                journey_instance_id: saved.id,
                stage_template_id: st.id,
                hospital_id: saved.hospital_id,
                stage_order: st.stage_order,
                status: PENDING.into(),
                completed_at: None,
                physician_id: None,
                department_id: None,
                inbound_event_id: None,
                note: String::new(),
                created_at: now,
                updated_at: now,
            }
            .into_active_model()
            .reset_all()
        })
        .collect();
    if !rows.is_empty() {
        stage_instance::Entity::insert_many(rows)
            .exec_without_returning(conn)
            .await?;
    }
    audit(
        conn,
        clock,
        actor,
        "journey_instance.created",
        saved.id,
        saved.hospital_id,
        json!({"encounter_id": encounter_id, "journey_template": template.id, "stages": stages.len()}),
    )
    .await?;
    Ok(saved)
}

/// The hospital's active template of a journey type.
pub(crate) async fn active_template<C: ConnectionTrait>(
    conn: &C,
    hospital: Uuid,
    journey_type: &str,
) -> AppResult<Option<template::Model>> {
    Ok(template::Entity::find()
        .filter(template::Column::HospitalId.eq(hospital))
        .filter(template::Column::JourneyType.eq(journey_type))
        .filter(template::Column::Active.eq(true))
        .filter(template::Column::DeletedAt.is_null())
        .one(conn)
        .await?)
}

/// Applies SPEC rule 3 for one event inside `conn` (the caller's transaction): find the encounter's
/// journey (creating it when asked and the hospital has an active template of that type), complete the
/// first matching stage, audit it and publish [`StageCompleted`] — all or nothing with the caller.
///
/// # Errors
/// 422 when the journey must be created but the hospital has no active template of that type (a
/// configuration error an operator can fix, after which the event can be reprocessed); database errors.
pub async fn complete_stage_for_event<C: ConnectionTrait>(
    conn: &C,
    clock: &dyn Clock,
    actor: &Actor,
    ev: &StageEvent,
) -> AppResult<StageOutcome> {
    if let Some(event) = ev.inbound_event
        && let Some(done) = stage_instance::Entity::find()
            .filter(stage_instance::Column::InboundEventId.eq(event))
            .one(conn)
            .await?
    {
        return Ok(StageOutcome::AlreadyApplied {
            journey_instance: done.journey_instance_id,
            stage_instance: done.id,
        });
    }
    // The row lock (PostgreSQL; SQLite writers are serialised anyway) makes events of one encounter
    // apply one after another, so two of them never pick the same stage.
    let found = instance::Entity::find()
        .filter(instance::Column::HospitalId.eq(ev.hospital))
        .filter(instance::Column::EncounterId.eq(ev.encounter_id.as_str()))
        .lock_exclusive()
        .one(conn)
        .await?;
    let (inst, created) = match (found, &ev.create_if_missing) {
        (Some(i), _) => (i, false),
        (None, None) => return Ok(StageOutcome::NoInstance),
        (None, Some(spec)) => {
            let Some(t) = active_template(conn, ev.hospital, &spec.journey_type).await? else {
                return Err(AppError::Unprocessable(format!(
                    "no active {} journey template in this hospital to start encounter {}",
                    spec.journey_type, ev.encounter_id
                )));
            };
            let i = create_instance(conn, clock, actor, &t, spec.patient, &ev.encounter_id).await?;
            (i, true)
        }
    };
    if inst.status == CANCELLED {
        return Ok(StageOutcome::NoMatchingStage {
            journey_instance: inst.id,
            reason: format!(
                "the journey of encounter {} is cancelled",
                inst.encounter_id
            ),
        });
    }
    let stages = instance_stages(conn, inst.id).await?;
    let views: Vec<StageView<'_>> = stages
        .iter()
        .map(|(s, t)| StageView {
            order: s.stage_order,
            trigger: &t.trigger_event_code,
            status: &s.status,
        })
        .collect();
    let picked = match pick_stage(&views, &ev.event_code) {
        Ok(i) => i,
        Err(why) => {
            return Ok(StageOutcome::NoMatchingStage {
                journey_instance: inst.id,
                reason: why.reason(&ev.event_code),
            });
        }
    };
    let (stage, st) = &stages[picked];
    let now = clock.now();
    let mut am = stage.clone().into_active_model();
    am.status = Set(COMPLETED.into());
    am.completed_at = Set(Some(ev.occurred_at));
    am.physician_id = Set(ev.physician.or(stage.physician_id));
    am.department_id = Set(ev.department.or(stage.department_id));
    am.inbound_event_id = Set(ev.inbound_event);
    am.updated_at = Set(now);
    am.update(conn).await?;

    let statuses: Vec<(bool, &str)> = stages
        .iter()
        .enumerate()
        .map(|(i, (s, t))| {
            (
                t.optional,
                if i == picked {
                    COMPLETED
                } else {
                    s.status.as_str()
                },
            )
        })
        .collect();
    let journey_completed = inst.status == ACTIVE && journey_done(&statuses);
    if journey_completed {
        let mut ia = inst.clone().into_active_model();
        ia.status = Set(COMPLETED.into());
        ia.completed_at = Set(Some(ev.occurred_at));
        ia.updated_at = Set(now);
        ia.update(conn).await?;
    }
    audit(
        conn,
        clock,
        actor,
        "journey_stage.completed",
        stage.id,
        inst.hospital_id,
        json!({
            "journey_instance": inst.id, "stage_code": st.code, "event_code": ev.event_code,
            "inbound_event": ev.inbound_event, "physician": ev.physician, "department": ev.department,
            "completed_at": ev.occurred_at, "journey_completed": journey_completed,
        }),
    )
    .await?;
    // Surveys subscribe to this event (SPEC rule 3: the stage survey is created from it).
    events::publish(
        conn,
        clock,
        StageCompleted {
            hospital: inst.hospital_id,
            journey_instance: inst.id,
            stage_instance: stage.id,
            patient: inst.patient_id,
            stage_code: st.code.clone(),
            inbound_event: ev.inbound_event,
        },
    )
    .await?;
    Ok(StageOutcome::Completed {
        journey_instance: inst.id,
        stage_instance: stage.id,
        stage_code: st.code.clone(),
        instance_created: created,
        journey_completed,
    })
}

/// The instance of an encounter, if the hospital has one.
///
/// # Errors
/// Database errors.
pub async fn instance_for_encounter<C: ConnectionTrait>(
    conn: &C,
    hospital: Uuid,
    encounter_id: &str,
) -> AppResult<Option<instance::Model>> {
    Ok(instance::Entity::find()
        .filter(instance::Column::HospitalId.eq(hospital))
        .filter(instance::Column::EncounterId.eq(encounter_id))
        .one(conn)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v<'a>(order: i32, trigger: &'a str, status: &'a str) -> StageView<'a> {
        StageView {
            order,
            trigger,
            status,
        }
    }

    #[test]
    fn the_first_pending_stage_in_order_with_the_trigger_is_picked() {
        let stages = [
            v(3, "LAB_ORDER_COMPLETED", PENDING),
            v(1, "OPD_VISIT_COMPLETED", PENDING),
            v(2, "LAB_ORDER_COMPLETED", PENDING),
        ];
        assert_eq!(pick_stage(&stages, "OPD_VISIT_COMPLETED"), Ok(1));
        assert_eq!(pick_stage(&stages, "LAB_ORDER_COMPLETED"), Ok(2));
    }

    #[test]
    fn completed_stages_are_passed_over_and_skipped_ones_are_not() {
        let stages = [
            v(1, "LAB", COMPLETED),
            v(2, "LAB", SKIPPED),
            v(3, "LAB", PENDING),
        ];
        // SPEC rule 3 says "not COMPLETED": a skipped stage that then happens is completed after all.
        assert_eq!(pick_stage(&stages, "LAB"), Ok(1));
    }

    #[test]
    fn no_match_says_why() {
        let stages = [v(1, "LAB", COMPLETED)];
        assert_eq!(pick_stage(&stages, "LAB"), Err(NoMatch::AllCompleted));
        assert_eq!(pick_stage(&stages, "RAD"), Err(NoMatch::NoTrigger));
        assert_eq!(pick_stage(&[], "RAD"), Err(NoMatch::NoTrigger));
        assert!(
            NoMatch::AllCompleted
                .reason("LAB")
                .contains("already completed")
        );
    }

    #[test]
    fn a_journey_is_done_when_every_required_stage_is_completed_or_skipped() {
        assert!(journey_done(&[
            (false, COMPLETED),
            (false, SKIPPED),
            (true, PENDING)
        ]));
        assert!(!journey_done(&[(false, COMPLETED), (false, PENDING)]));
        assert!(!journey_done(&[]));
    }
}
